"""PEP 3333 environ from a request head (aiotao.serving.environ)."""

from __future__ import annotations

import io

import pytest
from webob import Request

from aiotao.serving.body import RequestBody, empty_body
from aiotao.serving.environ import (
    RequestHead,
    build_environ,
    mount,
    parse_target,
    split_target,
)
from aiotao.serving.errors import BadRequest, OutsideMountPoint
from aiotao.serving.proxies import TrustedProxies
from aiotao.serving.settings import ServingSettings

SETTINGS = ServingSettings(trusted_proxies=TrustedProxies.parse('127.0.0.1'))


def head(
    target: bytes = b'/',
    headers: list[tuple[bytes, bytes]] | None = None,
    **kwargs: object,
) -> RequestHead:
    raw_path, query = split_target(target)
    return RequestHead(
        kwargs.pop('method', 'GET'),  # type: ignore[arg-type]
        raw_path,
        query,
        headers if headers is not None else [(b'Host', b'example.com')],
        **kwargs,  # type: ignore[arg-type]
    )


def environ_of(request_head: RequestHead, **settings: object) -> dict[str, object]:
    chosen = ServingSettings(
        **{'trusted_proxies': SETTINGS.trusted_proxies, **settings}
    )  # type: ignore[arg-type]
    return build_environ(request_head, empty_body(), chosen)


def test_path_is_percent_decoded_into_latin1_and_query_kept_raw() -> None:
    environ = environ_of(head(b'/caf%C3%A9/a%2Fb?q=%20x&q=y&flag&%E2%9C%93'))
    assert environ['PATH_INFO'] == '/café/a/b'.encode().decode('latin-1')
    assert environ['QUERY_STRING'] == 'q=%20x&q=y&flag&%E2%9C%93'
    assert environ['RAW_URI'] == '/caf%C3%A9/a%2Fb?q=%20x&q=y&flag&%E2%9C%93'
    request = Request(environ)
    assert request.path_info == '/café/a/b'
    assert request.GET.getall('q') == [' x', 'y']
    assert request.GET['✓'] == ''


def test_absolute_form_targets_are_reduced_to_path_and_query() -> None:
    environ = environ_of(head(b'http://example.com:8080/a/b?c=d'))
    assert (environ['PATH_INFO'], environ['QUERY_STRING']) == ('/a/b', 'c=d')


def absolute_form(target: bytes, headers: list[tuple[bytes, bytes]]) -> RequestHead:
    raw_path, query, authority = parse_target(target)
    return RequestHead('GET', raw_path, query, headers, authority=authority)


def test_the_host_of_an_absolute_form_target_wins_over_the_host_header() -> None:
    # RFC 9112 section 3.2.2: the server uses the target's host
    request_head = absolute_form(
        b'http://example.org:8080/a?b', [(b'Host', b'attacker.example')]
    )
    environ = environ_of(request_head)
    assert environ['HTTP_HOST'] == 'example.org:8080'
    assert (environ['SERVER_NAME'], environ['SERVER_PORT']) == ('example.org', '8080')
    assert Request(environ).url == 'http://example.org:8080/a?b'
    # without a Host header at all, and with an IPv6 literal
    environ = environ_of(absolute_form(b'http://[2001:db8::1]/', []))
    assert environ['HTTP_HOST'] == '[2001:db8::1]'
    assert environ['SERVER_NAME'] == '2001:db8::1'


def test_a_trusted_proxys_forwarded_host_still_wins_over_an_absolute_target() -> None:
    request_head = absolute_form(
        b'http://internal:8000/', [(b'X-Forwarded-Host', b'public.example')]
    )
    request_head.client = ('127.0.0.1', 40000)  # a trusted proxy (SETTINGS)
    assert environ_of(request_head)['HTTP_HOST'] == 'public.example'


@pytest.mark.parametrize(
    'target',
    [
        b'http://user:secret@example.org/',  # userinfo: RFC 9110 section 4.2.4
        b'http:///no-host',
        b'ftp://example.org/file',
        b'http://exa mple.org/',
        b'http://example.org:80:80/',
    ],
)
def test_an_absolute_target_without_a_plain_host_is_a_bad_request(
    target: bytes,
) -> None:
    with pytest.raises(BadRequest):
        parse_target(target)


