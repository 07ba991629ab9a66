"""Pyramid's view options on async views: http_cache, decorator, wrapper, CSRF, renderers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.interfaces import IResponse
from pyramid.response import Response

from aiotao import AsyncRouter
from tests.conftest import send

MakeRouter = Callable[[], AsyncRouter]


async def test_http_cache_applies_to_async_view(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def cached(request: Any) -> str:
        await asyncio.sleep(0)
        return 'cached'

    config.add_route('cached', '/cached')
    config.add_view(cached, route_name='cached', renderer='string', http_cache=3600)
    response = await send(make_router(), '/cached')
    assert response.text == 'cached'
    assert response.cache_control.max_age == 3600
    assert response.expires is not None


async def test_decorator_wraps_async_view(
    config: Configurator, make_router: MakeRouter
) -> None:
    def add_header(view: Any) -> Any:
        async def decorated(context: Any, request: Any) -> Any:
            response = await view(context, request)
            response.headers['X-Decorated'] = 'yes'
            return response

        return decorated

    async def plain(request: Any) -> str:
        return 'decorated body'

    config.add_route('decorated', '/decorated')
    config.add_view(
        plain, route_name='decorated', renderer='string', decorator=add_header
    )
    response = await send(make_router(), '/decorated')
    assert response.text == 'decorated body'
    assert response.headers['X-Decorated'] == 'yes'


async def test_wrapper_view_wraps_async_view(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def inner(request: Any) -> str:
        await asyncio.sleep(0)
        return 'inner'

    async def outer(request: Any) -> Response:
        await asyncio.sleep(0)
        return Response(f'<outer>{request.wrapped_body.decode()}</outer>')

    config.add_view(outer, name='outer')
    config.add_route('wrapped', '/wrapped')
    config.add_view(inner, route_name='wrapped', renderer='string', wrapper='outer')
    response = await send(make_router(), '/wrapped')
    assert response.text == '<outer>inner</outer>'


async def test_require_csrf_rejects_post_without_token(
    config: Configurator, make_router: MakeRouter
) -> None:
    from pyramid.session import SignedCookieSessionFactory

    config.set_session_factory(SignedCookieSessionFactory('secret-for-tests'))

    async def change(request: Any) -> str:
        return 'changed'

    config.add_route('change', '/change')
    config.add_view(change, route_name='change', renderer='string', require_csrf=True)
    router = make_router()
    denied = await send(
        router, '/change', method='POST', headers={'Origin': 'http://localhost'}
    )
    assert denied.status_int == 400
    assert 'CSRF' in denied.text
    # the safe method is not checked
    assert (await send(router, '/change')).text == 'changed'


async def test_view_returning_nothing_explains_the_fix(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def forgot(request: Any) -> None:
        await asyncio.sleep(0)

    config.add_route('forgot', '/forgot')
    config.add_view(forgot, route_name='forgot')
    with pytest.raises(ValueError, match='You may have forgotten to return a value'):
        await send(make_router(), '/forgot')


@pytest.mark.parametrize('asynchronous', [False, True])
async def test_response_adapter_registered_after_first_request_is_used(
    config: Configurator, make_router: MakeRouter, asynchronous: bool
) -> None:
    # rendered_view answers "is this string a response?" from the type
    # alone; an adapter registered later must still win over the renderer
    def plain(request: Any) -> str:
        return 'text'

    async def awaited(request: Any) -> str:
        return 'text'

    config.add_route('text', '/text')
    config.add_view(
        awaited if asynchronous else plain, route_name='text', renderer='string'
    )
    router = make_router()
    response = await send(router, '/text')
    assert response.text == 'text'
    assert response.content_type == 'text/plain'
    config.registry.registerAdapter(
        lambda value: Response(f'adapted {value}', content_type='text/x-adapted'),
        (str,),
        IResponse,
    )
    response = await send(router, '/text')
    assert response.text == 'adapted text'
    assert response.content_type == 'text/x-adapted'


async def test_renderer_override_and_dict_results_still_rendered(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def data(request: Any) -> dict[str, int]:
        request.override_renderer = 'json'
        return {'n': 1}

    config.add_route('data', '/data')
    config.add_view(data, route_name='data', renderer='string')
    response = await send(make_router(), '/data')
    assert response.json_body == {'n': 1}
    assert response.content_type == 'application/json'


# -- where a view runs: the blocking option ----------------------------------------


def _thread_name(request: Any) -> dict[str, str]:
    import threading

    return {'thread': threading.current_thread().name}


async def test_sync_views_run_in_a_request_thread_unless_not_blocking(
    config: Configurator, make_router: MakeRouter
) -> None:
    import threading

    config.add_route('blocking', '/blocking')
    config.add_route('quick', '/quick')
    config.add_view(_thread_name, route_name='blocking', renderer='json')
    config.add_view(_thread_name, route_name='quick', renderer='json', blocking=False)
    router = make_router()
    blocking = (await send(router, '/blocking')).json['thread']
    quick = (await send(router, '/quick')).json['thread']
    assert blocking.startswith('aiotao-request')
    assert quick == threading.current_thread().name  # the loop's own


async def test_pyramids_not_found_page_takes_no_thread(
    config: Configurator, make_router: MakeRouter
) -> None:
    router = make_router()
    assert (await send(router, '/nowhere')).status_int == 404
    assert router.threads.started == 0


@pytest.mark.parametrize(
    ('view', 'blocking', 'message'),
    [
        ('async', True, 'blocking=True for the view .* coroutine function'),
        ('sync', 'yes', "blocking='yes' for the view .*: it must be True"),
    ],
)
def test_a_wrong_blocking_option_is_a_configuration_error(
    config: Configurator, view: str, blocking: Any, message: str
) -> None:
    from pyramid.exceptions import ConfigurationError

    async def async_view(request: Any) -> str:
        return ''

    config.add_route('view', '/view')
    config.add_view(
        async_view if view == 'async' else _thread_name,
        route_name='view',
        renderer='string',
        blocking=blocking,
    )
    with pytest.raises(ConfigurationError, match=message):
        config.commit()
