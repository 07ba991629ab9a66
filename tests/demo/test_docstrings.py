"""The examples in the demo app's docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    'aiotao_demo',
    'aiotao_demo.arena',
    'aiotao_demo.console',
    'aiotao_demo.game_echo',
    'aiotao_demo.sessions',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0
