"""The in-memory backend is bounded: least recently used entries go first."""

from __future__ import annotations

import asyncio

import pytest

from aiotao.cache import CacheKey, Hit, MemoryBackend


def key(name: str, *args: object) -> CacheKey:
    return CacheKey.for_call(name, args, {})


async def test_it_never_holds_more_than_max_entries() -> None:
    backend = MemoryBackend(max_entries=100)
    for i in range(1000):
        await backend.set(key('page', i), i, expire=60)
    assert len(backend) == 100
    assert await backend.get(key('page', 899)) is None
    assert await backend.get(key('page', 900)) == Hit(900)


async def test_the_least_recently_used_entry_is_evicted() -> None:
    backend = MemoryBackend(max_entries=2)
    await backend.set(key('a'), 'a', expire=None)
    await backend.set(key('b'), 'b', expire=None)
    assert await backend.get(key('a')) == Hit('a')  # a is now the most recent
    await backend.set(key('c'), 'c', expire=None)
    assert await backend.get(key('b')) is None
    assert await backend.get(key('a')) == Hit('a')
    assert await backend.get(key('c')) == Hit('c')


async def test_none_is_a_value_and_expired_entries_are_misses() -> None:
    backend = MemoryBackend()
    await backend.set(key('nothing'), None, expire=0.05)
    assert await backend.get(key('nothing')) == Hit(None)
    await asyncio.sleep(0.06)
    assert await backend.get(key('nothing')) is None
    assert len(backend) == 0


async def test_invalidate_by_name_or_by_arguments() -> None:
    backend = MemoryBackend()
    for currency in ('EUR', 'USD'):
        await backend.set(key('rate', currency), 1.0, expire=60)
    await backend.set(key('other', 'EUR'), 2.0, expire=60)
    assert await backend.invalidate('rate', key('rate', 'EUR').args) == 1
    assert await backend.get(key('rate', 'USD')) == Hit(1.0)
    assert await backend.invalidate('rate', None) == 1
    assert await backend.get(key('other', 'EUR')) == Hit(2.0)


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match='at least 1'):
        MemoryBackend(max_entries=0)
