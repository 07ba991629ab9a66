"""Pyramid add-ons keep their behaviour with aiotao included.

:mod:`tests.pkgs.addonsapp` uses cornice, pyramid_layout, pyramid_openapi3
and pyramid_debugtoolbar.  Requests go through the WSGI path (WebTest) and
the async path (``make_async_app(app).handle()``); the toolbar is looked at
under aiotao's gunicorn worker, as a developer would.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from pyramid.request import Request
from webtest import TestApp

from aiotao import make_async_app
from tests.harness.gunicorn import (
    ServerFactory,
    gunicorn,  # noqa: F401  (fixture)
)
from tests.pkgs.addonsapp import main


class Answer:
    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.text = body.decode()

    def json(self) -> Any:
        return json.loads(self.text)


Send = Callable[..., Answer]


def through_wsgi(app: Any) -> Send:
    client = TestApp(app)

    def send(path: str, method: str = 'GET', **kw: Any) -> Answer:
        response = client.request(path, method=method, expect_errors=True, **kw)
        return Answer(response.status_int, response.content_type, response.body)

    return send


def through_handle(app: Any) -> Send:
    router = make_async_app(app)

    def send(path: str, method: str = 'GET', **kw: Any) -> Answer:
        request = Request.blank(path, method=method, **kw)
        response = asyncio.run(router.handle(request.environ))
        return Answer(response.status_int, response.content_type, response.body)

    return send


@pytest.fixture(scope='module')
def app() -> Any:
    return main({})


@pytest.fixture(params=['wsgi path', 'async path'])
def send(request: pytest.FixtureRequest, app: Any) -> Send:
    return through_wsgi(app) if request.param == 'wsgi path' else through_handle(app)


@pytest.mark.parametrize('path', ['/cornice/items', '/cornice/async-items'])
def test_cornice_answers_and_reports_errors(send: Send, path: str) -> None:
    assert send(f'{path}?name=kettle').json() == {'name': 'kettle'}
    refused = send(path)
    assert refused.status == 400
    assert refused.json() == {
        'status': 'error',
        'errors': [
            {
                'location': 'querystring',
                'name': 'name',
                'description': 'name is required',
            }
        ],
    }


@pytest.mark.parametrize(('path', 'name'), [('/panel', 'Ada'), ('/async-panel', 'Bo')])
def test_pyramid_layout_panels_render(send: Send, path: str, name: str) -> None:
    assert send(path).text == f'<p class="greeting">Hello, {name}!</p>'


def test_pyramid_openapi3_validates_requests(send: Send) -> None:
    ok = send(
        '/api/greetings',
        'POST',
        body=b'{"name": "Ada"}',
        content_type='application/json',
    )
    assert (ok.status, ok.json()) == (200, {'greeting': 'Hello, Ada!'})
    refused = send(
        '/api/greetings',
        'POST',
        body=b'{"nom": "Ada"}',
        content_type='application/json',
    )
    assert refused.status == 400
    assert "'name' is a required property" in refused.text


def test_a_sync_exception_view_handles_the_active_exception(send: Send) -> None:
    answer = send('/failing')
    assert answer.text == (
        'handled the view broke; active exception is the one handled: True'
    )


@pytest.mark.timeout(60)
def test_the_debug_toolbar_shows_the_requests_page_under_the_worker(
    gunicorn: ServerFactory,  # noqa: F811
    tmp_path: Any,
) -> None:
    ini = tmp_path / 'app.ini'
    ini.write_text('[app:main]\nuse = call:tests.pkgs.addonsapp:main\n')
    server = gunicorn(
        ['--paste', str(ini), '--worker-class', 'aiotao.serving.gunicorn.Worker'],
        ready_path='/page',
    )
    with urllib.request.urlopen(server.url('/page'), timeout=10) as response:
        page = response.read().decode()
    # the toolbar's button was injected into the page, linking to its page
    # about this request, which it kept
    link = re.search(r'"[^"]*(/_debug_toolbar/[0-9a-f]+)"', page)
    assert link, page
    with urllib.request.urlopen(server.url(link.group(1)), timeout=10) as response:
        toolbar = response.read().decode()
    assert response.status == 200
    assert '/page' in toolbar
    assert not re.search('request has been lost', toolbar, re.IGNORECASE)
    assert 'multiprocess' not in server.log()
