"""Fuzzing the request conversion: any request head yields an environ or a clean 4xx.

What aiotao's worker does with a request aiohttp has parsed, before the
application runs (``aiotao.serving.gunicorn.handler``): split the target,
read ``Content-Length`` and check it against the limit, build the
environ.  Hypothesis feeds it targets, methods and headers made of
arbitrary bytes and of the headers the conversion interprets (``Host``,
``Content-Length``, ``Cookie``, ``X-Forwarded-*`` from a trusted peer)
with arbitrary values.  Each case ends one of two ways:

* an environ that WebOb and Pyramid can read (every CGI value a ``str``,
  the path and URL computable);
* a :class:`~aiotao.serving.ClientError`, whose response is a 4xx.

Never another exception: that would be a 500 or a dropped connection.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyramid.request import Request

from aiotao.serving import (
    ClientError,
    RequestBody,
    RequestHead,
    ServingSettings,
    build_environ,
    check_length,
    declared_length,
    split_target,
)
from aiotao.serving.errors import error_response

EXAMPLES = 4000

#: The headers whose values the conversion reads, in any case.
INTERPRETED = [
    b'Host', b'host', b'Content-Length', b'content-length', b'Cookie',
    b'X-Forwarded-For', b'X-Forwarded-Proto', b'X-Forwarded-Host',
    b'Transfer-Encoding', b'Content-Type', b'X_Forwarded_For',
]  # fmt: skip

header_names = st.one_of(
    st.sampled_from(INTERPRETED), st.binary(min_size=1, max_size=20)
)


def ascii_from(alphabet: str, max_size: int) -> st.SearchStrategy[bytes]:
    """Short byte strings over ``alphabet`` (cheaper than ``from_regex``)."""
    return st.text(alphabet, max_size=max_size).map(str.encode)


header_values = st.one_of(
    st.binary(max_size=60),
    ascii_from('0123456789, ', 12),  # near Content-Length
    ascii_from('0123456789abcdef:.[]x', 20),  # near Host
    st.sampled_from([b'https', b'http', b'ftp', b'1.2.3.4, 10.0.0.1', b'::1']),
)
headers = st.lists(st.tuples(header_names, header_values), max_size=8)
targets = st.one_of(
    st.binary(max_size=40).map(lambda raw: b'/' + raw),
    ascii_from('abc%0123456789ABCDEF/.?=&', 30).map(lambda raw: b'/' + raw),
    st.tuples(
        st.sampled_from([b'http://', b'https://']),
        ascii_from('abc0123456789.:[]', 15),
        ascii_from('abc%/?=', 10),
    ).map(lambda parts: parts[0] + parts[1] + b'/' + parts[2]),
)
methods = st.sampled_from(['GET', 'POST', 'HEAD', 'PUT', 'OPTIONS', 'BREW'])
serving = st.sampled_from(
    [
        ServingSettings(),
        ServingSettings(script_name='/app'),
        ServingSettings(max_body_size=10),
    ]
)


def convert(
    method: str,
    target: bytes,
    raw_headers: Sequence[tuple[bytes, bytes]],
    settings: ServingSettings,
) -> dict[str, object]:
    """The worker's conversion of a parsed request (its body already read)."""
    raw_path, query = split_target(target)
    head = RequestHead(
        method, raw_path, query, raw_headers, client=('127.0.0.1', 50000)
    )
    length = declared_length(raw_headers)
    check_length(length, settings.max_body_size)
    # the conversion reads only the length; the bytes do not matter here
    body = RequestBody(io.BytesIO(), length or 0)
    return build_environ(head, body, settings)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(method=methods, target=targets, raw_headers=headers, settings=serving)
def test_any_request_head_converts_or_is_refused_with_a_4xx(
    method: str,
    target: bytes,
    raw_headers: list[tuple[bytes, bytes]],
    settings: ServingSettings,
) -> None:
    try:
        environ = convert(method, target, raw_headers, settings)
    except ClientError as exc:
        response = error_response(exc)
        assert 400 <= response.start.status < 500
        assert response.start.close_connection
        return
    cgi = {key: value for key, value in environ.items() if key.isupper()}
    assert all(isinstance(value, str) for value in cgi.values()), cgi
    # PEP 3333: the decoded path's bytes, as latin-1, mount point first
    raw_path = split_target(target)[0]
    path = str(environ['SCRIPT_NAME']) + str(environ['PATH_INFO'])
    assert path.encode('latin-1') == unquote_to_bytes(raw_path)
    request = Request(environ)
    assert request.method == method
    assert str(environ['SERVER_PORT']).isdigit()


@pytest.mark.parametrize('target', [b'http://[/x', b'http://[::1/', b'http://]/'])
def test_a_broken_absolute_target_is_a_bad_request(target: bytes) -> None:
    with pytest.raises(ClientError):
        split_target(target)
