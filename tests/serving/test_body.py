"""Request bodies: declared length, the size limit, wsgi.input (aiotao.serving.body)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest

from aiotao.serving.body import (
    SPOOL_IN_MEMORY,
    check_length,
    declared_length,
    read_body,
)
from aiotao.serving.errors import BadRequest, RequestBodyTooLarge


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def endless(chunk: bytes) -> AsyncIterator[bytes]:
    while True:
        yield chunk


def test_declared_length() -> None:
    assert declared_length([(b'Host', b'h')]) is None
    assert declared_length([(b'content-length', b'0')]) == 0
    assert declared_length([(b'Content-Length', b' 12 ')]) == 12
    # the same value twice (or as a list) is allowed by RFC 9110
    assert declared_length([(b'Content-Length', b'5'), (b'Content-Length', b'5')]) == 5
    assert declared_length([(b'Content-Length', b'5, 5')]) == 5


@pytest.mark.parametrize('value', [b'abc', b'-1', b'1.5', b'', b'0x10'])
def test_a_length_that_is_not_a_number_is_a_bad_request(value: bytes) -> None:
    with pytest.raises(BadRequest, match='Content-Length must be a number of bytes'):
        declared_length([(b'Content-Length', value)])


def test_different_lengths_are_a_bad_request() -> None:
    with pytest.raises(BadRequest, match='several different Content-Length'):
        declared_length([(b'Content-Length', b'5'), (b'Content-Length', b'6')])


def test_a_declared_length_over_the_limit_is_refused_with_413() -> None:
    check_length(None, 10)
    check_length(10, 10)
    with pytest.raises(RequestBodyTooLarge) as refused:
        check_length(11, 10)
    assert refused.value.status == 413
    assert str(refused.value) == (
        'The request body is 11 bytes; this server accepts at most 10 bytes '
        '(setting aiotao.max_body_size).'
    )


async def test_a_body_is_read_whole_and_rewound() -> None:
    body = await read_body(chunks(b'ab', b'', b'cd'), limit=4)
    assert body.length == 4
    assert body.file.read() == b'abcd'
    assert isinstance(body.file, io.BytesIO)


async def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    # an endless chunked upload: refused after the limit, not read forever
    with pytest.raises(RequestBodyTooLarge, match='larger than 1000 bytes'):
        await read_body(endless(b'x' * 100), limit=1000)


async def test_large_bodies_go_to_a_temporary_file() -> None:
    part = b'y' * (SPOOL_IN_MEMORY // 2 + 1)
    body = await read_body(chunks(part, part, b'end'), limit=10 * SPOOL_IN_MEMORY)
    assert not isinstance(body.file, io.BytesIO)
    assert body.file.read() == part + part + b'end'
    assert body.length == 2 * len(part) + 3
    body.file.close()
