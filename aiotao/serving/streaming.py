"""Streaming a response body to the client without reading it all first.

A body is whatever a WSGI response carries as ``app_iter``:

* a list or tuple of bytes (WebOb's usual body): sent as it is;
* an async iterable (an ``async def`` generator set as ``app_iter``, for
  server-sent events and the like): awaited on the loop;
* any other iterable (a generator, a file iterator): each ``next()`` may
  block on a disk or a database, so it runs in the loop's thread pool, one
  chunk at a time.

:class:`BodyStream` yields the chunks and, in :meth:`BodyStream.aclose`,
calls the body's ``close()`` as PEP 3333 requires, also when the client went
away half way::

    stream = BodyStream(wsgi_response)
    try:
        async for chunk in stream:
            await write(chunk)
    finally:
        await stream.aclose()
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

from aiotao.serving.responses import InvalidResponse, WSGIResponse

#: Statuses whose responses never have a body (RFC 9110 section 6.4.1).
BODYLESS_STATUSES = frozenset({204, 304})

_END = object()


def may_have_body(method: str, status: int) -> bool:
    """Whether a response to ``method`` with ``status`` carries a body.

    >>> may_have_body('HEAD', 200), may_have_body('GET', 304), may_have_body('GET', 200)
    (False, False, True)
    """
    return method != 'HEAD' and status >= 200 and status not in BODYLESS_STATUSES


class BodyStream(AsyncIterator[bytes]):
    """The chunks of a response body, in order; empty chunks are skipped.

    With ``send_body=False`` (``HEAD``, 204, 304) nothing is read, but the
    body is still closed by :meth:`aclose`.
    """

    def __init__(self, response: WSGIResponse, *, send_body: bool = True) -> None:
        self._body = response.body
        self._prefix: Iterator[bytes] = iter(response.prefix if send_body else ())
        self._send_body = send_body
        self._closed = False
        self._sync: Iterator[bytes] | None = None
        self._async: AsyncIterator[bytes] | None = None
        # next() and close() of a blocking iterator run in threads; a next()
        # still running after a cancellation must finish before close().
        self._lock = threading.Lock()
        body = self._body
        if not send_body:
            pass
        elif isinstance(body, list | tuple):
            self._prefix = iter([*self._prefix, *body])
        elif isinstance(body, AsyncIterable):
            self._async = aiter(body)
        else:
            self._sync = iter(body)

    def __aiter__(self) -> BodyStream:
        return self

    async def __anext__(self) -> bytes:
        while True:
            chunk = await self._next_chunk()
            if chunk is _END:
                raise StopAsyncIteration
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise InvalidResponse(
                    f'a response body yielded {type(chunk).__name__}, not bytes'
                )
            if chunk:
                return bytes(chunk) if not isinstance(chunk, bytes) else chunk

    async def _next_chunk(self) -> Any:
        chunk = next(self._prefix, _END)
        if chunk is not _END or self._closed:
            return chunk
        if self._async is not None:
            try:
                return await anext(self._async)
            except StopAsyncIteration:
                return _END
        if self._sync is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, self._next_in_thread)
        return _END

    def _next_in_thread(self) -> Any:
        assert self._sync is not None
        with self._lock:
            return next(self._sync, _END)

    async def aclose(self) -> None:
        """Close the body (PEP 3333 ``close()``); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        body: Any = self._body
        if isinstance(body, list | tuple):
            return
        if self._async is not None and hasattr(self._async, 'aclose'):
            await self._async.aclose()
        elif hasattr(body, 'aclose'):
            await body.aclose()
        elif hasattr(body, 'close'):
            if self._sync is None:
                body.close()
                return
            loop = asyncio.get_running_loop()
            # shielded: a second cancellation must not leave the body open
            await asyncio.shield(loop.run_in_executor(None, self._close_in_thread))

    def _close_in_thread(self) -> None:
        with self._lock:
            self._body.close()  # type: ignore[union-attr]
