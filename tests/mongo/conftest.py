"""Fixtures for the MongoDB tests: the development server, gunicorn, an in-process app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiotao import AsyncRouter, lifecycle, make_async_app
from tests.harness.gunicorn import gunicorn
from tests.harness.mongodb import mongo_db, mongo_uri, mongodb, private_mongodb
from tests.pkgs.mongoapp import make_config

__all__ = ['gunicorn', 'mongo_db', 'mongo_uri', 'mongodb', 'private_mongodb', 'serving']


@asynccontextmanager
async def serving(settings: dict[str, Any]) -> AsyncIterator[AsyncRouter]:
    """The test app on this loop, started and stopped as a server would."""
    router = make_async_app(make_config(settings))
    await lifecycle.start(router.registry)
    try:
        yield router
    finally:
        await lifecycle.stop(router.registry)
