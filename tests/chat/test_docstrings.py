"""The examples in the chat modules' docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    'aiotao.chat.announcements',
    'aiotao.chat.lookalikes',
    'aiotao.chat.nicknames',
    'aiotao.chat.presence',
    'aiotao.chat.protocol',
    'aiotao.chat.rooms',
    'aiotao.chat.session',
    'aiotao.chat.settings',
    'aiotao.chat.text',
    'aiotao.chat.views',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0
