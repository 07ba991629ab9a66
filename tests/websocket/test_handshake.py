"""The handshake's checks as plain functions: upgrade, origin, subprotocol."""

from __future__ import annotations

from typing import Any

import pytest
from pyramid.exceptions import ConfigurationError

from aiotao.websocket.handshake import (
    OriginPolicy,
    choose_subprotocol,
    handshake_problem,
    is_upgrade_request,
    normalize_origin,
    origin_policy_from_settings,
    request_origin,
)

VALID = {
    'REQUEST_METHOD': 'GET',
    'HTTP_UPGRADE': 'websocket',
    'HTTP_CONNECTION': 'keep-alive, Upgrade',
    'HTTP_SEC_WEBSOCKET_VERSION': '13',
    'HTTP_SEC_WEBSOCKET_KEY': 'dGhlIHNhbXBsZSBub25jZQ==',
}


def test_upgrade_detection_reads_the_token_list() -> None:
    assert is_upgrade_request({'HTTP_UPGRADE': 'h2c, WebSocket'})
    assert not is_upgrade_request({'HTTP_UPGRADE': 'websockets'})
    assert not is_upgrade_request({})


@pytest.mark.parametrize(
    ('change', 'problem'),
    [
        ({'REQUEST_METHOD': 'POST'}, 'a GET request, not POST'),
        ({'HTTP_UPGRADE': ''}, '"Upgrade: websocket" header is missing'),
        ({'HTTP_CONNECTION': 'close'}, '"Connection: Upgrade" header is missing'),
        ({'HTTP_SEC_WEBSOCKET_VERSION': '8'}, "Sec-WebSocket-Version '8'"),
        ({'HTTP_SEC_WEBSOCKET_KEY': 'short'}, "invalid Sec-WebSocket-Key 'short'"),
        ({'HTTP_SEC_WEBSOCKET_KEY': 'AAAA'}, 'expected 16 bytes in base64'),
    ],
)
def test_malformed_handshakes_are_explained(
    change: dict[str, str], problem: str
) -> None:
    assert handshake_problem(VALID) is None
    explained = handshake_problem({**VALID, **change})
    assert explained is not None and problem in explained


@pytest.mark.parametrize(
    ('origin', 'normalized'),
    [
        ('https://App.Example', 'https://app.example'),
        ('https://app.example:443', 'https://app.example'),
        ('http://app.example:80/', 'http://app.example'),
        ('http://app.example:8080', 'http://app.example:8080'),
        ('wss://app.example', 'https://app.example'),
        ('http://[::1]:8080', 'http://[::1]:8080'),
        ('null', None),
        ('file://', None),
        ('https://app.example/page', None),
        ('https://user@app.example', None),
        ('https://app.example:99999', None),
        ('app.example', None),
    ],
)
def test_origins_are_normalized(origin: str, normalized: str | None) -> None:
    assert normalize_origin(origin) == normalized


def env(origin: str | None, scheme: str = 'https', host: str = 'app.example') -> Any:
    environ = {'wsgi.url_scheme': scheme, 'HTTP_HOST': host}
    if origin is not None:
        environ['HTTP_ORIGIN'] = origin
    return environ


def test_same_origin_means_scheme_host_and_port() -> None:
    policy = OriginPolicy()
    assert policy.problem(env('https://app.example')) is None
    assert policy.problem(env('https://APP.example:443')) is None
    # a page served over http must not reach the https application
    assert policy.problem(env('http://app.example')) is not None
    assert policy.problem(env('https://app.example:8443')) is not None
    assert policy.problem(env('https://app.example.evil')) is not None
    assert policy.problem(env('null')) is not None


def test_missing_origin_is_allowed_unless_required() -> None:
    assert OriginPolicy().problem(env(None)) is None
    problem = OriginPolicy(allow_missing=False).problem(env(None))
    assert problem is not None and 'allow_missing_origin' in problem


def test_request_origin_falls_back_to_server_name() -> None:
    environ = {'wsgi.url_scheme': 'http', 'SERVER_NAME': 'h', 'SERVER_PORT': '80'}
    assert request_origin(environ) == 'http://h'


def test_settings_give_the_origin_policy() -> None:
    policy = origin_policy_from_settings(
        {
            'aiotao.websocket.allowed_origins': 'https://a.example\nhttp://b.example:81',
            'aiotao.websocket.allow_missing_origin': 'no',
        }
    )
    assert policy == OriginPolicy(
        allowed=frozenset({'https://a.example', 'http://b.example:81'}),
        allow_any=False,
        allow_missing=False,
    )
    assert origin_policy_from_settings(
        {'aiotao.websocket.allowed_origins': '*'}
    ).allow_any


@pytest.mark.parametrize(
    ('setting', 'value', 'message'),
    [
        ('allowed_origins', 'a.example', "'a.example' is not an origin"),
        ('allowed_origins', 'https://a.example/app', 'is not an origin'),
        ('allow_missing_origin', 'maybe', "= 'maybe': expected true or false"),
    ],
)
def test_bad_origin_settings_name_the_setting(
    setting: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as error:
        origin_policy_from_settings({f'aiotao.websocket.{setting}': value})
    assert f'aiotao.websocket.{setting}' in str(error.value)
    assert message in str(error.value)


def test_subprotocol_follows_the_client_preference() -> None:
    environ = {'HTTP_SEC_WEBSOCKET_PROTOCOL': 'b, a'}
    assert choose_subprotocol(environ, ['a', 'b']) == 'b'
    assert choose_subprotocol(environ, ['c']) is None
    assert choose_subprotocol({}, ['a']) is None
