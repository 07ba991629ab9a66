"""The test client and a real gunicorn worker give the same results.

Every test runs twice (fixture ``served``): against :class:`TestClient`
in-process, and against the same ini served by ``gunicorn --paste`` with
aiotao's worker, over TCP.  The assertions are the same for both: status,
headers, bodies, cookies kept across calls, websocket messages and close
codes (1000, 4000, 1009, 1011) and refused handshakes (403, 404, 400).
"""

from __future__ import annotations

import pytest

from aiotao.testing import WebsocketRejected
from aiotao.websocket import ConnectionClosed
from tests.testing.served import Served


async def test_json_view_status_headers_and_body(served: Served) -> None:
    response = await served.request('GET', '/hello', params={'name': 'Zoë'})
    assert response.status == '200 OK'
    assert response.content_type == 'application/json'
    assert response.headers['X-Greeting'] == 'hi'
    assert response.json == {'hello': 'Zoë', 'method': 'GET'}
    assert int(response.headers['Content-Length']) == len(response.body)


async def test_query_form_json_and_files_reach_the_view(served: Served) -> None:
    form = await served.request(
        'POST', '/echo?x=1', data={'a': 'b', 'c': 'd'}, headers={'X-Custom': 'yes'}
    )
    assert form.json['query'] == [['x', '1']]
    assert form.json['form'] == [['a', 'b'], ['c', 'd']]
    assert form.json['x_custom'] == 'yes'
    assert form.json['remote_addr'] == '127.0.0.1'
    body = await served.request('PUT', '/echo', json={'list': [1, 2]})
    assert (body.json['method'], body.json['json']) == ('PUT', {'list': [1, 2]})
    upload = await served.request(
        'POST',
        '/echo',
        data={'title': 'notes'},
        files={'doc': ('notes.txt', b'some text', 'text/plain')},
    )
    assert upload.json['form'] == [['title', 'notes']]
    assert upload.json['files'] == {'doc': ['notes.txt', 'some text']}


async def test_cookies_are_kept_between_calls(served: Served) -> None:
    login = await served.request('GET', '/login', params={'name': 'alice'})
    assert login.json == {'logged_in': 'alice'}
    # three Set-Cookie headers in one response
    assert len(login.headers.getall('Set-Cookie')) == 3
    assert set(login.cookies) == {'session', 'flavour', 'scoped'}

    me = await served.request('GET', '/me')
    assert me.json == {'name': 'alice', 'cookies': ['flavour', 'session']}
    # the cookie with Path=/scoped goes only there
    scoped = await served.request('GET', '/scoped/me')
    assert scoped.json['cookies'] == ['flavour', 'scoped', 'session']

    await served.request('GET', '/logout')
    # the deleted cookie (Max-Age=0) is gone from the jar; the session
    # cookie was replaced by an empty session's
    assert served.cookie_names() == ['scoped', 'session']
    me = await served.request('GET', '/me')
    assert me.json == {'name': None, 'cookies': ['session']}


async def test_http_exceptions_are_rendered(served: Served) -> None:
    missing = await served.request('GET', '/nowhere', headers={'Accept': '*/*'})
    assert missing.status_int == 404
    assert missing.content_type == 'text/html'
    assert 'The resource could not be found.' in missing.text
    forbidden = await served.request(
        'GET', '/forbidden', headers={'Accept': 'text/plain'}
    )
    assert forbidden.status_int == 403
    assert forbidden.content_type == 'text/plain'
    assert 'not for you' in forbidden.text


async def test_an_unhandled_error_is_a_500(served: Served) -> None:
    response = await served.request('GET', '/boom')
    assert response.status == '500 Internal Server Error'
    assert response.text == (
        '500 Internal Server Error\n\n'
        'The server encountered an unexpected error; it has been logged.\n'
    )


async def test_head_has_the_headers_and_no_body(served: Served) -> None:
    head = await served.request('HEAD', '/hello')
    assert head.status_int == 200
    assert head.body == b''
    # the length of the body a HEAD would have had
    body = b'{"hello": "world", "method": "HEAD"}'
    assert head.headers['Content-Length'] == str(len(body))
    assert head.headers['X-Greeting'] == 'hi'


