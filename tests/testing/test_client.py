"""TestClient over HTTP: what it accepts, what it sends, what it gives back.

(What it shares with a real server is shown by ``test_parity.py``.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from aiotao import make_async_app
from aiotao.testing import TestClient
from tests.testing.app import make_config
from tests.testing.conftest import write_ini


async def test_each_kind_of_application_is_served(tmp_path: Path) -> None:
    ini = write_ini(tmp_path / 'app.ini')
    sources: list[Any] = [
        make_config(),
        make_config().make_wsgi_app(),
        make_async_app(make_config()),
        ini,
        str(ini),
        f'{ini}#main',
    ]
    for source in sources:
        async with TestClient(source) as client:
            response = await client.get('/hello')
            assert response.json == {'hello': 'world', 'method': 'GET'}, source


async def test_a_plain_wsgi_app_runs_in_a_thread() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        import threading

        body = threading.current_thread().name.encode()
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [body]

    async with TestClient(app) as client:
        response = await client.get('/')
    assert response.status_int == 200
    assert response.text != 'MainThread'


async def test_ini_settings_can_be_replaced(tmp_path: Path) -> None:
    ini = write_ini(tmp_path / 'app.ini', **{'aiotao.max_body_size': '100'})
    async with TestClient(ini) as client:
        assert (await client.post('/echo', data=b'x' * 200)).status_int == 413
    async with TestClient(ini, settings={'aiotao.max_body_size': '1000'}) as client:
        assert (await client.post('/echo', data=b'x' * 200)).json['length'] == 200


async def test_settings_for_a_configured_app_are_refused() -> None:
    with pytest.raises(TypeError, match='give the settings to its Configurator'):
        TestClient(make_config(), settings={'aiotao.max_body_size': '1'})


def test_a_missing_ini_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r'no such ini file: .*nope\.ini'):
        TestClient(tmp_path / 'nope.ini')


async def test_lifecycle_events_run_on_enter_and_exit() -> None:
    client = TestClient(make_config())
    registry = client.registry
    assert registry is not None
    assert (await client.get('/lifecycle')).json == {'started': 0}
    async with client:
        assert (await client.get('/lifecycle')).json == {'started': 1}
        assert 'testing.stopped' not in registry
    assert registry['testing.stopped'] == 1
    with pytest.raises(RuntimeError, match='started already'):
        async with client:
            async with client:
                pass


async def test_query_strings_and_paths_are_encoded_as_a_client_sends_them() -> None:
    async with TestClient(make_config()) as client:
        response = await client.get(
            '/echo?a=1&b=caf%C3%A9', params=[('b', 'x y'), ('c', 'é')]
        )
    assert response.json['query'] == [
        ['a', '1'],
        ['b', 'café'],
        ['b', 'x y'],
        ['c', 'é'],
    ]


async def test_headers_merge_client_and_request_ones() -> None:
    async with TestClient(make_config(), headers={'X-Custom': 'client'}) as client:
        assert (await client.get('/echo')).json['x_custom'] == 'client'
        response = await client.get('/echo', headers={'x-custom': 'request'})
        assert response.json['x_custom'] == 'request'


async def test_remote_addr_and_trusted_proxies() -> None:
    async with TestClient(make_config()) as client:
        forwarded = {'X-Forwarded-For': '203.0.113.9'}
        # 127.0.0.1 is a trusted proxy by default, as under gunicorn
        response = await client.get('/echo', headers=forwarded)
        assert response.json['remote_addr'] == '203.0.113.9'
    async with TestClient(make_config(), remote_addr='198.51.100.7') as client:
        response = await client.get('/echo', headers=forwarded)
        assert response.json['remote_addr'] == '198.51.100.7'


async def test_a_malformed_content_length_gets_400_as_on_a_server() -> None:
    async with TestClient(make_config()) as client:
        response = await client.post(
            '/echo', data=b'abc', headers={'Content-Length': 'three'}
        )
    assert response.status_int == 400
    assert 'Content-Length must be a number of bytes' in response.text


async def test_a_large_body_reaches_the_view_in_chunks_under_the_limit() -> None:
    config = make_config(**{'aiotao.max_body_size': str(3 * 1024 * 1024)})
    async with TestClient(config) as client:
        response = await client.post('/echo', data=b'x' * (2 * 1024 * 1024 + 1))
    assert response.json['length'] == 2 * 1024 * 1024 + 1


async def test_server_exceptions_are_raised_by_default_or_500() -> None:
    async with TestClient(make_config()) as client:
        with pytest.raises(RuntimeError, match='the view broke'):
            await client.get('/boom')
    async with TestClient(make_config(), raise_server_exceptions=False) as client:
        assert (await client.get('/boom')).status_int == 500


async def test_redirects_are_followed_on_request() -> None:
    async with TestClient(make_config()) as client:
        response = await client.get('/redirect', follow_redirects=True)
        assert response.json == {'hello': 'again', 'method': 'GET'}
        # a POST answered with a redirect is followed with a GET
        response = await client.post(
            '/redirect', data={'a': 'b'}, follow_redirects=True
        )
        assert response.json['method'] == 'GET'


async def test_cookies_given_by_hand_and_per_request() -> None:
    async with TestClient(make_config(), cookies={'theme': 'dark'}) as client:
        response = await client.get('/me', cookies={'once': '1'})
        assert response.json['cookies'] == ['once', 'theme']
        assert (await client.get('/me')).json['cookies'] == ['theme']
        client.cookies.delete('theme')
        assert (await client.get('/me')).json['cookies'] == []


async def test_expired_cookies_are_not_sent() -> None:
    config = Configurator(settings={})
    config.include('aiotao')
    config.add_route('set', '/set')
    config.add_route('get', '/get')

    def set_cookies(request: Request) -> Response:
        response = Response('ok')
        response.set_cookie('short', 'lived', max_age=1)
        response.set_cookie('long', 'lived', max_age=3600)
        return response

    def get_cookies(request: Request) -> Response:
        return Response(' '.join(sorted(request.cookies)))

    config.add_view(set_cookies, route_name='set')
    config.add_view(get_cookies, route_name='get')
    async with TestClient(config) as client:
        await client.get('/set')
        assert (await client.get('/get')).text == 'long short'
        await asyncio.sleep(1.1)
        assert (await client.get('/get')).text == 'long'
        assert 'short' not in client.cookies


async def test_secure_cookies_go_over_https_only() -> None:
    config = Configurator(settings={})
    config.include('aiotao')
    config.add_route('set', '/set')
    config.add_route('get', '/get')
    config.add_view(
        lambda request: _with_cookie(Response('ok'), 'token', 'x', secure=True),
        route_name='set',
    )
    config.add_view(
        lambda request: Response(' '.join(sorted(request.cookies))), route_name='get'
    )
    app = config.make_wsgi_app()
    async with TestClient(app, base_url='https://testserver') as client:
        await client.get('/set')
        assert (await client.get('/get')).text == 'token'
        assert (await client.get('http://testserver/get')).text == ''


def _with_cookie(response: Response, name: str, value: str, **kw: Any) -> Response:
    response.set_cookie(name, value, **kw)
    return response


async def test_a_streamed_body_is_closed_after_reading() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Any:
            yield b'one '
            yield b'two'

        def close(self) -> None:
            closed.append(True)

    config = Configurator(settings={})
    config.include('aiotao')
    config.add_route('body', '/body')

    def view(request: Request) -> Response:
        response = Response()
        response.app_iter = Body()
        return response

    config.add_view(view, route_name='body')
    async with TestClient(config) as client:
        assert (await client.get('/body')).body == b'one two'
        assert closed == [True]
        head = await client.head('/body')
        assert head.body == b''
        assert closed == [True, True]


async def test_a_mount_point_is_honoured_as_by_the_servers() -> None:
    async with TestClient(make_config(**{'aiotao.script_name': '/app'})) as client:
        response = await client.get('/app/echo')
        assert response.json['path'] == '/app/echo'
        outside = await client.get('/echo')
    assert outside.status_int == 404
    assert "outside this application, which is mounted at '/app'" in outside.text
