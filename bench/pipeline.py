"""Per-request cost of aiotao's pipeline against stock Pyramid's, in one run.

    python bench/pipeline.py [--requests 20000] [--repeat 7]

Every app has one route and one trivial view with ``renderer='string'``.
The reference is ``def hello(request)`` on stock Pyramid
(``Router.invoke_request``); against it, on aiotao (``AsyncRouter.handle``,
awaited, one request at a time):

* ``async def hello(request)``: the async pipeline alone;
* ``def hello(request)``: a sync view, run in the request's thread (the
  thread hop: the view goes to a pool thread and its response comes back);
* ``def hello(request)`` with ``blocking=False``: a sync view on the loop;
* a sync tween over a sync view (pyramid_tm's shape): one hop into the
  request's thread, then the tween, router and view run there;
* the WSGI path: aiotao included, ``make_wsgi_app()`` called as a WSGI
  server calls it, with a sync view (all of it in the server's thread) and
  with an async view (awaited on aiotao's background loop).

Each measurement builds the request from a WSGI environ, runs it through the
tweens, router, view and renderer, and drops the response; the best of
``--repeat`` runs is kept, the ratio is what matters (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from aiotao import make_async_app


def hello_sync(request: Any) -> str:
    return 'hello'


async def hello_async(request: Any) -> str:
    return 'hello'


def make_environ() -> dict[str, Any]:
    return Request.blank('/hello', headers={'Accept': '*/*'}).environ


def pyramid_router() -> Any:
    config = Configurator(settings={})
    config.add_route('hello', '/hello')
    config.add_view(hello_sync, route_name='hello', renderer='string')
    return config.make_wsgi_app()


def aiotao_config(view: Any, **view_options: Any) -> Configurator:
    config = Configurator(settings={})
    config.include('aiotao')
    config.add_route('hello', '/hello')
    config.add_view(view, route_name='hello', renderer='string', **view_options)
    return config


def passing_tween_factory(handler: Any, registry: Any) -> Any:
    """A synchronous tween that only passes the request on (pyramid_tm's shape)."""

    def passing_tween(request: Any) -> Any:
        return handler(request)

    return passing_tween


def aiotao_router(view: Any = hello_async, tween: bool = False, **options: Any) -> Any:
    config = aiotao_config(view, **options)
    if tween:
        # the script's directory is on sys.path: its module is 'pipeline'
        config.add_tween('pipeline.passing_tween_factory')
    return make_async_app(config)


def time_pyramid(router: Any, requests: int) -> float:
    environ = make_environ()
    started = time.perf_counter()
    for _ in range(requests):
        with router.request_context(dict(environ)) as request:
            response = router.invoke_request(request)
    elapsed = time.perf_counter() - started
    assert response.text == 'hello'
    return elapsed / requests


def time_aiotao(router: Any, requests: int) -> float:
    environ = make_environ()

    async def run() -> float:
        handle = router.handle
        started = time.perf_counter()
        for _ in range(requests):
            response = await handle(dict(environ))
        elapsed = time.perf_counter() - started
        assert response.text == 'hello'
        return elapsed / requests

    return asyncio.run(run())


def time_wsgi(app: Any, requests: int) -> float:
    environ = make_environ()

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return None

    started = time.perf_counter()
    for _ in range(requests):
        body = b''.join(app(dict(environ), start_response))
    elapsed = time.perf_counter() - started
    assert body == b'hello'
    return elapsed / requests


def best_of(repeat: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=20000)
    parser.add_argument('--repeat', type=int, default=7)
    args = parser.parse_args()

    sync_router = pyramid_router()
    scenarios: dict[str, Callable[[int], float]] = {
        'stock Pyramid Router (sync view)': lambda n: time_pyramid(sync_router, n),
    }
    for name, router in [
        ('aiotao (async view)', aiotao_router()),
        ('aiotao (sync view, thread hop)', aiotao_router(hello_sync)),
        (
            'aiotao (sync view, blocking=False)',
            aiotao_router(hello_sync, blocking=False),
        ),
        ('aiotao (sync tween + sync view)', aiotao_router(hello_sync, tween=True)),
    ]:
        scenarios[name] = lambda n, router=router: time_aiotao(router, n)
    wsgi_async = aiotao_config(hello_async).make_wsgi_app()
    wsgi_sync = aiotao_config(hello_sync).make_wsgi_app()
    scenarios['aiotao WSGI path (sync view)'] = lambda n: time_wsgi(wsgi_sync, n)
    scenarios['aiotao WSGI path (async view)'] = lambda n: time_wsgi(wsgi_async, n)

    for measure in scenarios.values():  # warm up: view lookup caches, threads
        measure(1000)
    results: dict[str, list[float]] = {name: [] for name in scenarios}
    for _ in range(args.repeat):  # interleaved, so all see the same machine
        for name, measure in scenarios.items():
            results[name].append(measure(args.requests))
    reference = min(results['stock Pyramid Router (sync view)'])
    print(f'{"pipeline":<40}{"µs/request":>12}{"ratio":>8}')
    for name, costs in results.items():
        cost = min(costs)
        print(f'{name:<40}{cost * 1e6:>12.1f}{cost / reference:>8.2f}')
    ratio = min(results['aiotao (async view)']) / reference
    print(
        f'target: async view ratio <= 1.25 -> {"met" if ratio <= 1.25 else "NOT met"}'
    )


if __name__ == '__main__':
    main()
