"""Tween factories (tweens are registered by dotted name, so they live here)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: What each tween saw, in order; tests reset it.
EVENTS: list[str] = []


def async_timing_tween_factory(handler: Callable[[Any], Any], registry: Any) -> Any:
    async def async_timing_tween(request: Any) -> Any:
        EVENTS.append('async tween: before')
        try:
            response = await handler(request)
            response.headers['X-Async-Tween'] = 'yes'
            return response
        finally:
            EVENTS.append('async tween: after')

    return async_timing_tween


def sync_wrapping_tween_factory(handler: Callable[[Any], Any], registry: Any) -> Any:
    """A legacy tween: a transaction manager would look like this."""

    def sync_wrapping_tween(request: Any) -> Any:
        EVENTS.append('sync tween: begin')
        try:
            response = handler(request)
            # a real response, not a coroutine: the view has finished
            EVENTS.append(f'sync tween: got {type(response).__name__}')
            response.headers['X-Sync-Tween-Thread'] = threading.current_thread().name
            return response
        finally:
            EVENTS.append('sync tween: finally')

    return sync_wrapping_tween


#: Thread-local state a sync tween sets up, as pyramid_tm's default manager.
THREAD_STATE = threading.local()


def thread_state_tween_factory(handler: Callable[[Any], Any], registry: Any) -> Any:
    """Sets thread-local state the view below reads (pyramid_tm's pattern)."""

    def thread_state_tween(request: Any) -> Any:
        THREAD_STATE.owner = request.path
        try:
            return handler(request)
        finally:
            del THREAD_STATE.owner

    return thread_state_tween


def marking_tween_factory(handler: Callable[[Any], Any], registry: Any) -> Any:
    def marking_tween(request: Any) -> Any:
        response = handler(request)
        response.headers['X-Marked'] = 'yes'
        return response

    return marking_tween
