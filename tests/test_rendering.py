"""The renderer path gives Pyramid's responses, whichever way it takes.

Each case configures one view twice, on stock Pyramid and with aiotao
included, and compares what a client gets (status, header list in order,
body) and what ``request.response`` is left as.  The cases cover the
shortcut (Pyramid's ``string`` and ``json`` renderers, a template-like
renderer) and every condition that sends a request down Pyramid's own
steps.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.events import BeforeRender
from pyramid.exceptions import ConfigurationError
from pyramid.renderers import JSON
from pyramid.request import Request
from pyramid.response import Response

from aiotao import make_async_app
from aiotao.rendering import response_shape

Setup = Callable[[Configurator], None]
seen: list[Any] = []


def served(setup: Setup, path: str = '/', aiotao: bool = True, **settings: Any) -> Any:
    """``(status, headerlist, body)`` of ``GET path``, and the request's response."""
    config = Configurator(settings=settings)
    if aiotao:
        config.include('aiotao')
    setup(config)
    seen.clear()
    environ = Request.blank(path).environ
    if aiotao:
        router = make_async_app(config)
        response = asyncio.run(router.handle(environ))
    else:
        app = config.make_wsgi_app()
        with app.request_context(environ) as request:
            response = app.invoke_request(request)
    return (response.status, response.headerlist, response.body), list(seen)


def same_as_pyramid(setup: Setup, path: str = '/', **settings: Any) -> Any:
    ours = served(setup, path, **settings)
    theirs = served(setup, path, aiotao=False, **settings)
    assert ours == theirs
    return ours[0]


def view(result: Any, renderer: str = 'string', **options: Any) -> Setup:
    def setup(config: Configurator) -> None:
        def the_view(request: Any) -> Any:
            return result(request) if callable(result) else result

        config.add_view(the_view, renderer=renderer, **options)

    return setup


def sync_view(func: Callable[[Any], Any], renderer: str = 'string') -> Setup:
    def setup(config: Configurator) -> None:
        config.add_view(func, renderer=renderer)

    return setup


def remember_response(request: Any) -> None:
    """A finished callback: what ``request.response`` was left as."""
    response = request.response
    seen.append((response.status, response.headerlist, response.body))


@pytest.mark.parametrize(
    'result',
    ['Hello, world!', 'h\u00e9llo \u2603', '', 'x' * 100_000],
    ids=['ascii', 'non-ascii', 'empty', 'large'],
)
def test_string_renderer(result: str) -> None:
    _status, headers, body = same_as_pyramid(view(result))
    assert body == result.encode('utf-8')
    assert dict(headers)['Content-Type'] == 'text/plain; charset=UTF-8'


def test_async_view_renders_as_a_sync_one() -> None:
    def setup(config: Configurator) -> None:
        async def the_view(request: Any) -> Any:
            return {'a': '\u2603'}

        config.add_route('json', '/json')
        config.add_view(the_view, route_name='json', renderer='json')

    assert served(setup, '/json')[0] == served(view({'a': '\u2603'}, 'json'))[0]


def test_string_renderer_of_a_non_string() -> None:
    assert same_as_pyramid(view(42))[2] == b'42'


def test_string_renderer_request_response_is_the_response() -> None:
    def hello(request: Any) -> str:
        request.add_finished_callback(remember_response)
        return 'hello'

    (status, headers, body), left = served(sync_view(hello))
    assert left == [(status, headers, body)]
    assert (status, headers, body) == served(sync_view(hello), aiotao=False)[0]


def test_view_that_touched_request_response() -> None:
    def touching(request: Any) -> str:
        request.response.status = 201
        request.response.headers['X-Made'] = 'by the view'
        request.response.set_cookie('a', '1')
        return 'made'

    status, headers, _ = same_as_pyramid(sync_view(touching))
    assert status == '201 Created'
    assert ('X-Made', 'by the view') in headers


def test_view_that_set_a_content_type() -> None:
    def typed(request: Any) -> Any:
        request.response.content_type = 'text/csv'
        return {'a': 1}

    for renderer in ('json', 'string'):
        headers = dict(same_as_pyramid(sync_view(typed, renderer))[1])
        assert headers['Content-Type'].startswith('text/csv')


