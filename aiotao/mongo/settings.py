"""Reading the ``mongo.*`` settings, checked at startup.

======================  ==================================================
setting                 meaning
======================  ==================================================
``mongo.uri``           a MongoDB connection string (required)
``mongo.db``            database name; default: the URI's path
``mongo.client_class``  dotted name of the client class; default
                        ``pymongo.AsyncMongoClient`` (Motor's
                        ``motor.motor_asyncio.AsyncIOMotorClient`` works)
``mongo.option.NAME``   a PyMongo client option, e.g.
                        ``mongo.option.maxPoolSize = 50``
======================  ==================================================

``mongo.option.NAME = VALUE`` means exactly what ``?NAME=VALUE`` means in the
URI: the value is the ini's string and PyMongo converts it with the validator
it uses for URI options (``maxPoolSize = 50`` is an int, ``w = 1`` an int,
``w = majority`` a string, ``serverSelectionTimeoutMS = 2000`` milliseconds).
Keyword-only options such as ``tz_aware = true`` are accepted too.

Everything is checked when the application is configured, by the driver's
own validation and without connecting, so a typo stops the start with a
:class:`~pyramid.exceptions.ConfigurationError` that names the setting::

    settings = {'mongo.uri': 'mongodb://127.0.0.1:27017/shop',
                'mongo.option.maxPoolSize': '50'}
    mongo = read_settings(settings)
    mongo.database_name                        # 'shop'
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError
from pyramid.exceptions import ConfigurationError
from pyramid.path import DottedNameResolver

DEFAULT_CLIENT_CLASS = 'pymongo.AsyncMongoClient'
OPTION_PREFIX = 'mongo.option.'

_PASSWORD = re.compile(r'(?<=://)([^:/@]*):[^@/]*@')


@dataclass(frozen=True)
class MongoSettings:
    """What the ``mongo.*`` settings say, validated."""

    uri: str
    database_name: str
    client_class: Callable[..., Any]
    options: Mapping[str, str] = field(default_factory=dict)

    def make_client(self) -> Any:
        """A new client: the caller owns it and must close it."""
        return self.client_class(self.uri, **self.options)

    @property
    def display_uri(self) -> str:
        """The URI with its password masked, for logs and messages."""
        return redact(self.uri)


def redact(uri: str) -> str:
    """Mask the password of a connection string.

    >>> redact('mongodb://app:s3cret@db.example.com/shop')
    'mongodb://app:***@db.example.com/shop'
    """
    return _PASSWORD.sub(r'\1:***@', uri)


def read_settings(settings: Mapping[str, Any]) -> MongoSettings:
    """Validate the ``mongo.*`` settings; raise ``ConfigurationError`` naming the bad one."""
    uri = str(settings.get('mongo.uri') or '').strip()
    if not uri:
        raise ConfigurationError(
            'aiotao.mongo needs the mongo.uri setting, '
            'e.g. mongo.uri = mongodb://127.0.0.1:27017/myapp'
        )
    options = {
        key[len(OPTION_PREFIX) :]: str(value).strip()
        for key, value in settings.items()
        if key.startswith(OPTION_PREFIX)
    }
    uri_database = _check(uri, options)
    database_name = str(settings.get('mongo.db') or '').strip() or uri_database
    if not database_name:
        raise ConfigurationError(
            f'mongo.uri = {redact(uri)} names no database: add one to its path '
            f'(mongodb://host:27017/myapp) or set mongo.db'
        )
    return MongoSettings(
        uri=uri,
        database_name=database_name,
        client_class=_resolve_client_class(settings),
        options=options,
    )


def _check(uri: str, options: Mapping[str, str]) -> str | None:
    """Let the driver validate the URI and options; return the URI's database.

    A synchronous client built with ``connect=False`` runs the checks the
    async client runs on the same arguments, but opens no socket, starts no
    thread and, for ``mongodb+srv://``, leaves DNS to connection time.  The
    URI is checked alone, then the options are added one by one, so that an
    error names the setting that caused it.
    """
    client = _checked_client(uri, {}, f'mongo.uri = {redact(uri)}')
    try:
        database: str | None = client.get_default_database().name
    except PyMongoError:
        database = None
    finally:
        client.close()
    so_far: dict[str, Any] = {}
    for name, value in options.items():
        so_far[name] = value
        _checked_client(uri, so_far, f'{OPTION_PREFIX}{name} = {value}').close()
    return database


def _checked_client(uri: str, options: dict[str, Any], setting: str) -> Any:
    try:
        with warnings.catch_warnings():
            # PyMongo only warns about an unknown option in the URI: a typo
            # all the same.
            warnings.simplefilter('error')
            return MongoClient(uri, connect=False, **options)
    except (PyMongoError, UserWarning, ValueError, TypeError) as exc:
        raise ConfigurationError(f'{setting} is not valid: {exc}') from None


def _resolve_client_class(settings: Mapping[str, Any]) -> Callable[..., Any]:
    dotted = str(settings.get('mongo.client_class') or DEFAULT_CLIENT_CLASS).strip()
    try:
        client_class = DottedNameResolver().resolve(dotted)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(
            f'mongo.client_class = {dotted} cannot be imported: {exc}'
        ) from None
    if not callable(client_class):
        raise ConfigurationError(f'mongo.client_class = {dotted} is not a class')
    return client_class  # type: ignore[no-any-return]
