"""Async views in every Pyramid shape, through a scanned application."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator

from aiotao import AsyncRouter, make_async_app
from tests.conftest import send


@pytest.fixture
def router() -> AsyncRouter:
    config = Configurator(settings={})
    config.include('tests.pkgs.asyncviews')
    return make_async_app(config)


@pytest.mark.parametrize(
    ('path', 'expected'),
    [
        ('/function', {'shape': 'function', 'path': '/function'}),
        (
            '/context-function',
            {'shape': 'context-function', 'context': 'DefaultRootFactory'},
        ),
        ('/class-attr', {'shape': 'class-attr'}),
        (
            '/class-method-config',
            {'shape': 'class-method', 'view_instance': 'ClassWithDecoratedMethod'},
        ),
        ('/instance', {'shape': 'instance'}),
    ],
)
async def test_async_view_shapes_render_json(
    router: AsyncRouter, path: str, expected: dict[str, str]
) -> None:
    response = await send(router, path)
    assert response.status_int == 200
    assert response.content_type == 'application/json'
    assert response.json == expected


async def test_async_view_with_string_renderer(router: AsyncRouter) -> None:
    response = await send(router, '/string')
    assert response.content_type == 'text/plain'
    assert response.text == 'plain text from a coroutine'


async def test_async_view_with_jinja2_template(router: AsyncRouter) -> None:
    response = await send(router, '/jinja/<world>')
    assert response.status_int == 200
    assert response.content_type == 'text/html'
    assert '<h1>Hello &lt;world&gt;</h1>' in response.text
    assert response.text.count('<li>') == 3
