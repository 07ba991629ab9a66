"""The chat test application: ``aiotao.chat`` with sessions and a header identity.

Served in-process (``make_config``) and by real gunicorn workers
(``main``, a PasteDeploy app factory: ``use = call:tests.chat.app:main``).
The welcome message carries the worker's pid, so that a test knows which
worker serves which client.
"""

from __future__ import annotations

import os
from typing import Any

from pyramid.config import Configurator
from pyramid.csrf import get_csrf_token
from pyramid.request import Request
from pyramid.session import SignedCookieSessionFactory

from aiotao.chat import ChatView, Nickname, nickname_for
from aiotao.chat.nicknames import SESSION_KEY


class HeaderSecurityPolicy:
    """The authenticated userid is the ``X-User`` header."""

    def identity(self, request: Request) -> str | None:
        return request.headers.get('X-User')

    def authenticated_userid(self, request: Request) -> str | None:
        return self.identity(request)

    def permits(self, request: Request, context: Any, permission: str) -> bool:
        return True


class PidChatView(ChatView):
    """The chat, telling each client which worker serves it."""

    def welcome(self, nick: Nickname) -> dict[str, Any]:
        return {**super().welcome(nick), 'worker': os.getpid()}


async def set_nick(request: Request) -> dict[str, Any]:
    """``/nick?name=ada``: what a page does to keep a nickname in the session.

    As a chat page does, it also makes the session's guest id.
    """
    request.session[SESSION_KEY] = request.params['name']
    return {'nick': (await nickname_for(request)).name}


async def csrf_token(request: Request) -> dict[str, Any]:
    """``/csrf``: the token a page would embed, for the nickname ``POST``."""
    return {'token': get_csrf_token(request)}


def make_config(settings: dict[str, Any]) -> Configurator:
    config = Configurator(settings={**settings})
    config.include('aiotao')
    config.include('aiotao.chat')
    config.set_session_factory(SignedCookieSessionFactory('chat-test-secret'))
    config.set_security_policy(HeaderSecurityPolicy())
    config.add_chat_route('chat', '/chat/{room}', view=PidChatView)
    config.add_chat_route('lobby', '/lobby')
    config.add_route('nick', '/nick')
    config.add_view(set_nick, route_name='nick', renderer='json')
    config.add_route('csrf', '/csrf')
    config.add_view(csrf_token, route_name='csrf', renderer='json')
    config.add_route('hello', '/hello')
    config.add_view(lambda request: 'hello', route_name='hello', renderer='string')
    return config


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    return make_config(settings).make_wsgi_app()
