"""Admission control's socket-free parts: the lag monitor, the limits, the settings.

Served for real (gunicorn, a stalled loop, worker_connections) in
``tests/serving/gunicorn/test_admission.py``.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from aiotao.serving.admission import Admission, AdmissionSettings, LoopLag


async def test_the_lag_is_seen_while_the_monitor_is_still_overdue() -> None:
    lag = LoopLag(tick=0.05)
    lag.start()
    try:
        await asyncio.sleep(0.12)
        assert lag.now() < 0.05
        time.sleep(0.3)  # the loop is blocked: the monitor cannot wake
        # what a request handled first thing after the stall sees
        assert lag.now() >= 0.25
        await asyncio.sleep(0.01)  # the monitor wakes, late
        assert lag.last >= 0.25 and lag.worst >= 0.25  # measured once it woke
        await asyncio.sleep(0.15)
        assert lag.now() < 0.05  # on time again
    finally:
        await lag.stop()


async def test_overloaded_only_past_the_setting() -> None:
    admission = Admission(AdmissionSettings(max_loop_lag=0.1))
    admission.lag.start()
    try:
        await asyncio.sleep(0.12)
        assert not admission.overloaded()
        time.sleep(0.25)
        assert admission.overloaded()
        assert admission.refuses(object())
    finally:
        await admission.lag.stop()
    off = Admission(AdmissionSettings(max_loop_lag=None))
    off.lag.start()
    try:
        time.sleep(0.2)
        assert not off.overloaded()
    finally:
        await off.lag.stop()


def test_connections_past_the_limit_are_refused_until_they_close() -> None:
    admission = Admission(AdmissionSettings(), worker_connections=2)
    first, second, third = object(), object(), object()
    admission.connection_made(first, 1)
    admission.connection_made(second, 2)
    admission.connection_made(third, 3)
    assert not admission.refuses(first) and not admission.refuses(second)
    assert admission.refuses(third)
    assert admission.metrics()['refused_connections'] == 1
    admission.connection_lost(third)
    assert not admission.over_limit(third)


@pytest.mark.parametrize(
    ('key', 'value'),
    [
        ('aiotao.admission.max_loop_lag', '0'),
        ('aiotao.admission.max_loop_lag', 'soon'),
        ('aiotao.admission.max_loop_lag', '600'),
        ('aiotao.admission.retry_after', '-1'),
        ('aiotao.admission.retry_after', '1.5'),
    ],
)
def test_a_bad_setting_stops_the_start_naming_it(key: str, value: str) -> None:
    config = Configurator(settings={key: value})
    with pytest.raises(ConfigurationError, match=key):
        config.include('aiotao')


def test_off_and_defaults() -> None:
    assert AdmissionSettings.from_settings({}) == AdmissionSettings(None, 1)
    settings = AdmissionSettings.from_settings({'aiotao.admission.max_loop_lag': 'off'})
    assert settings.max_loop_lag is None
