"""The AsyncAPI document: generated from the routers, valid AsyncAPI 3.0, served.

Documents are checked against the official AsyncAPI 3.0.0 JSON Schema,
vendored in ``tests/websocket/asyncapi/`` (no network at test time).
The payload schemas are also checked against the router itself: a
message the router accepts matches its payload schema, one it refuses
does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema
import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError

from aiotao.mappers import WebsocketMapper
from aiotao.testing import TestClient
from aiotao.websocket import Length, MessageRouter, Range
from aiotao.websocket.asyncapi import asyncapi_document

SCHEMA = json.loads(
    (Path(__file__).parent / 'asyncapi' / 'asyncapi-3.0.0.json').read_text()
)


def check_asyncapi(document: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(SCHEMA).validate(document)


@dataclass
class Point:
    x: Annotated[float, Range(-10, 10)]
    y: Annotated[float, Range(-10, 10)]


@dataclass
class Post:
    """A post on the board."""

    text: Annotated[str, Length(1, 20)]
    tags: Annotated[list[str], Length(max=3)] = field(default_factory=list)
    mood: Literal['happy', 'sad'] | None = None
    at: Point | None = None


@dataclass
class Posted:
    text: str
    by: str


router = MessageRouter()


@router.on('post', permission='post')
async def post(ws: Any, message: Post) -> None:
    """Post to the board.

    Everyone on the board gets it."""


@router.on('ping')
async def ping(ws: Any, message: dict[str, Any]) -> str:
    return 'pong'


async def board(ws: Any) -> None:
    await router.serve(ws)


def make_config() -> Configurator:
    config = Configurator(settings={})
    config.include('aiotao')
    config.add_route('board', '/boards/{name:[a-z]+}/socket')
    config.add_view(board, route_name='board', mapper=WebsocketMapper)
    config.add_asyncapi_channel(
        'board', router, description='A board.', sends={'posted': Posted}
    )
    config.add_asyncapi_view('/asyncapi.json', title='Boards', version='2.1.0')
    return config


async def served_document(config: Configurator, path: str = '/asyncapi.json') -> Any:
    async with TestClient(config) as client:
        response = await client.get(path)
    assert response.content_type == 'application/json'
    return response.json


def test_the_vendored_schema_refuses_what_is_not_asyncapi_3() -> None:
    # the check can fail: a 2.x document, and a 3.0 one with a bad action
    with pytest.raises(jsonschema.ValidationError):
        check_asyncapi({'asyncapi': '2.6.0', 'info': {'title': 't', 'version': '1'}})
    with pytest.raises(jsonschema.ValidationError):
        check_asyncapi(
            {
                'asyncapi': '3.0.0',
                'info': {'title': 't', 'version': '1'},
                'channels': {'c': {'address': '/c'}},
                'operations': {
                    'o': {'action': 'publish', 'channel': {'$ref': '#/channels/c'}}
                },
            }
        )


async def test_a_users_router_is_described_and_the_document_is_asyncapi_3() -> None:
    document = await served_document(make_config())
    check_asyncapi(document)
    assert document['info'] == {'title': 'Boards', 'version': '2.1.0'}
    assert document['servers']['this'] == {
        'host': 'testserver',
        'protocol': 'ws',
        'description': 'this server',
    }
    channel = document['channels']['board']
    assert channel['address'] == '/boards/{name}/socket'
    assert set(channel['parameters']) == {'name'}
    operation = document['operations']['board.post']
    assert operation['action'] == 'receive'
    assert operation['x-aiotao-permission'] == 'post'
    assert 'x-aiotao-permission' not in document['operations']['board.ping']
    message = document['components']['messages']['board.post']
    assert message['summary'] == 'Post to the board.'
    assert document['operations']['board.server.push']['action'] == 'send'
    posted = document['components']['messages']['board.server.posted']['payload']
    assert posted['required'] == ['type', 'text', 'by']


@pytest.mark.parametrize(
    ('message', 'accepted'),
    [
        ({'type': 'post', 'text': 'hi'}, True),
        ({'type': 'post', 'id': 3, 'text': 'hi', 'tags': ['a'], 'mood': 'sad'}, True),
        ({'type': 'post', 'text': 'hi', 'at': {'x': 1, 'y': 2.5}}, True),
        ({'type': 'post', 'text': ''}, False),
        ({'type': 'post', 'text': 'x' * 21}, False),
        ({'type': 'post', 'text': 'hi', 'tags': ['a', 'b', 'c', 'd']}, False),
        ({'type': 'post', 'text': 'hi', 'mood': 'angry'}, False),
        ({'type': 'post', 'text': 'hi', 'at': {'x': 11, 'y': 0}}, False),
        ({'type': 'post', 'text': 'hi', 'colour': 'red'}, False),
        ({'type': 'post'}, False),
    ],
)
async def test_the_payload_schema_says_what_the_router_accepts(
    message: dict[str, Any], accepted: bool
) -> None:
    config = make_config()
    config.commit()
    document = asyncapi_document(config.registry, title='t', version='1')
    payload = document['components']['messages']['board.post']['payload']
    valid = jsonschema.Draft7Validator(payload).is_valid(message)

    # the router's own verdict (the permission aside: no security policy)
    answer = await router.dispatch(board_target(), json.dumps({**message, 'id': 1}))
    assert answer is not None
    router_accepts = answer['type'] == 'reply'
    assert (valid, router_accepts) == (accepted, accepted)


def board_target() -> Any:
    """A connection whose request has no security policy: permissions allow."""
    config = Configurator(settings={})
    config.include('aiotao')
    config.commit()

    class Request:
        registry = config.registry
        context = None

    class Connection:
        request = Request()

    return Connection()


async def test_the_demo_documents_its_chat_and_game() -> None:
    from aiotao_demo import main

    app = main(
        {},
        **{
            'mongo.uri': 'mongodb://127.0.0.1:9/demo',
            'mongo.option.serverSelectionTimeoutMS': '100',
            'session.secret': 'not a secret',
        },
    )
    async with TestClient(app) as client:
        document = (await client.get('/asyncapi.json')).json
    check_asyncapi(document)
    assert document['channels']['chat_socket']['address'] == '/chat/{room}/socket'
    assert document['channels']['game_ws']['address'] == '/game/ws'
    messages = document['components']['messages']
    assert {'chat_socket.say', 'game_ws.join', 'game_ws.input'} <= set(messages)
    say = messages['chat_socket.say']['payload']
    assert say['properties']['text']['maxLength'] > 0


def test_a_channel_declared_twice_is_a_conflict() -> None:
    config = make_config()
    config.add_asyncapi_channel('board', router)
    with pytest.raises(ConfigurationConflictError):
        config.commit()


def test_a_router_that_is_not_one_is_refused_at_once() -> None:
    config = Configurator(settings={})
    config.include('aiotao')
    with pytest.raises(TypeError, match='MessageRouter'):
        config.add_asyncapi_channel('board', 'not a router')
