"""Shared fixtures: build an application and drive real requests through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.request import Request

from aiotao import AsyncRouter, make_async_app


async def send(router: AsyncRouter, path: str, **kw: Any) -> Any:
    """Serve ``Request.blank(path, **kw)`` through the async pipeline.

    The response is then called as a WSGI app, as a server does: that is
    when HTTP exceptions render their bodies.
    """
    request = Request.blank(path, **kw)
    response = await router.handle(request.environ)
    return request.get_response(response)


@pytest.fixture
def config() -> Configurator:
    """A fresh application configurator with aiotao included."""
    config = Configurator(settings={})
    config.include('aiotao')
    return config


@pytest.fixture
def make_router(config: Configurator) -> Callable[[], AsyncRouter]:
    def make() -> AsyncRouter:
        return make_async_app(config)

    return make
