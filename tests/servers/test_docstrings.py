"""The examples in the docstrings of the ini servers and their demos run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    'aiotao.servers.sections',
    'aiotao.websocket.standalone',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
