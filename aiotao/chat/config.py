"""``config.include('aiotao.chat')``: settings, the ``add_chat_route`` directive.

::

    config.include('aiotao.chat')
    config.add_chat_route('chat', '/chat/{room}/socket')

Including it checks the ``aiotao.chat.*`` settings
(:mod:`aiotao.chat.settings`) at once, includes ``aiotao.websocket`` and
``aiotao.presence`` (who is in a room, across workers), serves the chat
page's script and style as static assets
(``request.static_path('aiotao.chat:static/chat.js')`` and ``chat.css``)
and the route ``aiotao.chat.nickname`` (``POST /_aiotao/chat/nickname``),
where a page keeps a guest's new nickname in the session.  The chat keeps
its messages in MongoDB: the application needs ``mongo.uri`` (see
:mod:`aiotao.mongo`).  The names of signed-in users are kept where
``aiotao.chat.presence`` says (MongoDB by default, memory or Redis).

Its services (:mod:`aiotao.services`) are registered when the configuration
is committed: the settings (:class:`~aiotao.interfaces.IChatSettings`), the
signed-in names (:class:`~aiotao.interfaces.ISignedInNames`), the history
(:class:`~aiotao.interfaces.IChatHistory`) and the rooms' members
(:class:`~aiotao.interfaces.IChatPresence`); and the history is sent again
to the rooms after a broker outage (:mod:`aiotao.chat.resync`).
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from aiotao.chat.history import make_history
from aiotao.chat.presence import make_chat_presence
from aiotao.chat.resync import watch_for_resync
from aiotao.chat.settings import chat_settings, get_chat_settings
from aiotao.chat.signed_in import signed_in_names_for
from aiotao.chat.views import ChatView, keep_nickname
from aiotao.interfaces import (
    IChatHistory,
    IChatPresence,
    IChatSettings,
    ISignedInNames,
)
from aiotao.lifecycle import ServerStopping, add_lifecycle_subscriber
from aiotao.mappers import WebsocketMapper
from aiotao.services import FEATURES, TRACKERS, register_service

__all__ = ['add_chat_route', 'includeme']

#: Where the browser client is served (``aiotao.chat:static``).
STATIC_NAME = '_aiotao/chat'
#: The route where a page keeps a guest's nickname in the session.
NICKNAME_ROUTE = 'aiotao.chat.nickname'
NICKNAME_PATH = '/_aiotao/chat/nickname'


def add_chat_route(
    config: Configurator,
    name: str,
    pattern: str,
    *,
    view: type[ChatView] = ChatView,
    **view_options: Any,
) -> None:
    """Serve a chat websocket at ``pattern``; its ``{room}`` names the room.

    ``view_options`` go to ``add_view`` (``permission='chat'``, a custom
    predicate...).  Without ``{room}`` in the pattern the room is
    ``lobby``.

    >>> config.add_chat_route('chat', '/chat/{room}/socket')   # doctest: +SKIP
    """
    config.add_route(name, pattern)
    config.add_view(view, route_name=name, mapper=WebsocketMapper, **view_options)
    config.add_asyncapi_channel(
        name,
        view.connection_class.router,
        description='A chat room: say, change nickname, ping (aiotao.chat).',
    )


async def close_signed_in_names(event: ServerStopping) -> None:
    names = event.registry.queryUtility(ISignedInNames)
    if names is not None:
        await names.close()


def register_chat_services(config: Configurator, presence: str) -> None:
    """Register the chat's services (``presence``: ``aiotao.chat.presence``)."""
    include = 'aiotao.chat'
    register_service(
        config,
        IChatSettings,
        lambda registry: chat_settings(registry.settings),
        title='chat settings',
        include=include,
    )
    kind = presence if presence in ('memory', 'mongodb') else 'redis'
    register_service(
        config,
        ISignedInNames,
        lambda registry: signed_in_names_for(
            get_chat_settings(registry).presence, registry
        ),
        title=f'chat signed-in names ({kind})',
        include=include,
        order=TRACKERS,
    )
    register_service(
        config,
        IChatHistory,
        make_history,
        title='chat history (MongoDB)',
        include=include,
        order=TRACKERS,
    )
    register_service(
        config,
        IChatPresence,
        make_chat_presence,
        title=f'chat presence (names in {kind})',
        include=include,
        order=FEATURES,
    )
    registry = config.registry
    config.action(
        ('aiotao.chat', 'resync'),
        lambda: watch_for_resync(registry),
        order=FEATURES + 1,
    )


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    # parse now: a bad setting stops the application from starting
    parsed = chat_settings(settings)
    if not settings.get('mongo.uri'):
        raise ConfigurationError(
            'aiotao.chat keeps its history in MongoDB: set mongo.uri '
            '(e.g. mongo.uri = mongodb://127.0.0.1:27017/myapp) and include aiotao'
        )
    config.include('aiotao.websocket')
    config.include('aiotao.presence')
    register_chat_services(config, parsed.presence)
    add_lifecycle_subscriber(config, close_signed_in_names, ServerStopping)
    config.add_directive('add_chat_route', add_chat_route)
    # (before the static view, whose route would take this path)
    config.add_route(NICKNAME_ROUTE, NICKNAME_PATH)
    config.add_view(
        keep_nickname, route_name=NICKNAME_ROUTE, request_method='POST', renderer='json'
    )
    config.add_static_view(STATIC_NAME, 'aiotao.chat:static', cache_max_age=3600)
