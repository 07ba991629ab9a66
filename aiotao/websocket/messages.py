"""JSON messages dispatched by type to async handlers, over one websocket.

Each client message is a JSON object with a ``type``, an optional ``id``
and the fields of its payload, declared as a dataclass
(:mod:`aiotao.websocket.schema`)::

    router = MessageRouter(rate_limit=RateLimit(rate=5, burst=10))

    @dataclass
    class Say:
        text: Annotated[str, Length(1, 500)]

    @router.on('say')
    async def say(ws, message: Say):
        await ws.broadcast('room', message.text)
        return {'ok': True}           # the reply, if the client sent an id

    @view_config(route_name='chat', mapper=WebsocketMapper)
    async def chat(ws):
        await router.serve(ws)        # until the connection closes

or, with state per connection, a class whose ``on_<type>`` methods are the
handlers::

    class Chat(MessageHandlers):
        rate_limit = RateLimit(rate=5, burst=10)

        async def on_say(self, message: Say):
            ...

    await Chat(ws).serve()

**The wire.**  The client sends ``{"type": "say", "id": 7, "text": "hi"}``.
If it sent an ``id``, it gets ``{"type": "reply", "id": 7, "data": ...}``
once the handler returned (``data`` is what it returned), so a client can
wait for an acknowledgement.  The server may push any message at any time
(``await ws.send_json({'type': 'joined', ...})``).

**Errors go to that client only, and the connection stays open:**
``{"type": "error", "id": 7, "code": ..., "message": ...}`` with the codes
``bad_json`` (not JSON, or not a JSON object), ``bad_message`` (binary
frame, no ``type``, a bad ``id``), ``unknown_type`` (no handler),
``invalid`` (the payload does not match its schema; ``errors`` lists each
field and its problem), ``forbidden`` (the handler has a ``permission=``
the security policy does not grant the connection's current identity: see
:mod:`aiotao.websocket.authorization`), ``rate_limited`` (over the rate limit: the message
was dropped unhandled, its ``id`` says which; a client
that keeps flooding is closed with 1008), ``internal_error`` (the handler
failed; logged with its traceback), or a handler's own
(``raise MessageError('not_in_room', 'join a room first')``).

Handlers of one connection run one at a time, in the order the messages
arrived: a reply always answers the message before the next one is read.
"""

from __future__ import annotations

import inspect
import json
import logging
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from aiotao.websocket.exceptions import ConnectionClosed
from aiotao.websocket.ratelimit import RateLimit
from aiotao.websocket.schema import Schema, SchemaError
from aiotao.websocket.transport import Message

__all__ = [
    'POLICY_VIOLATION',
    'MessageError',
    'MessageHandlers',
    'MessageRouter',
    'requires',
]

log = logging.getLogger(__name__)

#: Close code for a client that keeps flooding past its rate limit.
POLICY_VIOLATION = 1008
#: Longest accepted message ``id`` (a string id is echoed back in replies).
MAX_ID_LENGTH = 64

Handler = Callable[[Any, Any], Awaitable[Any]]


class MessageError(Exception):
    """Raised by a handler: the client gets this error, the connection stays open.

    >>> MessageError('not_in_room', 'join a room first').as_json(id=3)
    {'type': 'error', 'code': 'not_in_room', 'message': 'join a room first', 'id': 3}
    """

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def as_json(self, id: Any = None) -> dict[str, Any]:
        error: dict[str, Any] = {'type': 'error', 'code': self.code}
        error['message'] = self.message
        error.update(self.details)
        if id is not None:
            error['id'] = id
        return error


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not.
    raise ValueError(f'{name} is not JSON')


def _decode(raw: Message) -> dict[str, Any]:
    """The message as a JSON object, or :exc:`MessageError`."""
    if isinstance(raw, bytes):
        raise MessageError(
            'bad_message', 'expected a JSON text message, got a binary one'
        )
    try:
        decoded = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise MessageError('bad_json', f'not valid JSON: {exc}') from None
    if not isinstance(decoded, dict):
        raise MessageError('bad_json', 'expected a JSON object with a "type"')
    return decoded


