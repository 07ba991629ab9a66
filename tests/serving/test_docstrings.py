"""The examples in the serving modules' docstrings are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    'aiotao.serving.application',
    'aiotao.serving.body',
    'aiotao.serving.environ',
    'aiotao.serving.errors',
    'aiotao.serving.garbage',
    'aiotao.serving.proxies',
    'aiotao.serving.responses',
    'aiotao.serving.settings',
    'aiotao.serving.streaming',
    'aiotao.serving.upgrade',
    'aiotao.serving.asgi.adapter',
    'aiotao.serving.gunicorn.conf',
    'aiotao.serving.gunicorn.worker',
    'aiotao.serving.standalone.server',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name: str) -> None:
    results = doctest.testmod(importlib.import_module(name))
    assert results.failed == 0
    assert results.attempted > 0, f'{name} has no examples'
