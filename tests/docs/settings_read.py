"""Every setting aiotao reads, found by watching it read them.

The application is configured with each battery on (``request.db``, the
cache in memory and in MongoDB, schedules, the chat, the game, each
broadcast backend) on a settings mapping that records every key looked
up, and the servers' settings are read from it too.  What the settings
reference (``docs/settings.rst``) documents is compared with that.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pyramid.config import Configurator

#: The prefixes of aiotao's settings.
PREFIXES = ('aiotao.', 'mongo.', 'cache.')
MONGO_URI = 'mongodb://127.0.0.1:27017/settings_reference'


class RecordingSettings(dict[str, Any]):
    """A settings dict that remembers every key asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()

    def _ask(self, key: object) -> None:
        if isinstance(key, str):
            self.asked.add(key)

    def __getitem__(self, key: str) -> Any:
        self._ask(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._ask(key)
        return super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._ask(key)
        return super().get(key, default)


#: One application per line: each turns on what the settings name.
VARIANTS: list[dict[str, str]] = [
    {'mongo.uri': MONGO_URI, 'cache.backend': 'memory'},
    {
        'mongo.uri': MONGO_URI,
        'cache.backend': 'mongo',
        'aiotao.broadcast': 'mongodb',
        'aiotao.game.directory': 'mongodb',
        'aiotao.schedule.tick': '60 aiotao.testing.units:_as_coroutine',
    },
    {
        'mongo.uri': MONGO_URI,
        'aiotao.broadcast': 'redis://127.0.0.1:6379/0',
        'aiotao.game.directory': 'redis://127.0.0.1:6379/1',
    },
]


def configure(settings: dict[str, str]) -> RecordingSettings:
    """Configure an application with every battery; the keys it asked for."""
    from aiotao.serving.settings import ServingSettings

    # the game has no default rules: any GameRules subclass will do
    config = Configurator(
        settings={'aiotao.game.rules': 'tests.game.rules.Counters', **settings}
    )
    recording = RecordingSettings(config.registry.settings)
    config.registry.settings = recording
    config.include('aiotao')
    config.include('aiotao.chat')
    config.include('aiotao.game')
    config.include('aiotao.cache')
    config.include('aiotao.sessions')
    config.commit()
    ServingSettings.from_settings(recording)
    return recording


def settings_read() -> set[str]:
    """Every ``aiotao.*``, ``mongo.*`` and ``cache.*`` key aiotao looks up."""
    asked: set[str] = set()
    for variant in VARIANTS:
        asked |= configure(variant).asked
    return {key for key in asked if key.startswith(PREFIXES)}


def main() -> Iterator[str]:
    yield from sorted(settings_read())


if __name__ == '__main__':
    print('\n'.join(main()))
