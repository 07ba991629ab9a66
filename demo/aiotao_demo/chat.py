"""The demo's chat: a page per room, and its websocket (:mod:`aiotao.chat`).

``/chat`` goes to the lobby; ``/chat/{room}`` is a room's page, whose script
(``static/chat.js``) connects to ``/chat/{room}/socket``.  The page is where
a guest's nickname is made and kept in the session, so the websocket
handshake that follows (with the session cookie) knows it.
"""

from __future__ import annotations

import os
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound

from aiotao.chat import ChatView, Nickname, get_chat_settings, nickname_for
from aiotao.chat.views import DEFAULT_ROOM, room_from

__all__ = ['WorkerChatView', 'chat_home', 'chat_page', 'includeme']


class WorkerChatView(ChatView):
    """The chat, telling each page which worker serves it (the demo shows off workers)."""

    def welcome(self, nick: Nickname) -> dict[str, Any]:
        return {**super().welcome(nick), 'worker': os.getpid()}


async def chat_home(request: Any) -> HTTPFound:
    return HTTPFound(request.route_path('chat', room=DEFAULT_ROOM))


async def chat_page(request: Any) -> dict[str, Any]:
    room = room_from(request)  # 404 for a name that cannot be a room
    nick = await nickname_for(request)
    return {
        'room': room,
        'nick': nick.name,
        'max_length': get_chat_settings(request.registry).max_length,
    }


def includeme(config: Configurator) -> None:
    config.include('aiotao.chat')
    config.add_route('chat_home', '/chat')
    config.add_view(chat_home, route_name='chat_home')
    config.add_route('chat', '/chat/{room}')
    config.add_view(
        chat_page, route_name='chat', renderer='aiotao_demo:templates/chat.jinja2'
    )
    config.add_chat_route('chat_socket', '/chat/{room}/socket', view=WorkerChatView)
