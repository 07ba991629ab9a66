"""The examples in the websocket modules' docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    'aiotao.mappers.websocket',
    'aiotao.websocket.connection',
    'aiotao.websocket.shutdown',
    'aiotao.websocket.exceptions',
    'aiotao.websocket.frames',
    'aiotao.websocket.groups',
    'aiotao.websocket.handshake',
    'aiotao.websocket.limits',
    'aiotao.websocket.messages',
    'aiotao.websocket.ratelimit',
    'aiotao.websocket.schema',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
