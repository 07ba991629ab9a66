"""An AsyncAPI 3.0 document of the application's websockets, from their message schemas.

What a client may send on a websocket served with a
:class:`~aiotao.websocket.MessageRouter` is already declared: a message
type per handler and a dataclass per payload
(:mod:`aiotao.websocket.schema`).  This module turns those declarations
into an `AsyncAPI 3.0 <https://www.asyncapi.com/docs/reference/specification/v3.0.0>`_
document, which tools render as reference pages or use to generate
clients, and serves it at a URL of the application::

    config.include('aiotao.websocket')
    config.add_route('board', '/board/{name}')
    config.add_view(board_socket, route_name='board', mapper=WebsocketMapper)
    config.add_asyncapi_channel('board', router, description='A message board.')
    config.add_asyncapi_view('/asyncapi.json', title='Boards', version='1.0.0')

The chat (``add_chat_route``) declares its channels itself.  Each route
is a channel (its pattern is the address, its ``{placeholders}`` the
parameters); each message type is a ``receive`` operation (the server
receives it) whose reply is the ``reply`` or ``error`` message of
:mod:`aiotao.websocket.messages`; a handler's permission is its
operation's ``x-aiotao-permission``; messages the server pushes may be
declared with ``sends={'said': Said}``.  The document is built from the
routes and routers as they are when it is asked for, so it always says
what the application serves.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyramid.config import Configurator
from pyramid.interfaces import IRoutesMapper
from pyramid.registry import Registry
from pyramid.response import Response

from aiotao.interfaces import IAsyncAPIChannels as IAsyncAPIChannels
from aiotao.websocket.jsonschema import json_schema
from aiotao.websocket.messages import MessageRouter

__all__ = [
    'ASYNCAPI_VERSION',
    'AsyncAPIChannel',
    'add_asyncapi_channel',
    'add_asyncapi_view',
    'asyncapi_document',
]

ASYNCAPI_VERSION = '3.0.0'
#: A route placeholder: ``{name}`` or ``{name:regex}``; ``*rest`` is dropped.
_PLACEHOLDER = re.compile(r'\{(\w+)(?::[^{}]*(?:\{[^{}]*\}[^{}]*)*)?\}')

RouterSource = MessageRouter | Callable[[Registry], MessageRouter]


@dataclass(frozen=True)
class AsyncAPIChannel:
    """One websocket route and the router that serves its messages."""

    route_name: str
    #: The router, or a function of the registry that returns it (a router
    #: made on first use, as the game's).
    router: RouterSource
    description: str = ''
    #: Messages the server pushes: type -> payload schema (a dataclass).
    sends: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, registry: Registry) -> MessageRouter:
        router = self.router
        return router if isinstance(router, MessageRouter) else router(registry)


def _key(text: str) -> str:
    # the AsyncAPI keys' alphabet: ^[\w\d\.\-_]+$
    return re.sub(r'[^\w.\-]', '_', text) or '_'


def _address(pattern: str) -> tuple[str, list[str]]:
    """The channel address and its parameters, from a route pattern.

    >>> _address('/chat/{room:[a-z]+}/socket')
    ('/chat/{room}/socket', ['room'])
    """
    pattern = re.sub(r'\*\w+$', '', pattern)
    if not pattern.startswith('/'):
        pattern = '/' + pattern
    names = [match.group(1) for match in _PLACEHOLDER.finditer(pattern)]
    return _PLACEHOLDER.sub(lambda match: '{' + match.group(1) + '}', pattern), names


def _summary(handler: Any) -> str | None:
    doc = inspect.getdoc(handler)
    return doc.split('\n\n')[0].replace('\n', ' ') if doc else None


def _client_payload(type: str, router: MessageRouter) -> dict[str, Any]:
    """The whole message on the wire: its ``type``, an optional ``id``, the fields."""
    envelope: dict[str, Any] = {
        'type': {'const': type},
        'id': {
            'type': ['integer', 'string'],
            'maxLength': 64,
            'description': 'answered by a reply or an error with the same id',
        },
    }
    schema = router.schema(type)
    if schema is None:
        return {'type': 'object', 'properties': envelope, 'required': ['type']}
    fields = json_schema(schema.hint)
    if fields.get('type') == 'object' and 'properties' in fields:
        payload = dict(fields)
        payload['properties'] = {**envelope, **fields['properties']}
        payload['required'] = ['type', *fields.get('required', [])]
        return payload
    return {
        'allOf': [
            {'type': 'object', 'properties': envelope, 'required': ['type']},
            fields,
        ]
    }


_ID = {'type': ['integer', 'string']}
_REPLY = {
    'name': 'reply',
    'summary': 'The answer to a message that had an id, once its handler returned.',
    'contentType': 'application/json',
    'payload': {
        'type': 'object',
        'properties': {'type': {'const': 'reply'}, 'id': _ID, 'data': {}},
        'required': ['type', 'id'],
    },
}
_ERROR = {
    'name': 'error',
    'summary': (
        'A message refused: bad_json, bad_message, unknown_type, invalid, '
        "forbidden, rate_limited, internal_error, or a handler's own code.  "
        'The connection stays open.'
    ),
    'contentType': 'application/json',
    'payload': {
        'type': 'object',
        'properties': {
            'type': {'const': 'error'},
            'id': _ID,
            'code': {'type': 'string'},
            'message': {'type': 'string'},
            'errors': {
                'type': 'array',
                'items': {
                    'type': 'object',
                    'properties': {
                        'field': {'type': 'string'},
                        'problem': {'type': 'string'},
                    },
                },
            },
        },
        'required': ['type', 'code', 'message'],
    },
}


def asyncapi_document(
    registry: Registry,
    *,
    title: str,
    version: str,
    description: str = '',
    server: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the channels declared in ``registry``.

    ``server`` is ``(host, protocol)`` (``ws`` or ``wss``) of the server the
    document is served by, if known.
    """
    declared: dict[str, AsyncAPIChannel] = (
        registry.queryUtility(IAsyncAPIChannels) or {}
    )
    mapper = registry.queryUtility(IRoutesMapper)
    info: dict[str, Any] = {'title': title, 'version': version}
    if description:
        info['description'] = description
    document: dict[str, Any] = {'asyncapi': ASYNCAPI_VERSION, 'info': info}
    if server is not None:
        document['servers'] = {
            'this': {
                'host': server[0],
                'protocol': server[1],
                'description': 'this server',
            }
        }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {'reply': _REPLY, 'error': _ERROR}
    for route_name, declared_channel in declared.items():
        route = mapper.get_route(route_name) if mapper is not None else None
        if route is None:
            continue  # declared, but the application has no such route
        router = declared_channel.resolve(registry)
        channel_key = _key(route_name)
        address, parameters = _address(route.pattern)
        channel: dict[str, Any] = {'address': address, 'messages': {}}
        if declared_channel.description:
            channel['description'] = declared_channel.description
        if parameters:
            channel['parameters'] = {
                name: {'description': f'the {name} of the route'} for name in parameters
            }
        channel_ref = {'$ref': f'#/channels/{channel_key}'}
        channel_messages = channel['messages']
        channel_messages['server.reply'] = {'$ref': '#/components/messages/reply'}
        channel_messages['server.error'] = {'$ref': '#/components/messages/error'}
        for type in router.types:
            message_key = _key(type)
            component = f'{channel_key}.{message_key}'
            message: dict[str, Any] = {
                'name': type,
                'contentType': 'application/json',
                'payload': _client_payload(type, router),
            }
            summary = _summary(router.handler(type))
            if summary:
                message['summary'] = summary
            messages[component] = message
            channel_messages[message_key] = {
                '$ref': f'#/components/messages/{component}'
            }
            operation: dict[str, Any] = {
                'action': 'receive',
                'channel': channel_ref,
                'messages': [
                    {'$ref': f'#/channels/{channel_key}/messages/{message_key}'}
                ],
                'reply': {
                    'channel': channel_ref,
                    'messages': [
                        {'$ref': f'#/channels/{channel_key}/messages/server.reply'},
                        {'$ref': f'#/channels/{channel_key}/messages/server.error'},
                    ],
                },
            }
            permission = router.permission(type)
            if permission is not None:
                operation['x-aiotao-permission'] = permission
            operations[f'{channel_key}.{message_key}'] = operation
        pushed = []
        for type, hint in declared_channel.sends.items():
            message_key = f'server.{_key(type)}'
            component = f'{channel_key}.{message_key}'
            payload = json_schema(hint)
            if payload.get('type') == 'object' and 'properties' in payload:
                payload = {
                    **payload,
                    'properties': {'type': {'const': type}, **payload['properties']},
                    'required': ['type', *payload.get('required', [])],
                }
            messages[component] = {
                'name': type,
                'contentType': 'application/json',
                'payload': payload,
            }
            channel_messages[message_key] = {
                '$ref': f'#/components/messages/{component}'
            }
            pushed.append({'$ref': f'#/channels/{channel_key}/messages/{message_key}'})
        if pushed:
            operations[f'{channel_key}.server.push'] = {
                'action': 'send',
                'channel': channel_ref,
                'messages': pushed,
            }
        channels[channel_key] = channel
    document['channels'] = channels
    document['operations'] = operations
    document['components'] = {'messages': messages}
    return document


