"""Websocket transport over aiohttp, for aiotao's gunicorn worker.

aiohttp's :class:`~aiohttp.web.WebSocketResponse` does the protocol: frame
parsing, masking, fragmentation, permessage-deflate, answering pings, the
heartbeat and the closing handshake.  This module only maps it onto
:class:`~aiotao.websocket.transport.WebsocketTransport`::

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        transport = AiohttpWebsocketTransport(request)
        refusal = await run_upgrade(router, environ, transport)
        if refusal is None:
            return transport.response      # the finished WebSocketResponse
        return to_aiohttp_response(refusal)  # the refused handshake
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.http_websocket import WebSocketWriter

from aiotao.websocket.exceptions import ConnectionClosed, HandshakeError, InvalidState
from aiotao.websocket.frames import server_frame
from aiotao.websocket.handshake import handshake_problem
from aiotao.websocket.limits import DEFAULT_LIMITS, Limits, exceeds
from aiotao.websocket.transport import Message, WebsocketTransport

__all__ = ['AiohttpWebsocketTransport']

_ABNORMAL = 1006
_TOO_BIG = 1009

# aiohttp waits ping_interval / 2 for a pong and has no parameter for it.
# The attribute below is where it keeps that delay (aiohttp 3.9 to 3.14);
# when it is missing, aiohttp's own delay applies.
_PONG_DELAY_ATTRIBUTE = '_pong_heartbeat'
# The hooks of aiohttp's heartbeat that _QuietHeartbeatResponse overrides
# (aiohttp 3.14); when one is missing, aiohttp's own heartbeat runs as is.
_HEARTBEAT_HOOKS = (
    '_on_data_received',
    '_send_heartbeat',
    '_pong_not_received',
    '_reset_heartbeat',
)
# "No timeout" for pongs, in the seconds aiohttp's timer expects.
_FOREVER = 365 * 24 * 3600.0
# For receive(), on every message: an enum member looked up on its class
# costs more than the rest of the check (Python 3.11), a global a fraction.
_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
# More than a frame header (at most 14 bytes) and a deflate block's framing.
_FRAME_OVERHEAD = 64


class _QuietHeartbeatResponse(web.WebSocketResponse):
    """aiohttp's ``WebSocketResponse`` with a heartbeat that costs a flag per message.

    aiohttp pings after ``heartbeat`` seconds of silence; to know about the
    silence, it schedules a callback for every chunk the client sends, which
    pushes the ping timer back: with pings on, raw aiohttp's echo costs a
    third more instructions (``bench/echo_instructions.py``: 14,600 more a
    message, on 44,000).  Here a chunk only sets a flag, which the timers
    read when they fire: a client that sent anything during the interval is
    not pinged (the timer starts over), and anything at all after a ping
    counts as its pong.  So a quiet client is pinged after one to two
    intervals of silence instead of exactly one.
    """

    _data_seen = False

    def _on_data_received(self) -> None:
        self._data_seen = True

    def _send_heartbeat(self) -> None:
        if self._data_seen:
            self._data_seen = False
            self._heartbeat_cb = None
            self._reset_heartbeat()  # the next check, an interval from now
            return
        super()._send_heartbeat()

    def _pong_not_received(self) -> None:
        if self._data_seen:
            self._data_seen = False
            self._pong_response_cb = None
            self._reset_heartbeat()
            return
        super()._pong_not_received()


_Response: type[web.WebSocketResponse] = (
    _QuietHeartbeatResponse
    if all(hasattr(web.WebSocketResponse, hook) for hook in _HEARTBEAT_HOOKS)
    else web.WebSocketResponse
)


class AiohttpWebsocketTransport(WebsocketTransport):
    """The websocket side of one aiohttp request."""

    def __init__(self, request: web.BaseRequest) -> None:
        self.request = request
        self._response: web.WebSocketResponse | None = None
        self._limits = DEFAULT_LIMITS
        self._receive_ended = False
        self._close_started = False
        # set by accept(): what send_may_wait() reads on every message
        self._socket: asyncio.Transport | None = None
        # the low-water mark less a frame's header and deflate's framing
        self._room = 0
        # the low-water mark, for send_now(), which knows its frame's size
        self._low_water = 0
        # aiohttp's frame writer when this connection's frames are the same
        # bytes as every other's (no deflate, no mask): send_now() writes
        # those bytes itself; None: send_now() declines
        self._plain_writer: WebSocketWriter | None = None

    @property
    def response(self) -> web.WebSocketResponse:
        """The prepared ``WebSocketResponse``, for the aiohttp handler to return."""
        if self._response is None:
            raise InvalidState(
                'the websocket handshake was not accepted: check '
                'transport.accepted and send the HTTP response the pipeline '
                'returned instead'
            )
        return self._response

    async def accept(
        self, subprotocol: str | None = None, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        if self._response is not None:
            raise InvalidState('the websocket handshake was already accepted')
        problem = handshake_problem(_environ_view(self.request))
        if problem is not None:
            raise HandshakeError(problem)
        response = _Response(
            # aiohttp refuses a message of exactly max_msg_size bytes (it
            # checks >=); aiotao's limit is inclusive, and receive() below
            # enforces it exactly.
            max_msg_size=limits.max_message_size + 1,
            heartbeat=limits.ping_interval,
            autoping=True,
            timeout=limits.close_timeout,
            protocols=(subprotocol,) if subprotocol else (),
            # aiohttp checks whether to wait for the client only after this
            # many bytes (256 KiB by default): no more than the buffer
            writer_limit=limits.write_buffer,
        )
        if limits.ping_interval is not None and hasattr(
            response, _PONG_DELAY_ATTRIBUTE
        ):
            pong_delay = limits.ping_timeout or _FOREVER
            setattr(response, _PONG_DELAY_ATTRIBUTE, pong_delay)
        if not response.can_prepare(self.request).ok:
            raise HandshakeError('invalid websocket handshake')
        try:
            await response.prepare(self.request)
        except ConnectionError:
            raise ConnectionClosed(
                _ABNORMAL, 'the client left during the handshake'
            ) from None
        self._limits = limits
        self._response = response
        socket = self.request.transport
        if socket is not None:
            self._socket = socket
            # the low-water mark a quarter of it, as asyncio's default is
            socket.set_write_buffer_limits(high=limits.write_buffer)
            low_water = socket.get_write_buffer_limits()[0]
            self._room = low_water - _FRAME_OVERHEAD
            self._low_water = low_water
            self._plain_writer = _plain_frame_writer(response)
        self.accepted = True

    async def receive(self) -> Message | None:
        response = self._response
        if response is None:
            response = self.response  # raises InvalidState
        if self._receive_ended:
            return None
        try:
            message = await response.receive()
        except ConnectionError:
            # aiohttp answers a ping inside receive(); when the pong has to
            # wait for a client that does not read, and the client then
            # vanishes, the wait fails: the connection is over, as below
            self._receive_ended = True
            self._release_response()
            self._record(_ABNORMAL, 'connection lost')
            return None
        kind = message.type
        if kind is _TEXT or kind is _BINARY:
            data: Message = message.data
            max_size = self._limits.max_message_size
            # under a quarter of the limit in characters fits in any
            # encoding: the exact check (a call, maybe an encode) is spared
            if len(data) * 4 > max_size and exceeds(data, max_size):
                await self.close(_TOO_BIG, 'message too big')
                self._receive_ended = True
                return None
            return data
        # CLOSE (the client closed), CLOSING (close() was called in another
        # task), CLOSED or ERROR (protocol error, message too big, lost
        # connection, no pong): the connection is over either way.
        self._receive_ended = True
        self._release_response()
        if kind is WSMsgType.CLOSE:
            self._record(message.data, message.extra or '')
        elif kind is WSMsgType.ERROR:
            # a protocol error carries the code aiohttp sent (1002, 1009...);
            # response.close_code may say 1006 once the socket is gone
            code = getattr(message.data, 'code', None)
            if not isinstance(code, int):
                code = response.close_code or _ABNORMAL
            self._record(code, 'message too big' if code == _TOO_BIG else '')
        else:
            self._record(response.close_code or _ABNORMAL, '')
        return None

    async def send(self, data: Message) -> None:
        response = self._response
        if response is None:
            response = self.response  # raises InvalidState
        if self._close_started or response.closed:
            raise ConnectionClosed(self._close_code or _ABNORMAL, self._close_reason)
        try:
            if isinstance(data, str):
                await response.send_str(data)
            else:
                await response.send_bytes(data)
        except ConnectionError:
            # the peer went away under us (reset, or the transport closed)
            self._record(_ABNORMAL, 'connection lost')
            raise ConnectionClosed(
                self._close_code or _ABNORMAL, self._close_reason
            ) from None

    def send_may_wait(self, data: Message) -> bool:
        """``False`` while ``data`` fits in the socket's write buffer.

        aiohttp's ``send_str``/``send_bytes`` wait for the client only once
        the transport paused writing, which it does when its buffer goes
        above the high-water mark, until it is down to the low-water mark:
        a frame that keeps it at or below the low mark cannot wait.
        """
        # Asked for every message, so it reads as little as it can: the
        # socket and its low-water mark were looked up by accept().  Writing
        # pauses above the high-water mark and resumes at the low one: a
        # buffer that stays at or under the low mark with this frame is not
        # paused and will not be.  (A socket that is gone does not make a
        # send wait either: the send fails at once.)
        socket = self._socket
        if socket is None:
            return True
        # 5 bytes a character or byte bound the frame: UTF-8 takes at most
        # 4, deflate adds a little; the header is in the room's margin
        return socket.get_write_buffer_size() + 5 * len(data) > self._room

    def send_now(self, data: Message) -> bool:
        """Write ``data``'s frame as bytes when the socket takes it without waiting.

        What ``send_str``/``send_bytes`` would write (aiohttp frames the
        message and writes it to the socket, which is not paused), minus
        their coroutines and the encoding: the frame comes from
        :func:`~aiotao.websocket.frames.server_frame`, built once for all
        the connections a broadcast reaches.  Declines (``False``) with
        permessage-deflate (each connection compresses with its own state)
        and when the frame would take the buffer over the low-water mark
        (the case where :meth:`send` may wait).
        """
        writer = self._plain_writer
        if writer is None:
            return False
        response = self._response
        if self._close_started or response is None or response.closed:
            raise ConnectionClosed(self._close_code or _ABNORMAL, self._close_reason)
        socket = self._socket
        assert socket is not None  # (set together with the writer)
        if writer._closing or socket.is_closing():
            # as send_str() finds it: the peer went away under us
            self._record(_ABNORMAL, 'connection lost')
            raise ConnectionClosed(self._close_code or _ABNORMAL, self._close_reason)
        frame = server_frame(data)
        if socket.get_write_buffer_size() + len(frame) > self._low_water:
            return False
        socket.write(frame)
        # aiohttp's count of bytes written since it last looked whether to
        # wait for the client: kept as send_str() keeps it, so that its next
        # send_str() looks as soon as it would have
        writer._output_size += len(frame)
        return True

    async def close(self, code: int = 1000, reason: str = '') -> None:
        response = self._response
        if response is None or self._close_started:
            return
        self._close_started = True
        self._record(code, reason)
        self._release_response()
        try:
            async with asyncio.timeout(self._limits.close_timeout):
                # drain=False: a client that stopped reading must not hold
                # the close frame back; aiohttp still waits (timeout) for
                # the client's close reply.
                await response.close(
                    code=code, message=reason.encode('utf-8'), drain=False
                )
        except TimeoutError:
            self.abort()
            return
        # aiohttp closed the socket gracefully, which keeps it (and the
        # unsent bytes) as long as the client does not read: not forever.
        # The timer holds the socket's transport, not this connection: a
        # closed connection is garbage at once, rather than held (with its
        # compressor, some 100 KiB) until the timer fires, by which time
        # the collector has moved it to the generation it rarely visits.
        # (A closing transport is the case in point: it may still hold
        # unsent bytes for a client that does not read.)
        transport = self.request.transport
        if transport is not None:
            asyncio.get_running_loop().call_later(
                self._limits.close_timeout, transport.abort
            )

    def _release_response(self) -> None:
        """Break aiohttp's cycle through a finished ``WebSocketResponse``.

        aiohttp (3.14.5 at least) gives the connection's protocol the
        response's ``_on_data_received`` (it puts off the heartbeat's ping
        while data comes in) and never takes it back: protocol -> response
        -> request -> protocol, a cycle that keeps the request, its buffers
        and the deflate state (some 60 KiB) until the collector runs, which
        a serving worker does seldom (:mod:`aiotao.serving.garbage`).  Once
        nothing more is received there is no heartbeat to put off.
        """
        protocol = self.request.protocol
        if getattr(protocol, '_data_received_cb', None) is not None:
            protocol._data_received_cb = None

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()


def _plain_frame_writer(response: web.WebSocketResponse) -> WebSocketWriter | None:
    """aiohttp's writer of ``response`` if its frames are plain bytes, else ``None``.

    Plain: neither compressed (permessage-deflate was not agreed) nor
    masked (a server's never are).  The writer is aiohttp's private
    ``_writer`` (aiohttp 3.9 to 3.14); where it is missing or looks
    different, ``send_now()`` declines and ``send()`` does the work.
    """
    writer = getattr(response, '_writer', None)
    if (
        isinstance(writer, WebSocketWriter)
        and not writer.compress
        and not writer.use_mask
        and isinstance(getattr(writer, '_closing', None), bool)
        and isinstance(getattr(writer, '_output_size', None), int)
        and not response.compress
    ):
        return writer
    return None


def _environ_view(request: web.BaseRequest) -> dict[str, Any]:
    """The headers :func:`handshake_problem` reads, named as in a WSGI environ."""
    headers = request.headers
    return {
        'REQUEST_METHOD': request.method,
        'HTTP_UPGRADE': headers.get('Upgrade', ''),
        'HTTP_CONNECTION': headers.get('Connection', ''),
        'HTTP_SEC_WEBSOCKET_VERSION': headers.get('Sec-WebSocket-Version', ''),
        'HTTP_SEC_WEBSOCKET_KEY': headers.get('Sec-WebSocket-Key', ''),
    }