async def test_a_streamed_body_arrives_whole(served: Served) -> None:
    response = await served.request('GET', '/stream')
    assert response.body == b''.join(f'chunk {i}\n'.encode() for i in range(5))
    assert 'Content-Length' not in response.headers


async def test_redirects_are_returned_not_followed(served: Served) -> None:
    response = await served.request('GET', '/redirect')
    assert response.status_int == 302
    assert response.headers['Location'] == served.url('/hello?name=again')


async def test_a_body_over_the_limit_gets_413(served: Served) -> None:
    response = await served.request('POST', '/echo', data=b'x' * 5000)
    assert response.status_int == 413
    assert 'this server accepts at most 4096 bytes' in response.text
    assert 'aiotao.max_body_size' in response.text
    accepted = await served.request('POST', '/echo', data=b'x' * 4096)
    assert accepted.json['length'] == 4096


async def test_the_server_started_the_application(served: Served) -> None:
    response = await served.request('GET', '/lifecycle')
    assert response.json == {'started': 1}


# -- websockets ----------------------------------------------------------------


async def test_websocket_echo_and_normal_close(served: Served) -> None:
    async with served.websocket('/ws/echo') as ws:
        await ws.send('hello')
        assert await ws.recv() == 'hello'
        await ws.send(b'\x00\xff')
        assert await ws.recv() == b'\x00\xff'
        await ws.close()
        with pytest.raises(ConnectionClosed) as closed:
            await ws.send('too late')
    assert closed.value.code == 1000


async def test_websocket_json_with_the_session_of_earlier_requests(
    served: Served,
) -> None:
    await served.request('GET', '/login', params={'name': 'bob'})
    async with served.websocket('/ws/json') as ws:
        await ws.send_json({'n': 1})
        assert await ws.recv_json() == {'got': {'n': 1}, 'user': 'bob'}


async def test_a_failing_websocket_view_closes_with_1011(served: Served) -> None:
    async with served.websocket('/ws/fail') as ws:
        await ws.send('go')
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert (closed.value.code, closed.value.reason) == (1011, 'internal server error')


async def test_a_message_over_the_limit_closes_with_1009(served: Served) -> None:
    async with served.websocket('/ws/echo') as ws:
        await ws.send('x' * 1000)  # the limit is inclusive
        assert await ws.recv() == 'x' * 1000
        await ws.send('x' * 1001)
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert (closed.value.code, closed.value.reason) == (1009, '')


async def test_the_server_closes_with_its_code_and_reason(served: Served) -> None:
    async with served.websocket('/ws/bye') as ws:
        assert await ws.recv() == 'bye'
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert (closed.value.code, closed.value.reason) == (4000, 'done here')


async def test_a_websocket_permission_refuses_the_handshake(served: Served) -> None:
    with pytest.raises(WebsocketRejected) as refused:
        async with served.websocket('/ws/private', headers={'X-User': 'eve'}):
            pass
    assert refused.value.response.status_int == 403
    async with served.websocket('/ws/private', headers={'X-User': 'admin'}) as ws:
        assert await ws.recv() == 'hello admin'


async def test_a_foreign_origin_is_refused_and_the_own_accepted(
    served: Served,
) -> None:
    with pytest.raises(WebsocketRejected) as refused:
        async with served.websocket('/ws/echo', origin='https://evil.example'):
            pass
    assert refused.value.response.status_int == 403
    assert "origin 'https://evil.example' is not allowed" in refused.value.response.text
    async with served.websocket('/ws/echo', origin=served.origin) as ws:
        await ws.send('same origin')
        assert await ws.recv() == 'same origin'


async def test_no_route_refuses_the_handshake_with_404(served: Served) -> None:
    with pytest.raises(WebsocketRejected) as refused:
        async with served.websocket('/ws/nowhere'):
            pass
    assert refused.value.response.status_int == 404


async def test_a_plain_request_to_a_websocket_view_gets_400(served: Served) -> None:
    response = await served.request('GET', '/ws/echo')
    assert response.status_int == 400
    assert 'This URL is a websocket endpoint' in response.text


async def test_the_subprotocol_is_negotiated(served: Served) -> None:
    async with served.websocket(
        '/ws/subprotocol', subprotocols=('chat.v3', 'chat.v1')
    ) as ws:
        assert ws.subprotocol == 'chat.v1'
        assert await ws.recv() == 'chat.v1'
