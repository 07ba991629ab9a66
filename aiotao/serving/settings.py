"""Serving settings, read from the application's ini like any Pyramid setting.

===============================  ==========  ======================================
setting                          default     meaning
===============================  ==========  ======================================
``aiotao.max_body_size``         10485760    request body limit in bytes (413)
``aiotao.script_name``           (empty)     mount point, stripped from paths
``aiotao.forwarded_allow_ips``   see below   proxies whose X-Forwarded-* count
``aiotao.thread_pool_size``      32          threads for sync views and bodies
``aiotao.cancel_on_disconnect``  true        cancel a view when its client goes
``aiotao.body_timeout``          30          seconds a request body may stall (408)
``aiotao.header_timeout``        10          seconds for a request head when
                                             gunicorn's ``keepalive`` is 0
``aiotao.gc_interval``           30          seconds between the worker's full
                                             garbage collections (``off``: none;
                                             see :mod:`aiotao.serving.garbage`)
``aiotao.linger_size``           1048576     bytes of a refused body the worker
                                             still reads and discards ...
``aiotao.linger_time``           2           ... for at most these seconds
===============================  ==========  ======================================

After refusing a request whose body it did not read (413, 408, a broken
body's 400), aiotao's worker sends the refusal and then reads what the
client still sends, for at most ``aiotao.linger_time`` seconds and
``aiotao.linger_size`` bytes, before it closes the connection: closing at
once, with unread bytes, makes the kernel reset the connection, and a
client still sending may then lose the refusal.  Both bounds hold whatever
length the client announced (aiohttp's own lingering reads everything that
arrives in 10 s: gigabytes on a fast link).

``aiotao.forwarded_allow_ips`` defaults to the ``FORWARDED_ALLOW_IPS``
environment variable, else ``127.0.0.1,::1``, as in gunicorn.  Under
aiotao's gunicorn worker, gunicorn's own ``forwarded_allow_ips`` setting is
used instead, so that there is one place to set it.

>>> settings = ServingSettings.from_settings({'aiotao.max_body_size': '1024'})
>>> settings.max_body_size, settings.thread_pool_size
(1024, 32)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiotao.serving.garbage import COLLECT_INTERVAL
from aiotao.serving.proxies import TrustedProxies, default_forwarded_allow_ips
from aiotao.settings import (
    number,
    optional,
    positive_number,
    read_setting,
    whole_number,
)

DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024
DEFAULT_THREAD_POOL_SIZE = 32
DEFAULT_BODY_TIMEOUT = 30
DEFAULT_HEADER_TIMEOUT = 10
DEFAULT_LINGER_SIZE = 1024 * 1024
DEFAULT_LINGER_TIME = 2.0

_TRUE = {'true', 'yes', 'on', '1', 't', 'y'}
_FALSE = {'false', 'no', 'off', '0', 'f', 'n'}


class SettingError(ValueError):
    """A serving setting has a value that cannot be used."""


def _default_proxies() -> TrustedProxies:
    return TrustedProxies.parse(default_forwarded_allow_ips())


@dataclass(frozen=True)
class ServingSettings:
    """How a server converts requests for the application."""

    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    script_name: str = ''
    trusted_proxies: TrustedProxies = field(default_factory=_default_proxies)
    thread_pool_size: int = DEFAULT_THREAD_POOL_SIZE
    cancel_on_disconnect: bool = True
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    #: Under aiotao's worker gunicorn's ``keepalive`` bounds how long a
    #: connection may take to send a request head; with keep-alive off
    #: (``keepalive = 0``) this does, so slow-header clients are dropped.
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    #: Seconds between the worker's full garbage collections, ``None`` for
    #: none (:mod:`aiotao.serving.garbage`).
    gc_interval: float | None = COLLECT_INTERVAL
    #: ``wsgi.multiprocess``: ``False`` under a server with one worker
    #: process (gunicorn's ``workers = 1``), as gunicorn's own workers say.
    multiprocess: bool = True
    #: Bytes of a refused request's body read and discarded before the
    #: connection is closed (see the module).
    linger_size: int = DEFAULT_LINGER_SIZE
    #: Seconds spent at most reading them.
    linger_time: float = DEFAULT_LINGER_TIME

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any] | None, **overrides: Any
    ) -> ServingSettings:
        """Read ``aiotao.*`` serving settings; ``overrides`` win over them."""
        settings = settings or {}
        gc_interval: float | None = COLLECT_INTERVAL
        values: dict[str, Any] = {
            'max_body_size': _positive_int(
                settings, 'aiotao.max_body_size', DEFAULT_MAX_BODY_SIZE
            ),
            'script_name': _script_name(settings.get('aiotao.script_name') or ''),
            'thread_pool_size': _positive_int(
                settings, 'aiotao.thread_pool_size', DEFAULT_THREAD_POOL_SIZE
            ),
            'cancel_on_disconnect': _boolean(
                settings, 'aiotao.cancel_on_disconnect', True
            ),
            'body_timeout': _positive_int(
                settings, 'aiotao.body_timeout', DEFAULT_BODY_TIMEOUT
            ),
            'header_timeout': _positive_int(
                settings, 'aiotao.header_timeout', DEFAULT_HEADER_TIMEOUT
            ),
            'gc_interval': read_setting(
                settings,
                'aiotao.gc_interval',
                gc_interval,
                optional(positive_number),
                f'a number of seconds (default {COLLECT_INTERVAL:g}), or off',
            ),
            'linger_size': read_setting(
                settings,
                'aiotao.linger_size',
                DEFAULT_LINGER_SIZE,
                whole_number(0),
                f'a number of bytes, 0 or more (default {DEFAULT_LINGER_SIZE})',
            ),
            'linger_time': read_setting(
                settings,
                'aiotao.linger_time',
                DEFAULT_LINGER_TIME,
                number(0),
                f'a number of seconds, 0 or more (default {DEFAULT_LINGER_TIME:g})',
            ),
        }
        proxies = settings.get('aiotao.forwarded_allow_ips')
        if proxies is not None:
            try:
                values['trusted_proxies'] = TrustedProxies.parse(proxies)
            except ValueError as exc:
                raise SettingError(f'aiotao.forwarded_allow_ips: {exc}') from None
        values.update(overrides)
        return cls(**values)


def _positive_int(settings: Mapping[str, Any], name: str, default: int) -> int:
    raw = settings.get(name)
    if raw is None or raw == '':
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if value <= 0:
        raise SettingError(
            f'{name} must be a positive whole number, got {raw!r} '
            f'(the default is {default})'
        )
    return value


def _boolean(settings: Mapping[str, Any], name: str, default: bool) -> bool:
    raw = settings.get(name)
    if raw is None or isinstance(raw, bool):
        return default if raw is None else raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingError(f'{name} must be true or false, got {raw!r}')


def _script_name(value: str) -> str:
    """Normalise a mount point: one leading slash, no trailing slash."""
    value = value.strip().rstrip('/')
    if value and not value.startswith('/'):
        value = '/' + value
    return value
