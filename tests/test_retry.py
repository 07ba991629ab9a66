"""pyramid_retry with aiotao: either include order, retries of async views too."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid_retry import IBeforeRetry, RetryableException
from webtest import TestApp

from aiotao import make_async_app
from aiotao.retry import retry_options


def flaky_app(order: str, **settings: Any) -> tuple[Any, list[Any]]:
    """Views that fail with a retryable error until the given attempt."""
    retries: list[Any] = []
    config = Configurator(settings=settings)
    for name in order.split(','):
        config.include(name)

    async def flaky(request: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        attempt = request.environ['retry.attempt']
        if attempt < 2:
            raise RetryableException(f'attempt {attempt}')
        return {'attempt': attempt}

    def legacy_flaky(request: Any) -> dict[str, Any]:
        attempt = request.environ['retry.attempt']
        if attempt < 1:
            raise RetryableException(f'attempt {attempt}')
        return {'attempt': attempt, 'thread': threading.current_thread().name}

    config.add_subscriber(lambda event: retries.append(event.exception), IBeforeRetry)
    config.add_route('flaky', '/flaky')
    config.add_route('legacy', '/legacy')
    config.add_view(flaky, route_name='flaky', renderer='json')
    config.add_view(legacy_flaky, route_name='legacy', renderer='json')
    return config.make_wsgi_app(), retries


ORDERS = ['aiotao,pyramid_retry', 'pyramid_retry,aiotao']


@pytest.mark.parametrize('order', ORDERS)
def test_retryable_errors_are_retried_on_the_wsgi_path(order: str) -> None:
    app, retries = flaky_app(order)
    client = TestApp(app)
    assert client.get('/flaky').json == {'attempt': 2}
    assert [str(exc) for exc in retries] == ['attempt 0', 'attempt 1']
    assert client.get('/legacy').json['attempt'] == 1


@pytest.mark.parametrize('order', ORDERS)
async def test_retryable_errors_are_retried_on_the_async_path(order: str) -> None:
    app, retries = flaky_app(order)
    router = make_async_app(app)
    assert router.retry is not None  # pyramid_retry's policy, run on the loop
    response = await router.handle(Request.blank('/flaky').environ)
    assert response.json == {'attempt': 2}
    assert [str(exc) for exc in retries] == ['attempt 0', 'attempt 1']
    legacy = await router.handle(Request.blank('/legacy').environ)
    assert legacy.json['attempt'] == 1
    assert legacy.json['thread'].startswith('aiotao-request')


async def test_the_last_attempt_gives_up() -> None:
    app, retries = flaky_app('aiotao,pyramid_retry', **{'retry.attempts': '2'})
    router = make_async_app(app)
    with pytest.raises(RetryableException, match='attempt 1'):
        await router.handle(Request.blank('/flaky').environ)
    assert [str(exc) for exc in retries] == ['attempt 0']


def test_retry_options_are_read_from_pyramid_retrys_policy() -> None:
    from pyramid_retry import RetryableExecutionPolicy

    def hook(request: Any) -> int:
        return 2

    options = retry_options(RetryableExecutionPolicy(5, activate_hook=hook))
    assert options is not None
    assert (options.attempts, options.activate_hook) == (5, hook)
    assert retry_options(lambda environ, router: None) is None


async def test_any_other_execution_policy_runs_in_the_request_thread() -> None:
    seen: list[str] = []

    def auditing_policy(environ: dict[str, Any], router: Any) -> Any:
        seen.append(threading.current_thread().name)
        with router.request_context(environ) as request:
            response = router.invoke_request(request)
        response.headers['X-Audited'] = 'yes'
        return response

    async def hello(request: Any) -> str:
        await asyncio.sleep(0)
        return 'hello'

    config = Configurator(settings={})
    config.include('aiotao')
    config.set_execution_policy(auditing_policy)
    config.add_route('hello', '/hello')
    config.add_view(hello, route_name='hello', renderer='string')
    router = make_async_app(config)
    response = await router.handle(Request.blank('/hello').environ)
    assert (response.text, response.headers['X-Audited']) == ('hello', 'yes')
    assert seen[0].startswith('aiotao-request')
    wsgi = TestApp(config.make_wsgi_app()).get('/hello')
    assert wsgi.headers['X-Audited'] == 'yes'
