"""The examples in the game modules' docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    'aiotao.game.clock',
    'aiotao.game.config',
    'aiotao.game.directory',
    'aiotao.game.errors',
    'aiotao.game.lobby',
    'aiotao.game.metrics',
    'aiotao.game.names',
    'aiotao.game.patch',
    'aiotao.game.protocol',
    'aiotao.game.relay',
    'aiotao.game.relay_requests',
    'aiotao.game.room',
    'aiotao.game.rules',
    'aiotao.game.session',
    'aiotao.game.settings',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