def test_json_renderer() -> None:
    result = {'message': 'Hello, world!', 'n': [1, 2.5, None, True], 'u': '\u2603'}
    _status, headers, body = same_as_pyramid(view(result, 'json'))
    assert json.loads(body) == result
    assert dict(headers)['Content-Type'] == 'application/json'


def test_json_renderer_adapters_and_json_method() -> None:
    class WithJson:
        def __json__(self, request: Any) -> Any:
            return {'path': request.path}

    def setup(config: Configurator) -> None:
        renderer = JSON()
        renderer.add_adapter(datetime.date, lambda d, request: d.isoformat())
        config.add_renderer('json', renderer)
        view([WithJson(), datetime.date(2026, 12, 4)], 'json')(config)

    body = same_as_pyramid(setup)[2]
    assert json.loads(body) == [{'path': '/'}, '2026-12-04']


class Counted:
    """Serialized by ``__json__``, which writes to ``request.response``."""

    def __json__(self, request: Any) -> Any:
        response = request.response
        response.headers['X-Seen-Type'] = response.content_type
        return 'counted'


def test_json_method_writing_to_request_response() -> None:
    headers = dict(same_as_pyramid(view({'a': Counted()}, 'json'))[1])
    assert headers['X-Seen-Type'] == 'application/json'


def test_json_encoder_class_of_the_application() -> None:
    class Encoder(json.JSONEncoder):
        def encode(self, obj: Any) -> str:
            from pyramid.threadlocal import get_current_request

            response = get_current_request().response
            response.headers['X-Encoder'] = response.content_type
            return super().encode(obj)

    def setup(config: Configurator) -> None:
        config.add_renderer('json', JSON(cls=Encoder))
        view({'a': 1}, 'json')(config)

    assert dict(same_as_pyramid(setup)[1])['X-Encoder'] == 'application/json'


def test_json_renderer_error_leaves_what_pyramid_leaves() -> None:
    def failing(request: Any) -> Any:
        request.add_finished_callback(remember_response)
        return {'not json': object()}

    def setup(config: Configurator) -> None:
        config.add_view(failing, renderer='json')

        def handled(exc: Any, request: Any) -> Response:
            return Response('handled', status=500)

        config.add_view(handled, context=TypeError)

    same_as_pyramid(setup)
    assert seen and dict(seen[0][1])['Content-Type'] == 'application/json'


def test_json_renderer_with_options_and_jsonp() -> None:
    def setup(config: Configurator) -> None:
        config.add_renderer('json', JSON(indent=2, sort_keys=True))
        view({'b': 1, 'a': [1]}, 'json')(config)

    assert same_as_pyramid(setup)[2] == b'{\n  "a": [\n    1\n  ],\n  "b": 1\n}'

    def jsonp(config: Configurator) -> None:
        from pyramid.renderers import JSONP

        config.add_renderer('jsonp', JSONP(param_name='callback'))
        view({'a': 1}, 'jsonp')(config)

    same_as_pyramid(jsonp, '/?callback=f')


def template_renderer(info: Any) -> Any:
    """A template-like renderer: the system values and the value, as text."""

    def render(value: Any, system: Any) -> Any:
        names = sorted(system)
        return f'{info.name}: {value!r} {names} {system["renderer_name"]}'

    return render


def test_other_renderer_gets_pyramids_system_values() -> None:
    def setup(config: Configurator) -> None:
        config.add_renderer('.tmpl', template_renderer)
        view({'a': 1}, 'page.tmpl')(config)

    body = same_as_pyramid(setup)[2]
    assert b'get_csrf_token' in body and b'renderer_info' in body


