"""Server-side sessions: the cookie carries an id, the store the state."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from aiotao.sessions import RedisSessionStore, ServerSession, read_settings
from aiotao.testing import TestClient
from tests.harness.redis import RedisServer, redis_server  # noqa: F401


async def count(request: Any) -> Any:
    request.session['count'] = request.session.get('count', 0) + 1
    return {'count': request.session['count']}


def count_sync(request: Any) -> Any:
    request.session['count'] = request.session.get('count', 0) + 1
    return {'count': request.session['count']}


async def peek(request: Any) -> Any:
    return {'count': request.session.get('count'), 'new': request.session.new}


async def logout(request: Any) -> Any:
    request.session.invalidate()
    return {}


def make_config(**settings: str) -> Configurator:
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.include('aiotao.sessions')
    for name, view in [
        ('count', count),
        ('count_sync', count_sync),
        ('peek', peek),
        ('logout', logout),
    ]:
        config.add_route(name, f'/{name}')
        config.add_view(view, route_name=name, renderer='json')
    return config


async def test_the_cookie_holds_an_id_and_the_state_stays_on_the_server() -> None:
    async with TestClient(make_config()) as browser:
        response = await browser.get('/count')
        cookie = response.headers['Set-Cookie']
        assert cookie.startswith('session=') and 'HttpOnly' in cookie
        assert 'count' not in cookie and 'SameSite=Lax' in cookie
        assert (await browser.get('/count_sync')).json == {'count': 2}
        again = await browser.get('/count')
        assert again.json == {'count': 3}
        assert 'Set-Cookie' not in again.headers  # same id: nothing to resend


async def test_a_request_that_does_not_change_the_session_sets_no_cookie() -> None:
    async with TestClient(make_config()) as browser:
        response = await browser.get('/peek')
        assert response.json == {'count': None, 'new': True}
        assert 'Set-Cookie' not in response.headers


async def test_invalidate_deletes_the_state_everywhere() -> None:
    config = make_config()
    async with TestClient(config) as browser, TestClient(config) as thief:
        await browser.get('/count')
        stolen = browser.cookies.get('session')
        assert stolen
        thief.cookies.set('session', stolen)  # the same id, another client
        assert (await thief.get('/peek')).json['count'] == 1
        await browser.get('/logout')
        assert (await thief.get('/peek')).json == {'count': None, 'new': True}
        assert (await browser.get('/count')).json == {'count': 1}
        assert browser.cookies.get('session') != stolen


async def test_a_made_up_session_id_is_an_empty_session() -> None:
    async with TestClient(make_config(), cookies={'session': 'x' * 43}) as browser:
        assert (await browser.get('/peek')).json == {'count': None, 'new': True}


@pytest.mark.parametrize(
    ('settings', 'named'),
    [
        ({'aiotao.session.store': 'postgres://db'}, 'aiotao.session.store'),
        ({'aiotao.session.timeout': '0'}, 'aiotao.session.timeout'),
        ({'aiotao.session.timeout': 'soon'}, 'aiotao.session.timeout'),
        ({'aiotao.session.secure': 'maybe'}, 'aiotao.session.secure'),
    ],
)
def test_bad_settings_name_the_setting(settings: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        read_settings(settings)


async def test_redis_store_is_shared_and_expires(redis_server: RedisServer) -> None:  # noqa: F811
    first, second = (
        RedisSessionStore(redis_server.url),
        RedisSessionStore(redis_server.url),
    )
    try:
        session = ServerSession(None, None)
        session['userid'] = 'ada'
        await first.save('abc', session.state(), timeout=0.3)
        loaded = await second.load('abc')
        assert loaded is not None and ServerSession('abc', loaded)['userid'] == 'ada'
        await first.delete('abc')
        assert await second.load('abc') is None
        await first.save('abc', session.state(), timeout=0.1)
        await asyncio.sleep(0.3)
        assert await second.load('abc') is None
    finally:
        await first.close()
        await second.close()


async def test_sessions_in_redis_over_http(redis_server: RedisServer) -> None:  # noqa: F811
    config = make_config(**{'aiotao.session.store': redis_server.url})
    async with TestClient(config) as browser:
        assert (await browser.get('/count')).json == {'count': 1}
        assert (await browser.get('/count')).json == {'count': 2}


async def test_a_session_in_use_is_renewed_and_an_idle_one_expires() -> None:
    async with TestClient(make_config(**{'aiotao.session.timeout': '1'})) as browser:
        response = await browser.get('/count')
        # the store expires it: the cookie lasts as long as the browser
        assert 'Max-Age' not in response.headers['Set-Cookie']
        for _ in range(3):
            await asyncio.sleep(0.5)
            assert (await browser.get('/peek')).json['count'] == 1  # renewed
        await asyncio.sleep(1.2)
        assert (await browser.get('/peek')).json == {'count': None, 'new': True}


async def test_a_store_that_is_down_is_a_503_not_a_crash(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    config = make_config(**{'aiotao.session.store': redis_server.url})
    async with TestClient(config) as browser:
        assert (await browser.get('/count')).json == {'count': 1}
        redis_server.stop()
        response = await browser.get('/count')
        assert response.status_int == 503
        assert response.headers['Retry-After'] == '1'
        redis_server.start()
        assert (await browser.get('/count')).status_int == 200
