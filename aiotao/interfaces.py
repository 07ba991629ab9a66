"""aiotao's interfaces (zope.interface): the keys of its services in the registry.

Each service aiotao registers is a utility provided under one of these
interfaces, registered by a configurator action when its add-on is
included (:func:`aiotao.services.register_service`): two conflicting
registrations fail at commit with Pyramid's ``ConfigurationConflictError``,
and the introspector lists them under ``'aiotao services'``::

    from aiotao.interfaces import IGroups

    groups = request.registry.getUtility(IGroups)   # or get_groups(registry)

The contracts a user implements to plug something in (a broadcast backend,
a presence channel, a session store, a cache backend) are typing
``Protocol`` classes beside their code
(:class:`~aiotao.websocket.backends.interface.GroupBackend`,
:class:`~aiotao.presence.interface.PresenceChannel`...): they are checked
by mypy, not looked up in the registry.
"""

from typing import Any

from zope.interface import Interface

__all__ = [
    'IAsyncAPIChannels',
    'IAsyncPipeline',
    'IAsyncRouter',
    'IBroadcastBackend',
    'ICacheBackend',
    'IChatHistory',
    'IChatPresence',
    'IChatSettings',
    'IGame',
    'IGroups',
    'IMongoConnection',
    'IPresence',
    'IPresenceSettings',
    'IScheduler',
    'ISessions',
    'ISignedInNames',
    'IThreadLocalManager',
    'IWebsocketSettings',
]

# -- the pipeline (aiotao) ------------------------------------------------------


class IAsyncRouter(Interface):  # type: ignore[misc]
    """The :class:`aiotao.router.AsyncRouter` built for an application."""


class IAsyncPipeline(Interface):  # type: ignore[misc]
    """Marks the registry of an application that included aiotao."""


class IThreadLocalManager(Interface):  # type: ignore[misc]
    """Pyramid's ``threadlocal.manager``, made context-local (:mod:`aiotao.threadlocal`)."""


# -- websockets (aiotao.websocket) ------------------------------------------------


class IWebsocketSettings(Interface):  # type: ignore[misc]
    """The application's :class:`aiotao.websocket.config.WebsocketSettings`."""


class IGroups(Interface):  # type: ignore[misc]
    """The application's :class:`aiotao.websocket.groups.Groups` on its broadcast backend."""


#: The broadcast backend is registered with the groups that own it: one
#: service, so that two backends set for one application conflict.
IBroadcastBackend = IGroups


class IAsyncAPIChannels(Interface):  # type: ignore[misc]
    """The channels of the application's AsyncAPI document (a ``dict``)."""


# -- presence, game and chat ---------------------------------------------------


class IPresenceSettings(Interface):  # type: ignore[misc]
    """The application's :class:`aiotao.presence.settings.PresenceSettings`."""


class IPresence(Interface):  # type: ignore[misc]
    """The application's presence tracker (:class:`aiotao.presence.tracker.Presence`)."""


class IGame(Interface):  # type: ignore[misc]
    """The application's :class:`aiotao.game.config.Game`: its lobby and room directory."""


class IChatSettings(Interface):  # type: ignore[misc]
    """The application's :class:`aiotao.chat.settings.ChatSettings`."""


class IChatHistory(Interface):  # type: ignore[misc]
    """The chat rooms' messages (:class:`aiotao.chat.history.ChatHistory`)."""


class ISignedInNames(Interface):  # type: ignore[misc]
    """The names of signed-in users, which no one else may take in the chat.

    Kept in memory, Redis or MongoDB (``aiotao.chat.presence``): see
    :mod:`aiotao.chat.signed_in`.  The first userid to claim a name (or a
    look-alike of it) keeps it.
    """

    async def claim(name: str, userid: str) -> None:  # type: ignore[misc]
        """Record that the signed-in ``userid`` is called ``name``."""

    async def holder(name: str) -> str | None:  # type: ignore[misc]
        """The userid of the signed-in user called ``name`` or a look-alike, if any."""

    async def close() -> None:  # type: ignore[misc]
        """Close this process's connection, if any (at server shutdown)."""


class IChatPresence(Interface):  # type: ignore[misc]
    """Who is in each chat room (:class:`aiotao.chat.presence.ChatPresence`).

    Members are tracked by :mod:`aiotao.presence` on the broadcast backend;
    the names of signed-in users are an :class:`ISignedInNames`.
    """

    def names(room: str) -> list[str]:  # type: ignore[misc,empty-body]
        """The nicknames in ``room``, on every worker, sorted."""

    async def check_free(room: str, name: str, key: str) -> None:  # type: ignore[misc]
        """Refuse ``name`` for ``key`` in ``room`` if someone else has it."""

    async def settle(room: str, nick: Any, *, as_before: bool = True) -> Any:  # type: ignore[misc]
        """The name ``nick`` goes by in ``room``, and why it differs, if it does."""

    async def enter(connection: Any) -> None:  # type: ignore[misc]
        """Track ``connection`` in its room; the room hears of it."""

    async def rename(connection: Any, nick: Any) -> None:  # type: ignore[misc]
        """``connection``'s person is now called ``nick``: every member hears it."""

    async def leave(connection: Any) -> None:  # type: ignore[misc]
        """Stop tracking ``connection``."""


# -- batteries -------------------------------------------------------------------


class IMongoConnection(Interface):  # type: ignore[misc]
    """The registry's :class:`aiotao.mongo.connection.MongoConnection` (``aiotao.mongo``)."""


class ICacheBackend(Interface):  # type: ignore[misc]
    """The registry's cache backend (registered by ``aiotao.cache``)."""


class ISessions(Interface):  # type: ignore[misc]
    """The application's :class:`aiotao.sessions.Sessions` (``aiotao.sessions``)."""


class IScheduler(Interface):  # type: ignore[misc]
    """The application's :class:`aiotao.schedule.runner.Scheduler` (``aiotao.schedule``)."""
