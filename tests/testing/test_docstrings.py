"""The examples in aiotao.testing's docstrings are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    'aiotao.testing.client',
    'aiotao.testing.cookies',
    'aiotao.testing.encoding',
    'aiotao.testing.loading',
    'aiotao.testing.mongodb',
    'aiotao.testing.responses',
    'aiotao.testing.sync_client',
    'aiotao.testing.units',
    'aiotao.testing.websocket',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name: str) -> None:
    results = doctest.testmod(importlib.import_module(name))
    assert results.failed == 0
    assert results.attempted > 0, f'{name} has no examples'
