"""Security checks of the demo under a real worker, and of the committed inis.

Covered elsewhere, not repeated here:

* CSRF on state-changing views: the demo's ``POST /items`` without its
  token is a 400 (``tests/demo/test_demo.py``); the generated
  ``aiotao_websocket`` project's own test
  ``test_adding_without_the_csrf_token_is_refused`` passes in
  ``tests/scaffolds/test_generated_projects.py`` (the starter has no
  state-changing view);
* websocket views honour ``permission=`` (``tests/websocket/test_views.py``)
  and the origin policy's settings (``tests/websocket/test_handshake.py``);
* body and header size limits: ``test_malformed_input.py`` (413 past
  ``aiotao.max_body_size``, 400 for a request line or header over
  gunicorn's limits);
* no XSS in the chat and game pages, in chromium (``tests/demo/``).
"""

from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.request import urlopen

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Origin

from tests.harness.gunicorn import REPO_ROOT, ServerProcess
from tests.reliability.conftest import ServeDemo
from tests.reliability.wire import exchange, status_of

SOCKETS = ['/chat/lobby/socket', '/game/ws', '/echo']


def handshake(port: int, path: str, origin: str | None) -> int | None:
    """The status of a websocket handshake to ``path`` sent with ``origin``."""
    lines = [
        f'GET {path} HTTP/1.1',
        f'Host: 127.0.0.1:{port}',
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        *([f'Origin: {origin}'] if origin is not None else []),
    ]
    head = exchange(port, ('\r\n'.join(lines) + '\r\n\r\n').encode(), head_only=True)
    return status_of(head)


@pytest.fixture
def served(serve_demo: ServeDemo) -> ServerProcess:
    return serve_demo()


def test_a_foreign_origin_cannot_open_the_demos_websockets(
    served: ServerProcess,
) -> None:
    port = served.port
    origins = {
        # cross-site websocket hijacking: another site's page, the user's cookies
        'http://evil.example': 403,
        f'http://127.0.0.1.evil.example:{port}': 403,
        f'https://127.0.0.1:{port}': 403,  # another scheme is another origin
        'null': 403,  # sandboxed frames, file: pages
        f'http://127.0.0.1:{port}': 101,  # the demo's own pages
    }
    statuses = {
        (path, origin): handshake(port, path, origin)
        for path in SOCKETS
        for origin in origins
    }
    assert statuses == {
        (path, origin): status for path in SOCKETS for origin, status in origins.items()
    }


async def test_the_chat_names_the_sessions_guest_and_not_a_forged_one(
    served: ServerProcess,
) -> None:
    with urlopen(served.url('/chat/lobby'), timeout=5) as page:
        html = page.read().decode()
        cookie = SimpleCookie(page.headers['Set-Cookie'])
    nick = re.search(r'<strong id="nick">([^<]+)<', html)
    assert nick is not None
    [(name, morsel)] = cookie.items()
    url = f'ws://127.0.0.1:{served.port}/chat/lobby/socket'
    origin = Origin(f'http://127.0.0.1:{served.port}')

    async def welcome(cookie_value: str) -> dict[str, object]:
        async with connect(
            url,
            origin=origin,
            additional_headers={'Cookie': f'{name}={cookie_value}'},
        ) as ws:
            while True:  # presence events of earlier connections may come first
                message: dict[str, object] = json.loads(await ws.recv())
                if message['type'] == 'welcome':
                    return message

    assert (await welcome(morsel.value))['nick'] == nick.group(1)
    # a session cookie whose signature does not match is no one's session
    forged = morsel.value[:-4] + (
        'AAAA' if not morsel.value.endswith('AAAA') else 'BBBB'
    )
    forged_welcome = await welcome(forged)
    print(morsel.value, forged, forged_welcome)
    assert forged_welcome['nick'] != nick.group(1)


#: A setting whose name says it is a secret, with a value in the file.
SECRET_SETTING = re.compile(
    r'^\s*([\w.]*(secret|password|passwd|api[_.]?key|token)[\w.]*)\s*[=:]\s*(\S.*)$',
    re.IGNORECASE | re.MULTILINE,
)
#: Values that are no secret: a file holding one, an environment variable.
NOT_A_SECRET = re.compile(r'%\(here\)s|^\$|^%\(ENV_|\.secret$|^\{\{')


def committed_inis() -> list[Path]:
    inis = [REPO_ROOT / 'development.ini']
    inis += sorted((REPO_ROOT / 'aiotao' / 'scaffolds').glob('*/*.ini_tmpl'))
    return inis


def test_no_secret_is_committed_in_an_ini() -> None:
    inis = committed_inis()
    assert len(inis) >= 5, inis  # the repo's and both scaffolds' dev/prod inis
    found = [
        f'{path.relative_to(REPO_ROOT)}: {match.group(0).strip()}'
        for path in inis
        for match in SECRET_SETTING.finditer(path.read_text())
        if not match.group(1).endswith('_file')
        and not NOT_A_SECRET.search(match.group(3))
    ]
    assert found == [], 'secrets belong in the environment or an uncommitted file'


def test_the_secret_pattern_finds_a_committed_secret() -> None:
    # the check above can fail: these are what it looks for
    text = 'session.secret = hunter2\nredis.password: x\nsession.secret_file = %(here)s/var/s\n'
    names = [m.group(1) for m in SECRET_SETTING.finditer(text)]
    assert names == ['session.secret', 'redis.password', 'session.secret_file']