def _message_id(decoded: dict[str, Any]) -> Any:
    id = decoded.pop('id', None)
    if id is None:
        return None
    if isinstance(id, bool) or not isinstance(id, (int, str)):
        raise MessageError('bad_message', '"id" must be a number or a string')
    if isinstance(id, str) and len(id) > MAX_ID_LENGTH:
        raise MessageError(
            'bad_message', f'"id" must be at most {MAX_ID_LENGTH} characters'
        )
    return id


def _dropped_id(raw: Message) -> Any:
    """The ``id`` of a message refused unhandled, so the client knows which.

    ``None`` if it has none or is not even JSON: refusing it is the answer.
    """
    try:
        return _message_id(_decode(raw))
    except MessageError:
        return None


async def _authorize(target: Any, type: str, permission: str) -> None:
    # The target is the connection, or a MessageHandlers object holding it.
    from aiotao.websocket.authorization import FORBIDDEN, check_permission

    ws = target.ws if isinstance(target, MessageHandlers) else target
    answer = await check_permission(getattr(ws, 'request', None), permission)
    if not answer:
        if getattr(ws, 'userid', None) is not None:
            # who it is changed (a logout): send_to_user() must follow
            from aiotao.websocket.addresses import readdress

            await readdress(ws)
        raise MessageError(
            FORBIDDEN, f'{type[:40]!r} messages need the {permission!r} permission'
        )


@dataclass(frozen=True, slots=True)
class _Route:
    handler: Handler
    schema: Schema[Any] | None
    permission: str | None = None


def _payload_schema(handler: Callable[..., Any]) -> Schema[Any] | None:
    """The schema from the annotation of the handler's payload parameter."""
    parameters = list(inspect.signature(handler).parameters.values())
    if len(parameters) != 2:
        raise TypeError(
            f'{handler.__qualname__}: a message handler takes (ws, message), '
            f'or (self, message) as a method'
        )
    hint = typing.get_type_hints(handler, include_extras=True).get(parameters[1].name)
    if hint is None or hint is Any or hint is dict or typing.get_origin(hint) is dict:
        return None  # the payload as a dict, unchecked
    return Schema(hint)


