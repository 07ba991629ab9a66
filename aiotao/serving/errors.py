"""Requests the server refuses before the application sees them.

Each refusal is an exception carrying its HTTP status and a message that
says what was wrong and how to fix it; servers turn it into a short
``text/plain`` response with :func:`error_response` and go on serving::

    ClientError                  4xx: the request is at fault
     +-- BadRequest              400: malformed framing or headers
     +-- OutsideMountPoint       404: path not under the configured SCRIPT_NAME
     +-- BodyTimeout             408: body stalled over ``aiotao.body_timeout``
     +-- RequestBodyTooLarge     413: body over ``aiotao.max_body_size``

    unhandled_request_error()    400: the application refused the request
                                      (a path that is not UTF-8) and no
                                      exception view answered
    internal_error_response()    500: the application failed; the details
                                      go to the log, never to the client
    overloaded_response()        503: the worker sheds load (see
                                      :mod:`aiotao.serving.admission`)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from pyramid.exceptions import URLDecodeError
from webob.util import status_reasons

from aiotao.serving.responses import ResponseStart, WSGIResponse

log = logging.getLogger(__name__)

#: Characters of a refused request's target that go to the log.
_LOGGED_TARGET = 200


class ClientError(Exception):
    """A request the server refuses; ``str(exc)`` is sent to the client."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ClientError):
    """The request is malformed (e.g. an invalid ``Content-Length``)."""


class OutsideMountPoint(ClientError):
    """The path is not under the application's ``SCRIPT_NAME``."""

    status = HTTPStatus.NOT_FOUND


class BodyTimeout(ClientError):
    """The client stopped sending the body it announced."""

    status = HTTPStatus.REQUEST_TIMEOUT


class RequestBodyTooLarge(ClientError):
    """The request body is larger than the configured limit."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


def error_response(exc: ClientError) -> WSGIResponse:
    """The response for a refused request, closing the connection.

    >>> response = error_response(BadRequest('Content-Length is not a number'))
    >>> response.start.status, response.body
    (400, [b'400 Bad Request\\n\\nContent-Length is not a number\\n'])

    The connection is closed afterwards: after a framing error the rest of
    the stream cannot be trusted, and a refused body may still be arriving.
    """
    return _text_response(exc.status, exc.message, close_connection=True)


def unhandled_request_error(
    exc: BaseException, environ: Mapping[str, Any]
) -> WSGIResponse | None:
    """The 400 for a request the application could not decode, else ``None``.

    For servers, on an exception that came out of the application: a path
    whose percent-escapes are not UTF-8 (``/hello%ff``) makes Pyramid's
    route matching or traversal raise :class:`~pyramid.exceptions.URLDecodeError`,
    which no exception view of Pyramid's own handles.  It is the client's
    fault, so it gets a 400 and one info line in the log, not a 500 and a
    traceback (any client could fill the error log with them).  An
    application's own exception view for ``URLDecodeError`` answers before
    the exception ever gets here.  Any other exception gives ``None``: the
    server logs it and answers 500.

    >>> from pyramid.exceptions import URLDecodeError
    >>> exc = URLDecodeError('utf-8', b'\\xff', 0, 1, 'invalid start byte')
    >>> response = unhandled_request_error(exc, {'RAW_URI': '/hello%ff'})
    >>> response.start.status, response.start.close_connection
    (400, False)
    >>> unhandled_request_error(ValueError('a bug'), {}) is None
    True
    """
    if not isinstance(exc, URLDecodeError):
        return None
    target = str(environ.get('RAW_URI') or environ.get('PATH_INFO', ''))
    # quoted and cut short: the client chose these bytes
    log.info(
        '400 Bad Request for %s %r: the path is not UTF-8 once percent-decoded',
        environ.get('REQUEST_METHOD'),
        target[:_LOGGED_TARGET],
    )
    # the request's framing was fine: the connection may serve the next one
    return _text_response(
        HTTPStatus.BAD_REQUEST,
        'The path is not UTF-8 once percent-decoded: percent-encode the '
        'UTF-8 bytes of each character (RFC 3986 section 2.5).',
        close_connection=False,
    )


def internal_error_response() -> WSGIResponse:
    """The response when the application failed; details stay in the log."""
    return _text_response(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        'The server encountered an unexpected error; it has been logged.',
        close_connection=False,
    )


def overloaded_response(message: str, retry_after: int) -> WSGIResponse:
    """The 503 of a request refused by admission control, closing the connection.

    >>> response = overloaded_response('The worker is overloaded.', 1)
    >>> response.start.status, ('Retry-After', '1') in response.start.headers
    (503, True)
    """
    response = _text_response(
        HTTPStatus.SERVICE_UNAVAILABLE, message, close_connection=True
    )
    response.start.headers.append(('Retry-After', str(retry_after)))
    return response


def _text_response(
    status: HTTPStatus, message: str, *, close_connection: bool
) -> WSGIResponse:
    # WebOb's phrase, as in the responses of Pyramid apps: Python's
    # changes with the version (3.13 calls 413 "Content Too Large")
    phrase = status_reasons.get(status.value, status.phrase)
    body = f'{status.value} {phrase}\n\n{message}\n'.encode()
    headers = [
        ('Content-Type', 'text/plain; charset=utf-8'),
        ('Content-Length', str(len(body))),
    ]
    start = ResponseStart(status.value, phrase, headers, close_connection)
    return WSGIResponse(start, [body])
