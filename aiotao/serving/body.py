"""The request body: its declared length, the size limit, and ``wsgi.input``.

Pyramid reads the body synchronously (``request.body``, ``request.POST``,
``request.json_body``), on the loop's thread in an ``async def`` view, where
it must not wait for the network.  So the server reads the whole body before
the application runs, like waitress does, into memory or, past 1 MiB, a
temporary file.  The limit (``aiotao.max_body_size``) is checked twice: from
``Content-Length`` before reading anything, and while reading a chunked
body, so an oversized upload is refused without being stored::

    length = declared_length(headers)         # 400 if malformed
    check_length(length, limit)               # 413 if too large
    body = await read_body(chunks, limit)     # 413 if a chunked body grows too large
    environ['wsgi.input'] = body.file
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncIterable, Iterable
from typing import IO, NamedTuple

from aiotao.serving.errors import BadRequest, RequestBodyTooLarge

#: Bodies up to this size stay in memory; larger ones go to a temporary file.
SPOOL_IN_MEMORY = 1024 * 1024


class RequestBody(NamedTuple):
    """A fully read body, positioned at its start."""

    file: IO[bytes]
    length: int


def empty_body() -> RequestBody:
    return RequestBody(io.BytesIO(), 0)


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    """The ``Content-Length`` of raw request headers, or ``None``.

    >>> declared_length([(b'Content-Length', b'42')])
    42

    Raises :class:`BadRequest` for a value that is not a number, or for
    repeated, different values (RFC 9110 section 8.6).
    """
    found: int | None = None
    for name, value in headers:
        if len(name) != 14 or name.lower() != b'content-length':
            continue
        for item in value.split(b','):
            item = item.strip()
            if not item.isdigit():
                raise BadRequest(
                    f'Content-Length must be a number of bytes, got '
                    f'{value.decode("latin-1")!r}'
                )
            length = int(item)
            if found is not None and found != length:
                raise BadRequest(
                    'the request has several different Content-Length values'
                )
            found = length
    return found


def check_length(length: int | None, limit: int) -> None:
    """Refuse a declared body larger than ``limit`` before reading it."""
    if length is not None and length > limit:
        raise RequestBodyTooLarge(
            f'The request body is {length} bytes; this server accepts at most '
            f'{limit} bytes (setting aiotao.max_body_size).'
        )


async def read_body(chunks: AsyncIterable[bytes], limit: int) -> RequestBody:
    """Read a whole body, refusing it as soon as it grows past ``limit``."""
    file: IO[bytes] = io.BytesIO()
    length = 0
    async for chunk in chunks:
        length += len(chunk)
        if length > limit:
            file.close()
            raise RequestBodyTooLarge(
                f'The request body is larger than {limit} bytes, the most this '
                f'server accepts (setting aiotao.max_body_size).'
            )
        if length > SPOOL_IN_MEMORY and isinstance(file, io.BytesIO):
            file = _spill_to_disk(file)
        file.write(chunk)
    file.seek(0)
    return RequestBody(file, length)


def _spill_to_disk(memory: io.BytesIO) -> IO[bytes]:
    spooled = tempfile.TemporaryFile()
    spooled.write(memory.getbuffer())
    memory.close()
    return spooled
