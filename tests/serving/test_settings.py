"""The aiotao.* serving settings (aiotao.serving.settings)."""

from __future__ import annotations

import pytest
from pyramid.exceptions import ConfigurationError

from aiotao.serving.settings import (
    DEFAULT_MAX_BODY_SIZE,
    ServingSettings,
    SettingError,
)


def test_defaults() -> None:
    settings = ServingSettings.from_settings(None)
    assert settings.max_body_size == DEFAULT_MAX_BODY_SIZE == 10 * 1024 * 1024
    assert settings.thread_pool_size == 32
    assert settings.script_name == ''
    assert settings.cancel_on_disconnect is True
    assert settings.body_timeout == 30
    assert settings.trusted_proxies.trusts('127.0.0.1')
    assert settings.trusted_proxies.trusts('::1')
    assert not settings.trusted_proxies.trusts('10.0.0.1')


def test_the_proxy_default_follows_forwarded_allow_ips_like_gunicorn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv('FORWARDED_ALLOW_IPS', '10.0.0.0/8')
    assert ServingSettings.from_settings({}).trusted_proxies.trusts('10.1.1.1')


def test_values_from_an_ini() -> None:
    settings = ServingSettings.from_settings(
        {
            'aiotao.max_body_size': '1024',
            'aiotao.thread_pool_size': '4',
            'aiotao.script_name': 'shop/',
            'aiotao.cancel_on_disconnect': 'off',
            'aiotao.forwarded_allow_ips': '*',
            'aiotao.body_timeout': '5',
        }
    )
    assert settings.body_timeout == 5
    assert settings.max_body_size == 1024
    assert settings.thread_pool_size == 4
    assert settings.script_name == '/shop'
    assert settings.cancel_on_disconnect is False
    assert settings.trusted_proxies.trusts('198.51.100.1')


@pytest.mark.parametrize(
    ('name', 'value', 'message'),
    [
        ('aiotao.max_body_size', '10M', 'must be a positive whole number'),
        ('aiotao.max_body_size', '0', 'must be a positive whole number'),
        ('aiotao.thread_pool_size', '-1', 'the default is 32'),
        ('aiotao.cancel_on_disconnect', 'maybe', 'must be true or false'),
        ('aiotao.forwarded_allow_ips', 'proxy.local', "'proxy.local' is not an IP"),
    ],
)
def test_bad_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingError, match=name.replace('.', r'\.')) as error:
        ServingSettings.from_settings({name: value})
    assert message in str(error.value)


def test_the_garbage_collection_clock_is_set_or_switched_off() -> None:
    assert ServingSettings.from_settings({}).gc_interval == 30
    read = ServingSettings.from_settings
    assert read({'aiotao.gc_interval': '2.5'}).gc_interval == 2.5
    assert read({'aiotao.gc_interval': 'off'}).gc_interval is None
    for bad in ('0', 'soon', '-5'):
        with pytest.raises(ConfigurationError, match=r'aiotao\.gc_interval = '):
            read({'aiotao.gc_interval': bad})


def test_lingering_after_a_refusal_is_bounded_in_bytes_and_seconds() -> None:
    read = ServingSettings.from_settings
    assert (read({}).linger_size, read({}).linger_time) == (1024 * 1024, 2.0)
    settings = read({'aiotao.linger_size': '0', 'aiotao.linger_time': '0.5'})
    assert (settings.linger_size, settings.linger_time) == (0, 0.5)
    for name, bad in [
        ('aiotao.linger_size', '1M'),
        ('aiotao.linger_size', '-1'),
        ('aiotao.linger_time', 'inf'),
        ('aiotao.linger_time', '-2'),
    ]:
        with pytest.raises(ConfigurationError, match=rf'{name} = .*expected a number'):
            read({name: bad})
