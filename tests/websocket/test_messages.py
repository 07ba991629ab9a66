"""Websocket message routing: dispatch by type, schemas, replies, errors, limits.

The dispatch tests need no socket; the served tests run the same router
behind a websocket view on each kind of real server.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyramid.config import Configurator
from pyramid.view import view_config

from aiotao.mappers import WebsocketMapper
from aiotao.websocket.connection import WebsocketConnection
from aiotao.websocket.messages import MessageError, MessageHandlers, MessageRouter
from aiotao.websocket.ratelimit import RateLimit
from aiotao.websocket.schema import Length, Range
from tests.websocket.app import TEST_SETTINGS
from tests.websocket.servers import SERVERS, RunningServer, serve


@dataclass
class Add:
    a: Annotated[int, Range(-1000, 1000)]
    b: Annotated[int, Range(-1000, 1000)]


@dataclass
class Say:
    text: Annotated[str, Length(1, 20)]


router = MessageRouter()


@router.on('add')
async def add(ws: Any, message: Add) -> int:
    return message.a + message.b


@router.on('say')
async def say(ws: Any, message: Say) -> None:
    await ws.send_json({'type': 'said', 'text': message.text})


@router.on('echo')
async def echo(ws: Any, message: dict[str, Any]) -> dict[str, Any]:
    return message


@router.on('slow')
async def slow(ws: Any, message: dict[str, Any]) -> str:
    # pushes while it works: server messages may come before the reply
    await ws.send_json({'type': 'progress'})
    await asyncio.sleep(0.05)
    return 'done'


@router.on('join')
async def join(ws: Any, message: dict[str, Any]) -> None:
    if 'room' not in message:
        raise MessageError('no_room', 'say which room to join', hint='{"room": ...}')


@router.on('crash')
async def crash(ws: Any, message: dict[str, Any]) -> None:
    raise RuntimeError('handler bug')


# -- dispatch, without a socket ------------------------------------------------


class Sent:
    """What handlers push through ``ws.send_json``, for dispatch tests."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def send_json(self, obj: Any) -> None:
        self.messages.append(obj)


async def dispatch(raw: str | bytes, target: Any = None) -> Any:
    return await router.dispatch(target or Sent(), raw)


async def test_a_message_with_an_id_gets_its_reply() -> None:
    assert await dispatch('{"type": "add", "id": 7, "a": 2, "b": 3}') == {
        'type': 'reply',
        'id': 7,
        'data': 5,
    }
    assert (await dispatch('{"type": "add", "id": "x-1", "a": 1, "b": 1}'))[
        'id'
    ] == 'x-1'


async def test_a_message_without_an_id_gets_no_reply_but_is_handled() -> None:
    ws = Sent()
    assert await dispatch('{"type": "say", "text": "hi"}', ws) is None
    assert ws.messages == [{'type': 'said', 'text': 'hi'}]


async def test_a_handler_without_a_schema_gets_the_fields_as_a_dict() -> None:
    reply = await dispatch('{"type": "echo", "id": 1, "x": [1, 2], "y": null}')
    assert reply['data'] == {'x': [1, 2], 'y': None}


@pytest.mark.parametrize(
    ('raw', 'code', 'text'),
    [
        ('{"type": "add", "a": 1', 'bad_json', 'not valid JSON'),
        ('[1, 2]', 'bad_json', 'expected a JSON object'),
        ('{"type": "add", "a": NaN, "b": 1}', 'bad_json', 'NaN is not JSON'),
        ('[' * 100_000 + ']' * 100_000, 'bad_json', 'not valid JSON'),
        (b'{"type": "add"}', 'bad_message', 'binary'),
        ('{"a": 1}', 'bad_message', '"type"'),
        ('{"type": 5}', 'bad_message', '"type"'),
        ('{"type": "add", "id": [1], "a": 1, "b": 1}', 'bad_message', '"id"'),
        ('{"type": "add", "id": true, "a": 1, "b": 1}', 'bad_message', '"id"'),
        ('{"type": "add", "id": "' + 'x' * 65 + '"}', 'bad_message', '"id"'),
        ('{"type": "fly"}', 'unknown_type', "unknown message type 'fly' (known: add, crash, echo"),
        ('{"type": "add", "a": 1}', 'invalid', "invalid 'add' message: b: is required"),
        ('{"type": "say", "text": "' + 'x' * 21 + '"}', 'invalid', 'text: must be at most 20 long'),
        ('{"type": "join"}', 'no_room', 'say which room to join'),
    ],
)  # fmt: skip
async def test_bad_messages_get_an_error_naming_the_problem(
    raw: str | bytes, code: str, text: str
) -> None:
    error = await dispatch(raw)
    assert error['type'] == 'error' and error['code'] == code, error
    assert text in error['message']


