"""Fixtures for the presence tests: real brokers for the backend tests."""

from __future__ import annotations

from tests.harness.mongodb import mongo_uri, mongodb
from tests.harness.redis import redis_server

__all__ = ['mongo_uri', 'mongodb', 'redis_server']
