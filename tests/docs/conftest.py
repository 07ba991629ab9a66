"""The development MongoDB for the examples of the MongoDB and cache pages."""

from tests.harness.mongodb import mongo_uri, mongodb

__all__ = ['mongo_uri', 'mongodb']