def add_asyncapi_channel(
    config: Configurator,
    route_name: str,
    router: RouterSource,
    *,
    description: str = '',
    sends: Mapping[str, Any] | None = None,
) -> None:
    """Describe the websocket route ``route_name``, served by ``router``, in the document."""
    if not isinstance(router, MessageRouter) and not callable(router):
        raise TypeError(
            f'add_asyncapi_channel({route_name!r}): router is a MessageRouter, or a '
            f'function of the registry returning one, not {router!r}'
        )
    channel = AsyncAPIChannel(route_name, router, description, dict(sends or {}))
    if sends:
        for hint in channel.sends.values():
            json_schema(hint)  # a type with no JSON schema fails now, not when served

    def register() -> None:
        channels = config.registry.queryUtility(IAsyncAPIChannels)
        if channels is None:
            channels = {}
            config.registry.registerUtility(channels, IAsyncAPIChannels)
        channels[route_name] = channel

    config.action(('aiotao.asyncapi.channel', route_name), register)


def add_asyncapi_view(
    config: Configurator,
    pattern: str = '/asyncapi.json',
    *,
    title: str | None = None,
    version: str = '1.0.0',
    description: str = '',
    route_name: str = 'aiotao.asyncapi',
    **view_options: Any,
) -> None:
    """Serve the AsyncAPI document at ``pattern`` (``view_options``: ``permission=``...)."""
    document_title = title or f'{config.registry.package_name} websockets'

    async def asyncapi_view(request: Any) -> Response:
        secure = request.scheme == 'https'
        document = asyncapi_document(
            request.registry,
            title=document_title,
            version=version,
            description=description,
            server=(request.host, 'wss' if secure else 'ws'),
        )
        response = Response(content_type='application/json', charset='utf-8')
        response.json_body = document
        return response

    config.add_route(route_name, pattern)
    config.add_view(asyncapi_view, route_name=route_name, **view_options)


def includeme(config: Configurator) -> None:
    config.add_directive('add_asyncapi_channel', add_asyncapi_channel)
    config.add_directive('add_asyncapi_view', add_asyncapi_view)
