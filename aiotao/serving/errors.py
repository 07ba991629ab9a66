"""Requests the server refuses before the application sees them.

Each refusal is an exception carrying its HTTP status and a message that
says what was wrong and how to fix it; servers turn it into a short
``text/plain`` response with :func:`error_response` and go on serving::

    ClientError                  4xx: the request is at fault
     +-- BadRequest              400: malformed framing or headers
     +-- OutsideMountPoint       404: path not under the configured SCRIPT_NAME
     +-- BodyTimeout             408: body stalled over ``aiotao.body_timeout``
     +-- RequestBodyTooLarge     413: body over ``aiotao.max_body_size``

    internal_error_response()    500: the application failed; the details
                                      go to the log, never to the client
"""

from __future__ import annotations

from http import HTTPStatus

from webob.util import status_reasons

from aiotao.serving.responses import ResponseStart, WSGIResponse


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


def internal_error_response() -> WSGIResponse:
    """The response when the application failed; details stay in the log."""
    return _text_response(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        'The server encountered an unexpected error; it has been logged.',
        close_connection=False,
    )


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
