"""Per-request cost of aiotao's pipeline against stock Pyramid's, in one run.

    python bench/pipeline.py [--requests 20000] [--repeat 7]

Both apps have one route and one trivial view with ``renderer='string'``:
``def hello(request)`` on stock Pyramid (``Router.invoke_request``) and
``async def hello(request)`` on aiotao (``AsyncRouter.handle``, awaited).
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


def aiotao_router() -> Any:
    config = Configurator(settings={})
    config.include('aiotao')
    config.add_route('hello', '/hello')
    config.add_view(hello_async, route_name='hello', renderer='string')
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


def best_of(repeat: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=20000)
    parser.add_argument('--repeat', type=int, default=7)
    args = parser.parse_args()

    sync_router = pyramid_router()
    async_router = aiotao_router()
    # warm both up (view lookup caches, renderer helpers)
    time_pyramid(sync_router, 1000)
    time_aiotao(async_router, 1000)

    results = {'pyramid': [], 'aiotao': []}  # type: dict[str, list[float]]
    for _ in range(args.repeat):  # interleaved, so both see the same machine
        results['pyramid'].append(time_pyramid(sync_router, args.requests))
        results['aiotao'].append(time_aiotao(async_router, args.requests))
    pyramid_cost = min(results['pyramid'])
    aiotao_cost = min(results['aiotao'])
    ratio = aiotao_cost / pyramid_cost
    print(f'{"pipeline":<34}{"µs/request":>12}{"ratio":>8}')
    print(
        f'{"stock Pyramid Router (sync view)":<34}{pyramid_cost * 1e6:>12.1f}{1.0:>8.2f}'
    )
    print(
        f'{"aiotao AsyncRouter (async view)":<34}{aiotao_cost * 1e6:>12.1f}{ratio:>8.2f}'
    )
    print(f'target: ratio <= 1.25 -> {"met" if ratio <= 1.25 else "NOT met"}')


if __name__ == '__main__':
    main()