async def test_an_error_answers_the_id_it_concerns() -> None:
    error = await dispatch('{"type": "add", "id": 3, "a": "one", "b": 1}')
    assert error == {
        'type': 'error',
        'code': 'invalid',
        'message': "invalid 'add' message: a: expected an integer, got a string",
        'errors': [{'field': 'a', 'problem': 'expected an integer, got a string'}],
        'id': 3,
    }
    custom = await dispatch('{"type": "join", "id": 4}')
    assert custom['hint'] == '{"room": ...}' and custom['id'] == 4


async def test_a_failing_handler_is_logged_and_the_client_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, 'aiotao.websocket.messages'):
        error = await dispatch('{"type": "crash", "id": 9}')
    assert error == {
        'type': 'error',
        'code': 'internal_error',
        'message': 'the server failed to handle this message',
        'id': 9,
    }
    assert 'handler bug' in caplog.text  # the traceback is in the log, not sent


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
messages = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=20),
    st.fixed_dictionaries(
        {'type': st.sampled_from(['add', 'say', 'echo', 'join', 'nope', 7])},
        optional={
            'id': json_values,
            'a': json_values,
            'b': json_values,
            'text': json_values,
        },
    ).map(lambda m: json.dumps(m)),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=messages)
async def test_any_message_gets_a_reply_an_error_or_nothing_never_an_exception(
    raw: str | bytes,
) -> None:
    answer = await dispatch(raw)
    assert answer is None or answer['type'] in ('reply', 'error')
    if answer is not None and answer['type'] == 'error':
        assert answer['code'] != 'internal_error', answer
    json.dumps(answer)  # whatever comes back can be sent


# -- handlers as methods of an object per connection ----------------------------


class Counter(MessageHandlers):
    def __init__(self, ws: Any) -> None:
        super().__init__(ws)
        self.total = 0

    async def on_add(self, message: Add) -> int:
        self.total += message.a + message.b
        return self.total


async def test_methods_named_on_type_handle_that_type_with_their_schema() -> None:
    counter = Counter(Sent())
    assert Counter.router.types == ['add']
    raw = '{"type": "add", "id": 1, "a": 2, "b": 3}'
    assert (await Counter.router.dispatch(counter, raw))['data'] == 5
    assert (await Counter.router.dispatch(counter, raw))['data'] == 10
    bad = await Counter.router.dispatch(counter, '{"type": "add", "a": 2000, "b": 0}')
    assert bad['code'] == 'invalid'


def test_handlers_are_checked_when_registered() -> None:
    fresh = MessageRouter()
    with pytest.raises(TypeError, match='async def'):
        fresh.add('sync', lambda ws, message: None)

    async def one_argument(message: Any) -> None: ...

    with pytest.raises(TypeError, match=r'takes \(ws, message\)'):
        fresh.add('one', one_argument)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='already has a handler'):
        router.add('add', add)
    with pytest.raises(TypeError, match='cannot be checked'):

        @fresh.on('bad')
        async def bad(ws: Any, message: set[int]) -> None: ...


# -- served, on each kind of real server ------------------------------------------


@view_config(route_name='rpc', mapper=WebsocketMapper)
async def rpc(ws: WebsocketConnection) -> None:
    await router.serve(ws)


limited = MessageRouter(rate_limit=RateLimit(rate=2, burst=3, close_after=5))


