"""The examples in the presence modules' docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    'aiotao.presence.channels',
    'aiotao.presence.config',
    'aiotao.presence.settings',
    'aiotao.presence.state',
    'aiotao.presence.wire',
    'aiotao.websocket.shutdown',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0
