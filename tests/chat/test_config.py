"""``config.include('aiotao.chat')`` serves the page's client; ``add_chat_route``."""

from __future__ import annotations

from pyramid.request import Request

from aiotao.testing import TestClient


async def test_the_include_serves_the_pages_script_and_style(
    client: TestClient,
) -> None:
    request = Request.blank('/', base_url='http://example.com')
    request.registry = client.registry
    for asset, content_type, marker in (
        ('chat.js', 'text/javascript', 'textContent'),
        ('chat.css', 'text/css', '#messages'),
    ):
        path = request.static_path(f'aiotao.chat:static/{asset}')
        response = await client.get(path)
        assert response.status_int == 200, path
        assert response.content_type == content_type
        assert marker in response.text
        assert response.cache_control.max_age == 3600


async def test_assets_outside_the_static_directory_are_not_served(
    client: TestClient,
) -> None:
    request = Request.blank('/')
    request.registry = client.registry
    static = request.static_path('aiotao.chat:static/chat.js').rsplit('/', 1)[0]
    for path in ('/../config.py', '/%2e%2e/config.py', '/missing.js'):
        assert (await client.get(static + path)).status_int == 404