@limited.on('ping')
async def ping(ws: Any, message: dict[str, Any]) -> str:
    return 'pong'


@view_config(route_name='limited', mapper=WebsocketMapper)
async def limited_view(ws: WebsocketConnection) -> None:
    await limited.serve(ws)


class CounterView:
    def __init__(self, context: Any, request: Any) -> None:
        pass

    async def __call__(self, ws: WebsocketConnection) -> None:
        await Counter(ws).serve()


def make_app() -> Any:
    config = Configurator(
        settings={**TEST_SETTINGS, 'aiotao.websocket.max_message_size': '4096'}
    )
    config.include('aiotao')
    config.add_route('rpc', '/rpc')
    config.add_route('limited', '/limited')
    config.add_route('counter', '/counter')
    config.add_view(CounterView, route_name='counter', mapper=WebsocketMapper)
    config.scan(__name__)
    return config.make_wsgi_app()


@pytest.fixture(params=SERVERS)
async def served(request: pytest.FixtureRequest) -> AsyncIterator[RunningServer]:
    async with serve(request.param, make_app()) as server:
        yield server


async def receive(client: Any) -> Any:
    async with asyncio.timeout(5):
        return json.loads(await client.recv())


async def test_served_replies_come_in_order_with_pushes_between(
    served: RunningServer,
) -> None:
    async with websockets.connect(served.ws('/rpc'), origin=served.origin) as client:
        await client.send('{"type": "slow", "id": 1}')
        await client.send('{"type": "add", "id": 2, "a": 20, "b": 22}')
        await client.send('{"type": "say", "text": "hello"}')
        assert [await receive(client) for _ in range(4)] == [
            {'type': 'progress'},
            {'type': 'reply', 'id': 1, 'data': 'done'},
            {'type': 'reply', 'id': 2, 'data': 42},
            {'type': 'said', 'text': 'hello'},
        ]


async def test_served_errors_go_to_the_client_and_the_connection_stays_open(
    served: RunningServer,
) -> None:
    async with websockets.connect(served.ws('/rpc'), origin=served.origin) as client:
        for raw in ('not json', '{"type": "warp", "id": 1}', '{"type": "crash"}'):
            await client.send(raw)
            assert (await receive(client))['type'] == 'error'
        await client.send('{"type": "add", "id": 2, "a": 1, "b": 1}')
        assert (await receive(client))['data'] == 2


async def test_served_an_oversized_message_closes_with_1009(
    served: RunningServer,
) -> None:
    async with websockets.connect(
        served.ws('/rpc'), origin=served.origin, max_size=None
    ) as client:
        await client.send('{"type": "say", "text": "' + 'x' * 5000 + '"}')
        async with asyncio.timeout(5):
            await client.wait_closed()
    assert client.close_code == 1009


async def test_served_over_the_rate_limit_is_refused_then_flooding_closed(
    served: RunningServer,
) -> None:
    async with websockets.connect(
        served.ws('/limited'), origin=served.origin
    ) as client:
        for id in range(4):
            await client.send(json.dumps({'type': 'ping', 'id': id}))
        answers = [await receive(client) for _ in range(4)]
        assert [a['type'] for a in answers] == ['reply'] * 3 + ['error']
        assert answers[3]['code'] == 'rate_limited'
        assert answers[3]['id'] == 3  # the client knows which was dropped
        for id in range(20):
            await client.send(json.dumps({'type': 'ping', 'id': id}))
        async with asyncio.timeout(5):
            await client.wait_closed()
    assert client.close_code == 1008
    assert client.close_reason == 'rate limit exceeded'


async def test_served_handler_objects_keep_state_per_connection(
    served: RunningServer,
) -> None:
    url = served.ws('/counter')
    async with (
        websockets.connect(url, origin=served.origin) as first,
        websockets.connect(url, origin=served.origin) as second,
    ):
        add = json.dumps({'type': 'add', 'id': 1, 'a': 5, 'b': 5})
        await first.send(add)
        await first.send(add)
        await second.send(add)
        assert [(await receive(first))['data'] for _ in range(2)] == [10, 20]
        assert (await receive(second))['data'] == 10
