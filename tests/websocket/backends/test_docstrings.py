"""The examples in the backends' docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    'aiotao.websocket.backends',
    'aiotao.websocket.backends.backoff',
    'aiotao.websocket.backends.memory',
    'aiotao.websocket.backends.mongodb',
    'aiotao.websocket.backends.redis',
    'aiotao.websocket.backends.redis_clients',
    'aiotao.websocket.backends.redis_urls',
    'aiotao.websocket.backends.settings',
    'aiotao.websocket.backends.wire',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
