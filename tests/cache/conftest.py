"""Fixtures for the cache tests: the development MongoDB, gunicorn."""

from __future__ import annotations

from tests.harness.gunicorn import gunicorn
from tests.harness.mongodb import mongo_db, mongo_uri, mongodb

__all__ = ['gunicorn', 'mongo_db', 'mongo_uri', 'mongodb']
