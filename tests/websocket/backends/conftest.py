"""Fixtures: a real redis-server, the development MongoDB, gunicorn."""

from __future__ import annotations

from tests.harness.gunicorn import gunicorn
from tests.harness.mongodb import mongo_db, mongo_uri, mongodb, private_mongodb
from tests.harness.redis import redis_server

__all__ = [
    'gunicorn',
    'mongo_db',
    'mongo_uri',
    'mongodb',
    'private_mongodb',
    'redis_server',
]
