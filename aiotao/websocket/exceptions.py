"""What can go wrong on a websocket connection, as one exception tree.

* :exc:`WebsocketError`
    * :exc:`ConnectionClosed` -- the connection is closed; carries ``code``
      and ``reason``
    * :exc:`InvalidState` -- a call that the connection's state forbids
    * :exc:`ConcurrencyError` -- two tasks reading one connection at once
      (also a :exc:`RuntimeError`)
    * :exc:`InvalidMessage` -- a message the application cannot use
        * :exc:`InvalidJSON` -- ``recv_json()`` got a message that is not
          JSON (also a :exc:`ValueError`)
    * :exc:`HandshakeError` -- the server refused the opening handshake as
      malformed

A view rarely catches any of them: :exc:`ConnectionClosed` escaping a view
is how most views end (the client left), and the view mapper closes the
connection with the matching code for the others (see
:mod:`aiotao.mappers.websocket`).

A message too big for ``aiotao.websocket.max_message_size`` is not an
exception: the connection is closed with code 1009 and ``recv()`` returns
``None``, as for any other close.
"""

from __future__ import annotations

__all__ = [
    'ConcurrencyError',
    'ConnectionClosed',
    'HandshakeError',
    'InvalidJSON',
    'InvalidMessage',
    'InvalidState',
    'WebsocketError',
]


class WebsocketError(Exception):
    """Base class of aiotao's websocket exceptions."""


class ConnectionClosed(WebsocketError):
    """The connection is closed (or closing): nothing more can be sent.

    >>> exc = ConnectionClosed(1001, 'server shutting down')
    >>> exc.code, exc.reason, str(exc)
    (1001, 'server shutting down', 'connection closed: 1001 (server shutting down)')
    """

    def __init__(self, code: int, reason: str = '') -> None:
        self.code = code
        self.reason = reason
        detail = f' ({reason})' if reason else ''
        super().__init__(f'connection closed: {code}{detail}')

    def __reduce__(self) -> tuple[type[ConnectionClosed], tuple[int, str]]:
        return type(self), (self.code, self.reason)


class InvalidState(WebsocketError):
    """The call is not allowed in the connection's current state."""


class ConcurrencyError(WebsocketError, RuntimeError):
    """Two tasks called ``recv()`` on one connection at the same time.

    Messages would go to either task at random, so the second caller gets
    this error instead.  Read in one task and hand messages to others (an
    :class:`asyncio.Queue`), as the ``websockets`` library advises.
    """


class InvalidMessage(WebsocketError):
    """A message the application cannot use.

    If it escapes a websocket view, the connection is closed with
    :attr:`close_code` and the reason below, and the view is not logged as
    failing: the client sent bad data, the server is fine.
    """

    #: The close code used when this escapes a view (1007: invalid data).
    close_code = 1007


class InvalidJSON(InvalidMessage, ValueError):
    """``recv_json()`` received a message that is not valid JSON.

    >>> str(InvalidJSON('{"a": ', 'Expecting value: line 1 column 7 (char 6)'))
    'received a message that is not valid JSON (Expecting value: line 1 column 7 (char 6)): \\'{"a": \\''
    """

    def __init__(self, message: str | bytes, error: str) -> None:
        self.message = message
        excerpt = message[:60]
        more = '...' if len(message) > 60 else ''
        super().__init__(
            f'received a message that is not valid JSON ({error}): {excerpt!r}{more}'
        )


class HandshakeError(WebsocketError):
    """The opening handshake is malformed; the client gets a 400 with this text."""