def test_pep_3333_keys() -> None:
    body = RequestBody(io.BytesIO(b'data'), 4)
    environ = build_environ(
        head(
            b'/x',
            [
                (b'Host', b'h'),
                (b'Content-Type', b'text/plain'),
                (b'Content-Length', b'4'),
            ],
            method='POST',
            http_version='1.0',
            client=('192.0.2.1', 5000),
            server=('127.0.0.1', 8000),
        ),
        body,
        SETTINGS,
    )
    assert environ['REQUEST_METHOD'] == 'POST'
    assert environ['SERVER_PROTOCOL'] == 'HTTP/1.0'
    assert environ['CONTENT_TYPE'] == 'text/plain'
    assert environ['CONTENT_LENGTH'] == '4'
    assert 'HTTP_CONTENT_TYPE' not in environ and 'HTTP_CONTENT_LENGTH' not in environ
    assert environ['wsgi.input'].read() == b'data'
    assert environ['wsgi.version'] == (1, 0)
    assert environ['wsgi.url_scheme'] == 'http'
    assert environ['wsgi.input_terminated'] is True
    assert (environ['REMOTE_ADDR'], environ['REMOTE_PORT']) == ('192.0.2.1', '5000')
    assert Request(environ).body == b'data'


def test_repeated_headers_are_joined_cookies_with_semicolons() -> None:
    environ = environ_of(
        head(
            b'/',
            [
                (b'Host', b'h'),
                (b'Accept', b'text/html'),
                (b'accept', b'application/json'),
                (b'Cookie', b'a=1'),
                (b'Cookie', b'b=2'),
            ],
        )
    )
    assert environ['HTTP_ACCEPT'] == 'text/html, application/json'
    assert environ['HTTP_COOKIE'] == 'a=1; b=2'
    assert Request(environ).cookies == {'a': '1', 'b': '2'}


def test_header_names_with_underscores_are_dropped() -> None:
    environ = environ_of(
        head(
            b'/', [(b'Host', b'h'), (b'X_Forwarded_For', b'6.6.6.6'), (b'X-Real', b'1')]
        )
    )
    assert 'HTTP_X_FORWARDED_FOR' not in environ
    assert environ['HTTP_X_REAL'] == '1'


def test_header_values_are_latin1_strings_byte_for_byte() -> None:
    environ = environ_of(head(b'/', [(b'Host', b'h'), (b'X-Name', 'Zoë'.encode())]))
    assert environ['HTTP_X_NAME'].encode('latin-1') == 'Zoë'.encode()


def test_a_dechunked_body_gets_its_length_and_no_transfer_encoding() -> None:
    environ = build_environ(
        head(
            b'/', [(b'Host', b'h'), (b'Transfer-Encoding', b'chunked')], method='POST'
        ),
        RequestBody(io.BytesIO(b'12345'), 5),
        SETTINGS,
    )
    assert environ['CONTENT_LENGTH'] == '5'
    assert 'HTTP_TRANSFER_ENCODING' not in environ


def test_no_body_no_content_length() -> None:
    environ = environ_of(head(b'/', [(b'Host', b'h'), (b'Content-Length', b'0')]))
    assert 'CONTENT_LENGTH' not in environ
    assert Request(environ).body == b''


def test_server_name_and_port_from_host() -> None:
    assert [
        (e['SERVER_NAME'], e['SERVER_PORT'])
        for e in (
            environ_of(head(b'/', [(b'Host', b'example.com:8080')])),
            environ_of(head(b'/', [(b'Host', b'example.com')])),
            environ_of(head(b'/', [(b'Host', b'example.com')], scheme='https')),
            environ_of(head(b'/', [(b'Host', b'[::1]:9000')])),
            environ_of(head(b'/', [], server=('10.0.0.1', 7000))),
        )
    ] == [
        ('example.com', '8080'),
        ('example.com', '80'),
        ('example.com', '443'),
        ('::1', '9000'),
        ('10.0.0.1', '7000'),
    ]