def test_other_renderer_returning_bytes_or_touching_the_response() -> None:
    def bytes_renderer(info: Any) -> Any:
        return lambda value, system: b'raw bytes'

    def touching_renderer(info: Any) -> Any:
        def render(value: Any, system: Any) -> str:
            system['request'].response.content_type = 'text/x-mine'
            return 'mine'

        return render

    def setup(config: Configurator) -> None:
        config.add_renderer('bytes', bytes_renderer)
        config.add_renderer('mine', touching_renderer)
        config.add_route('bytes', '/bytes')
        config.add_route('mine', '/mine')
        view('x', 'bytes', route_name='bytes')(config)
        view('x', 'mine', route_name='mine')(config)

    assert same_as_pyramid(setup, '/bytes')[2] == b'raw bytes'
    headers = dict(same_as_pyramid(setup, '/mine')[1])
    assert headers['Content-Type'].startswith('text/x-mine')


def test_before_render_subscribers_see_and_change_the_values() -> None:
    def subscriber(event: Any) -> None:
        seen.append(sorted(event))
        event['extra'] = 'added'
        event.rendering_val['more'] = True

    def setup(config: Configurator) -> None:
        config.add_subscriber(subscriber, BeforeRender)
        config.add_renderer('.tmpl', template_renderer)
        config.add_route('json', '/json')
        config.add_route('page', '/page')
        view({'a': 1}, 'json', route_name='json')(config)
        view({'a': 1}, 'page.tmpl', route_name='page')(config)

    assert json.loads(same_as_pyramid(setup, '/json')[2]) == {'a': 1, 'more': True}
    assert b'extra' in same_as_pyramid(setup, '/page')[2]


def test_response_factory_of_the_application() -> None:
    def made(request: Any) -> Response:
        response = Response()
        response.headers['X-Factory'] = 'mine'
        return response

    def setup(config: Configurator) -> None:
        config.set_response_factory(made)
        view('hi')(config)

    assert dict(same_as_pyramid(setup)[1])['X-Factory'] == 'mine'


def test_override_renderer() -> None:
    def overriding(request: Any) -> Any:
        request.override_renderer = 'json'
        return {'a': 1}

    assert same_as_pyramid(sync_view(overriding))[2] == b'{"a": 1}'


def test_text_the_charset_cannot_encode() -> None:
    # a lone surrogate: WebOb refuses it, after the renderer made the response
    def setup(config: Configurator) -> None:
        def handled(exc: Any, request: Any) -> Response:
            remember_response(request)
            return Response('refused', status=500)

        config.add_view(handled, context=UnicodeEncodeError)
        view('\ud800')(config)

    assert same_as_pyramid(setup)[2] == b'refused'


def test_response_shape_is_webobs() -> None:
    response = Response()
    response.content_type = 'text/plain'
    response.text = 'abc'
    shape = response_shape('text/plain')
    assert shape is not None
    made = shape.response(b'abc')
    assert made.headerlist == response.headerlist
    assert made.body == b'abc' and made.status == '200 OK'
    made.text = 'changed'  # an ordinary response from then on
    assert made.headers['Content-Length'] == '7'


# -- aiotao.json = orjson -------------------------------------------------------

orjson = pytest.importorskip('orjson')


def test_orjson_setting_serializes_with_orjson() -> None:
    result = {'message': 'Hello, world!', 'u': '\u2603', 'n': [1, None]}
    (status, headers, body), _ = served(
        view(result, 'json'), **{'aiotao.json': 'orjson'}
    )
    assert body == orjson.dumps(result)
    assert json.loads(body) == result
    stock = served(view(result, 'json'), aiotao=False)[0]
    assert (status, [name for name, _ in headers]) == (
        stock[0],
        [name for name, _ in stock[1]],
    )
    assert dict(headers)['Content-Length'] == str(len(body))


def test_orjson_uses_the_renderers_adapters() -> None:
    class WithJson:
        def __json__(self, request: Any) -> Any:
            return 'from __json__'

    def setup(config: Configurator) -> None:
        renderer = JSON()
        renderer.add_adapter(datetime.datetime, lambda d, request: 'adapted')
        config.add_renderer('json', renderer)
        view([WithJson(), datetime.datetime(2026, 12, 4)], 'json')(config)

    body = served(setup, **{'aiotao.json': 'orjson'})[0][2]
    assert json.loads(body) == ['from __json__', 'adapted']


