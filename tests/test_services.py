"""aiotao's services are configurator actions: conflicts fail at commit, the introspector lists them."""

from __future__ import annotations

from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError

from aiotao.chat.history import ChatHistory
from aiotao.game import get_game
from aiotao.game.directory import MemoryDirectory
from aiotao.game.rules import GameRules
from aiotao.interfaces import (
    IAsyncPipeline,
    ICacheBackend,
    IChatHistory,
    IChatPresence,
    IChatSettings,
    IGame,
    IGroups,
    IMongoConnection,
    IPresence,
    IPresenceSettings,
    ISignedInNames,
    IThreadLocalManager,
    IWebsocketSettings,
)
from aiotao.services import CATEGORY, register_service
from aiotao.websocket import get_groups
from aiotao.websocket.backends import InMemoryBackend


class Idle(GameRules[None]):
    """Rules for the game's include (aiotao ships none)."""

    input_schema = type(None)


#: No connection is made at commit: any URI will do.
MONGO = {
    'mongo.uri': 'mongodb://127.0.0.1:1/services',
    'aiotao.game.rules': 'tests.test_services.Idle',
}


def one_backend(config: Configurator) -> None:
    config.set_broadcast_backend(InMemoryBackend())


def another_backend(config: Configurator) -> None:
    config.set_broadcast_backend(InMemoryBackend())


def one_directory(config: Configurator) -> None:
    config.set_game_directory(MemoryDirectory())


def another_directory(config: Configurator) -> None:
    config.set_game_directory(MemoryDirectory())


def _history(registry: Any) -> ChatHistory:
    return ChatHistory(lambda: None)


def one_history(config: Configurator) -> None:
    register_service(
        config, IChatHistory, _history, title='one history', include='tests'
    )


def another_history(config: Configurator) -> None:
    register_service(
        config, IChatHistory, _history, title='another history', include='tests'
    )


def configurator(*includes: str) -> Configurator:
    config = Configurator(settings=dict(MONGO))
    config.include('aiotao')
    for include in includes:
        config.include(include)
    return config


def test_two_broadcast_backends_set_by_two_includes_conflict() -> None:
    config = configurator()
    config.include(one_backend)
    config.include(another_backend)
    with pytest.raises(ConfigurationConflictError) as raised:
        config.commit()
    message = str(raised.value)
    assert 'IGroups' in message
    # each registration is named by the line that made it
    assert message.count('config.set_broadcast_backend(InMemoryBackend())') == 2
    assert 'aiotao/websocket/config.py' in message


def test_two_game_directories_set_by_two_includes_conflict() -> None:
    config = configurator('aiotao.game')
    config.include(one_directory)
    config.include(another_directory)
    with pytest.raises(ConfigurationConflictError, match='IGame'):
        config.commit()


def test_two_chat_histories_registered_by_two_includes_conflict() -> None:
    config = configurator('aiotao.chat')
    config.include(one_history)
    config.include(another_history)
    with pytest.raises(ConfigurationConflictError, match='IChatHistory'):
        config.commit()


def test_the_applications_own_configuration_overrides_an_includes_service() -> None:
    backend = InMemoryBackend()
    directory = MemoryDirectory()
    config = configurator('aiotao.game')
    config.set_broadcast_backend(backend)
    config.set_game_directory(directory)
    config.commit()
    assert get_groups(config.registry).backend is backend
    game = get_game(config.registry)
    assert game.directory is directory
    assert game.lobby.directory is directory


def test_the_introspector_lists_aiotaos_services() -> None:
    config = configurator('aiotao.game', 'aiotao.chat')
    config.commit()
    listed = {
        entry['introspectable']['interface']: entry['introspectable']
        for entry in config.registry.introspector.get_category(CATEGORY)
    }
    expected = {
        IAsyncPipeline,
        IThreadLocalManager,
        IWebsocketSettings,
        IGroups,
        ICacheBackend,
        IMongoConnection,
        IPresenceSettings,
        IPresence,
        IGame,
        IChatSettings,
        ISignedInNames,
        IChatHistory,
        IChatPresence,
    }
    assert expected <= set(listed)
    for interface in expected:
        registered = config.registry.getUtility(interface)
        assert listed[interface]['service'] is registered, interface
    assert listed[IGroups].title == 'broadcast groups (memory)'
    assert listed[ISignedInNames].title == 'chat signed-in names (mongodb)'


def test_a_redis_password_is_not_shown_by_the_introspector() -> None:
    config = Configurator(
        settings={'aiotao.broadcast': 'redis://:s3cret@127.0.0.1:1/0'}
    )
    config.include('aiotao.websocket')
    config.commit()
    titles = [
        entry['introspectable'].title
        for entry in config.registry.introspector.get_category(CATEGORY)
    ]
    assert not any('s3cret' in title for title in titles), titles