class MessageRouter:
    """Handlers by message type; :meth:`serve` runs a connection through them."""

    def __init__(self, *, rate_limit: RateLimit | None = None) -> None:
        self.rate_limit = rate_limit
        self._routes: dict[str, _Route] = {}

    @property
    def types(self) -> list[str]:
        """The message types handled, sorted."""
        return sorted(self._routes)

    def add(
        self,
        type: str,
        handler: Handler,
        *,
        schema: Any = None,
        permission: str | None = None,
    ) -> None:
        """Handle messages of ``type`` with ``handler(ws, payload)``.

        The payload's schema is ``schema`` if given, else the annotation of
        the handler's payload parameter (a dataclass); without either the
        handler gets the fields as a ``dict``.  With ``permission``, each
        message is first checked with the application's security policy
        against the identity of that moment (see
        :mod:`aiotao.websocket.authorization`).
        """
        if not type or not isinstance(type, str):
            raise ValueError(f'a message type is a non-empty string, not {type!r}')
        if type in self._routes:
            raise ValueError(f'message type {type!r} already has a handler')
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(
                f'{getattr(handler, "__qualname__", handler)!r} handles {type!r}: '
                f'a message handler is an async def function'
            )
        if permission is not None and (
            not isinstance(permission, str) or not permission
        ):
            raise ValueError(
                f'{type!r}: a permission is a non-empty string, not {permission!r}'
            )
        checked = Schema(schema) if schema is not None else _payload_schema(handler)
        self._routes[type] = _Route(handler, checked, permission)

    def permission(self, type: str) -> str | None:
        """The permission messages of ``type`` need, if any."""
        return self._routes[type].permission

    def schema(self, type: str) -> Schema[Any] | None:
        """The schema of the payload of messages of ``type``, if it has one."""
        return self._routes[type].schema

    def handler(self, type: str) -> Handler:
        """The handler of messages of ``type``."""
        return self._routes[type].handler

    def on(
        self, type: str, *, schema: Any = None, permission: str | None = None
    ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add`.

        >>> router = MessageRouter()
        >>> @router.on('ping')
        ... async def ping(ws, message):
        ...     return 'pong'
        >>> router.types
        ['ping']
        """

        def register(handler: Handler) -> Handler:
            self.add(type, handler, schema=schema, permission=permission)
            return handler

        return register

    async def dispatch(self, target: Any, raw: Message) -> dict[str, Any] | None:
        """Handle one raw message; the reply or error to send back, if any.

        ``target`` is what handlers get first (the connection, or the
        :class:`MessageHandlers` object).  Never raises for bad input: that
        is an error message.  Socket-free, so it is tested (and fuzzed)
        without a connection.
        """
        id = None
        try:
            decoded = _decode(raw)
            id = _message_id(decoded)
            type = decoded.pop('type', None)
            if not isinstance(type, str):
                raise MessageError('bad_message', 'expected a "type" string')
            route = self._routes.get(type)
            if route is None:
                raise MessageError(
                    'unknown_type',
                    f'unknown message type {type[:40]!r} '
                    f'(known: {", ".join(self.types) or "none"})',
                )
            if route.permission is not None:
                await _authorize(target, type, route.permission)
            payload: Any = decoded
            if route.schema is not None:
                try:
                    payload = route.schema.load(decoded)
                except SchemaError as exc:
                    raise MessageError(
                        'invalid',
                        f'invalid {type!r} message: {exc}',
                        errors=[
                            {'field': field, 'problem': problem}
                            for field, problem in exc.errors
                        ],
                    ) from None
            result = await route.handler(target, payload)
        except MessageError as exc:
            return exc.as_json(id)
        except ConnectionClosed:
            raise
        except Exception:
            log.exception('websocket message handler failed on %r', raw[:200])
            return MessageError(
                'internal_error', 'the server failed to handle this message'
            ).as_json(id)
        if id is None:
            return None
        return {'type': 'reply', 'id': id, 'data': result}

    async def serve(
        self, ws: Any, target: Any = None, *, rate_limit: RateLimit | None = None
    ) -> None:
        """Read, dispatch and answer messages until the connection closes.

        ``target`` is what handlers get first; the connection by default.
        ``rate_limit`` replaces the router's own for this connection (a
        limit read from the application's settings).
        """
        limit = rate_limit if rate_limit is not None else self.rate_limit
        bucket = limit.bucket() if limit is not None else None
        handlers_target = ws if target is None else target
        try:
            while (raw := await ws.recv()) is not None:
                if bucket is not None and not bucket.take():
                    if bucket.flooding:
                        await ws.close(POLICY_VIOLATION, 'rate limit exceeded')
                        return
                    await ws.send_json(
                        MessageError(
                            'rate_limited',
                            f'over {bucket.limit.rate:g} messages per second: '
                            f'this message was dropped',
                        ).as_json(_dropped_id(raw))
                    )
                    continue
                answer = await self.dispatch(handlers_target, raw)
                if answer is not None:
                    await ws.send_json(answer)
        except ConnectionClosed:
            pass  # the client left (or was dropped) while we answered


def requires(permission: str) -> Callable[[Handler], Handler]:
    """The permission an ``on_<type>`` method of :class:`MessageHandlers` needs.

    >>> class Board(MessageHandlers):
    ...     @requires('post')
    ...     async def on_post(self, message: dict) -> None: ...
    >>> Board.router.permission('post')
    'post'
    """

    def mark(handler: Handler) -> Handler:
        handler.__aiotao_permission__ = permission  # type: ignore[attr-defined]
        return handler

    return mark


class MessageHandlers:
    """Handlers as ``on_<type>`` methods of an object made per connection.

    >>> class Counter(MessageHandlers):
    ...     count = 0
    ...     async def on_add(self, message: dict) -> int:
    ...         self.count += message.get('n', 1)
    ...         return self.count
    >>> Counter.router.types
    ['add']

    ``await Counter(ws).serve()`` serves the connection; the handlers reach
    it as ``self.ws``.  Set ``rate_limit`` on the class to limit each
    connection, and decorate a handler with :func:`requires` to give it a
    permission.
    """

    router: ClassVar[MessageRouter]
    rate_limit: ClassVar[RateLimit | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.router = MessageRouter(rate_limit=cls.rate_limit)
        for name in dir(cls):
            if name.startswith('on_') and callable(getattr(cls, name)):
                method = getattr(cls, name)
                cls.router.add(
                    name[3:],
                    method,
                    permission=getattr(method, '__aiotao_permission__', None),
                )

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def serve(self) -> None:
        """Serve the connection until it closes."""
        await self.router.serve(self.ws, self)
