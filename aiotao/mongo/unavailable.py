"""When MongoDB cannot be reached: 503 for the request, a line in the log.

PyMongo raises a :class:`~pymongo.errors.ConnectionFailure` (its subclasses
``ServerSelectionTimeoutError``, ``AutoReconnect``, ``NetworkTimeout``…) when
no server answers within ``serverSelectionTimeoutMS``.  The worker itself is
fine: only the requests that needed the database fail, with a
``503 Service Unavailable`` (and ``Retry-After``) instead of a 500, and the
driver reconnects on its own once the server is back.

:func:`check_reachable` runs when a worker starts serving and logs at once
whether the database answers, so a wrong host or a stopped server shows up in
the log before the first request does.  It does not stop the worker from
starting: the server may come up later, and every other view keeps working.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.errors import ConnectionFailure, PyMongoError
from pyramid.httpexceptions import HTTPServiceUnavailable

from aiotao.mongo.connection import MongoConnection

log = logging.getLogger('aiotao.mongo')

RETRY_AFTER_SECONDS = 5


async def database_unavailable(exc: ConnectionFailure, request: Any) -> Any:
    """Exception view for :class:`~pymongo.errors.ConnectionFailure`: a 503."""
    log.error(
        'aiotao.mongo: MongoDB unreachable, %s %s answered 503: %s: %s',
        request.method,
        request.path_qs,
        type(exc).__name__,
        _summary(exc),
    )
    return HTTPServiceUnavailable(
        'The database is unreachable; try again shortly.',
        headers={'Retry-After': str(RETRY_AFTER_SECONDS)},
    )


async def check_reachable(connection: MongoConnection) -> None:
    """Ping the server once and log the outcome (never raises)."""
    settings = connection.settings
    try:
        await connection.client().admin.command('ping')
    except PyMongoError as exc:
        log.error(
            'aiotao.mongo: cannot reach MongoDB at %s (mongo.uri): %s; views '
            'using request.db answer 503 until it is reachable',
            settings.display_uri,
            _summary(exc),
        )
    else:
        log.info(
            'aiotao.mongo: connected to %s, database %r',
            settings.display_uri,
            settings.database_name,
        )


def _summary(exc: BaseException) -> str:
    # A server selection error appends the whole topology description;
    # its first part already says which host failed and how.
    return str(exc).split(', Timeout:', 1)[0].split(', Topology Description:', 1)[0]
