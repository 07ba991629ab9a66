"""Trusted proxies: gunicorn's forwarded_allow_ips semantics (aiotao.serving.proxies)."""

from __future__ import annotations

import pytest

from aiotao.serving.proxies import Forwarded, TrustedProxies


def test_addresses_and_networks() -> None:
    proxies = TrustedProxies.parse('127.0.0.1, 10.0.0.0/8,::1, fd00::/8')
    assert proxies.trusts('127.0.0.1')
    assert proxies.trusts('10.20.30.40')
    assert proxies.trusts('::1')
    assert proxies.trusts('fd12::1')
    assert not proxies.trusts('11.0.0.1')
    assert not proxies.trusts('127.0.0.2')
    assert not proxies.trusts('not an address')


def test_star_trusts_everyone_and_no_address_means_a_unix_socket() -> None:
    assert TrustedProxies.parse('*').trusts('198.51.100.1')
    assert TrustedProxies.parse('').trusts(None)
    assert not TrustedProxies.parse('').trusts('127.0.0.1')


def test_a_list_works_as_well_as_a_string() -> None:
    # gunicorn's cfg.forwarded_allow_ips is already a list
    assert TrustedProxies.parse(['127.0.0.1', '::1']).trusts('::1')


def test_an_invalid_entry_is_named() -> None:
    with pytest.raises(ValueError, match="'localhost' is not an IP address or network"):
        TrustedProxies.parse('127.0.0.1,localhost')


def test_the_client_is_the_rightmost_untrusted_hop() -> None:
    proxies = TrustedProxies.parse('127.0.0.1,10.0.0.0/8')
    headers = {'x-forwarded-for': '6.6.6.6, 203.0.113.5, 10.0.0.2'}
    # 6.6.6.6 was written by the client itself: it proves nothing
    assert proxies.forwarded('127.0.0.1', headers).remote_addr == '203.0.113.5'
    all_trusted = {'x-forwarded-for': '10.0.0.3, 10.0.0.2'}
    assert proxies.forwarded('127.0.0.1', all_trusted).remote_addr == '10.0.0.3'


def test_proto_and_host_come_from_the_nearest_proxy() -> None:
    proxies = TrustedProxies.parse('127.0.0.1')
    forwarded = proxies.forwarded(
        '127.0.0.1',
        {'x-forwarded-proto': 'http, HTTPS', 'x-forwarded-host': 'evil, good.example'},
    )
    assert forwarded == Forwarded(None, 'https', 'good.example')
    assert (
        proxies.forwarded('127.0.0.1', {'x-forwarded-proto': 'wss'}).scheme == 'https'
    )
    assert (
        proxies.forwarded('127.0.0.1', {'x-forwarded-proto': 'gopher'}).scheme is None
    )


def test_nothing_is_believed_from_an_untrusted_peer() -> None:
    proxies = TrustedProxies.parse('127.0.0.1')
    headers = {
        'x-forwarded-for': '1.2.3.4',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'h',
    }
    assert proxies.forwarded('192.0.2.1', headers) == Forwarded(None, None, None)