def test_orjson_json_method_writing_to_request_response() -> None:
    (_, headers, body), _ = served(
        view({'a': Counted()}, 'json'), **{'aiotao.json': 'orjson'}
    )
    assert json.loads(body) == {'a': 'counted'}
    assert dict(headers)['X-Seen-Type'] == 'application/json'
    assert dict(headers)['Content-Type'] == 'application/json'
    assert dict(headers)['Content-Length'] == str(len(body))


def test_orjson_errors_are_pyramids() -> None:
    def setup(config: Configurator) -> None:
        def handled(exc: Any, request: Any) -> Response:
            return Response(type(exc).__name__, status=500)

        config.add_view(handled, context=Exception)
        config.add_route('big', '/big')
        config.add_route('bad', '/bad')
        view({'big': 2**70}, 'json', route_name='big')(config)
        view({'bad': object()}, 'json', route_name='bad')(config)

    ours = served(setup, '/big', **{'aiotao.json': 'orjson'})[0]
    assert ours[2] == b'{"big": 1180591620717411303424}'  # json.dumps's
    assert served(setup, '/bad', **{'aiotao.json': 'orjson'})[0][2] == b'TypeError'


def test_orjson_not_used_for_a_json_renderer_with_options() -> None:
    def setup(config: Configurator) -> None:
        config.add_renderer('json', JSON(indent=1))
        view({'a': 1}, 'json')(config)

    assert served(setup, **{'aiotao.json': 'orjson'})[0][2] == b'{\n "a": 1\n}'


def test_json_setting_is_checked_at_include() -> None:
    config = Configurator(settings={'aiotao.json': 'simplejson'})
    with pytest.raises(ConfigurationError, match=r'aiotao.json = .simplejson.'):
        config.include('aiotao')


# -- pyramid_jinja2 ---------------------------------------------------------------

PAGE = """{% extends "layout.jinja2" %}{% block body %}{% trans %}Hello{% endtrans %}
{{ request.path }} {{ renderer_name }} {{ title }} {{ context.__class__.__name__ }}
{% endblock %}"""
LAYOUT = '<html><title>{{ title }}</title>{% block body %}{% endblock %}</html>'


def jinja2_page(directory: Any, **options: Any) -> Setup:
    (directory / 'page.jinja2').write_text(PAGE)
    (directory / 'layout.jinja2').write_text(LAYOUT)

    def setup(config: Configurator) -> None:
        config.include('pyramid_jinja2')
        config.add_jinja2_search_path(str(directory))
        view({'title': 'T\u00e9'}, 'page.jinja2', **options)(config)

    return setup


def test_jinja2_page_as_pyramid_renders_it(tmp_path: Any) -> None:
    body = same_as_pyramid(jinja2_page(tmp_path))[2].decode()
    assert 'Hello\n/ page.jinja2 T\u00e9 DefaultRootFactory' in body


def test_jinja2_before_render_subscriber(tmp_path: Any) -> None:
    def subscriber(event: Any) -> None:
        event.rendering_val['title'] = 'from a subscriber'

    def setup(config: Configurator) -> None:
        config.add_subscriber(subscriber, BeforeRender)
        jinja2_page(tmp_path)(config)

    assert b'from a subscriber' in same_as_pyramid(setup)[2]


def test_jinja2_templates_reload(tmp_path: Any) -> None:
    config = Configurator(settings={'pyramid.reload_templates': 'true'})
    config.include('aiotao')
    jinja2_page(tmp_path)(config)
    router = make_async_app(config)

    async def twice() -> list[bytes]:
        first = await router.handle(Request.blank('/').environ)
        page = tmp_path / 'layout.jinja2'
        page.write_text('changed {% block body %}{% endblock %}')
        stat = page.stat()
        os.utime(page, (stat.st_atime + 10, stat.st_mtime + 10))
        second = await router.handle(Request.blank('/').environ)
        return [first.body, second.body]

    first, second = asyncio.run(twice())
    assert first.startswith(b'<html>') and second.startswith(b'changed')