def test_a_host_with_a_bad_port_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="'h:x' has an invalid port"):
        environ_of(head(b'/', [(b'Host', b'h:x')]))


def test_script_name_setting_mounts_the_application() -> None:
    environ = environ_of(head(b'/shop/cart?x=1'), script_name='/shop')
    assert (environ['SCRIPT_NAME'], environ['PATH_INFO']) == ('/shop', '/cart')
    assert Request(environ).application_url == 'http://example.com/shop'
    environ = environ_of(head(b'/shop'), script_name='/shop')
    assert (environ['SCRIPT_NAME'], environ['PATH_INFO']) == ('/shop', '')


def test_paths_outside_the_mount_point_are_refused() -> None:
    for target in (b'/other', b'/shopping'):
        with pytest.raises(OutsideMountPoint, match="mounted at '/shop'") as refused:
            environ_of(head(target), script_name='/shop')
        assert refused.value.status == 404


def test_a_server_root_path_is_stripped_when_present() -> None:
    # uvicorn passes /api/items with root_path /api; gunicorn -k asgi passes /items
    for target in (b'/api/items', b'/items'):
        environ = environ_of(head(target, root_path='/api/'))
        assert (environ['SCRIPT_NAME'], environ['PATH_INFO']) == ('/api', '/items')


def test_mount_is_by_path_segment() -> None:
    assert mount('/app', '/app', outside_ok=False) == ('/app', '')
    assert mount('/app/', '/app', outside_ok=False) == ('/app', '/')
    assert mount('/x', '', outside_ok=False) == ('', '/x')


FORWARDED = [
    (b'Host', b'internal:8000'),
    (b'X-Forwarded-For', b'203.0.113.9, 127.0.0.1'),
    (b'X-Forwarded-Proto', b'https'),
    (b'X-Forwarded-Host', b'www.example.org'),
]


def test_forwarded_headers_from_a_trusted_peer() -> None:
    environ = environ_of(head(b'/p', FORWARDED, client=('127.0.0.1', 40000)))
    assert environ['REMOTE_ADDR'] == '203.0.113.9'
    assert 'REMOTE_PORT' not in environ  # that was the proxy's port
    assert environ['wsgi.url_scheme'] == 'https'
    assert environ['HTTP_HOST'] == 'www.example.org'
    assert (environ['SERVER_NAME'], environ['SERVER_PORT']) == (
        'www.example.org',
        '443',
    )
    assert Request(environ).url == 'https://www.example.org/p'


def test_forwarded_headers_from_an_untrusted_peer_change_nothing() -> None:
    environ = environ_of(head(b'/p', FORWARDED, client=('198.51.100.4', 40000)))
    assert environ['REMOTE_ADDR'] == '198.51.100.4'
    assert environ['wsgi.url_scheme'] == 'http'
    assert environ['HTTP_HOST'] == 'internal:8000'
    # still visible to an application that wants to look
    assert environ['HTTP_X_FORWARDED_FOR'] == '203.0.113.9, 127.0.0.1'


def test_a_unix_socket_peer_is_trusted_as_in_gunicorn() -> None:
    environ = environ_of(head(b'/p', FORWARDED, client=None))
    assert environ['REMOTE_ADDR'] == '203.0.113.9'


def test_many_different_header_names_are_all_converted() -> None:
    # header names are remembered to spare the conversion; a client that
    # makes up thousands of them still gets each one, and the memory of
    # names stays bounded
    from aiotao.serving import environ as environ_module

    for batch in range(3):
        names = [f'X-Made-Up-{batch}-{n}'.encode() for n in range(400)]
        environ = environ_of(head(b'/', [(name, b'v') for name in names]))
        for n in range(400):
            assert environ[f'HTTP_X_MADE_UP_{batch}_{n}'] == 'v'
        assert len(environ_module._header_keys) <= environ_module._HEADER_KEYS_KEPT


def test_a_remembered_header_name_with_an_underscore_is_still_dropped() -> None:
    for _ in range(2):
        environ = environ_of(head(b'/', [(b'X_Forwarded_For', b'6.6.6.6')]))
        assert 'HTTP_X_FORWARDED_FOR' not in environ
