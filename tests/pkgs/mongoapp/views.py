"""Views of the test application."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pyramid.view import view_config

from aiotao.cache import cache
from tests.pkgs.mongoapp.clients import ConnectionCounter, CountingClient


@view_config(route_name='visit', renderer='json')
async def visit(request: Any) -> dict[str, Any]:
    """Insert, find, update and aggregate through ``request.db``."""
    user = request.matchdict['user']
    visits = request.db.visits
    inserted = await visits.insert_one({'user': user, 'seen': 0})
    found = await visits.find_one({'_id': inserted.inserted_id})
    await visits.update_one({'_id': found['_id']}, {'$inc': {'seen': 1}})
    totals = await (
        await visits.aggregate(
            [
                {'$match': {'user': user}},
                {
                    '$group': {
                        '_id': '$user',
                        'visits': {'$sum': 1},
                        'seen': {'$sum': '$seen'},
                    }
                },
            ]
        )
    ).to_list(None)
    return {'user': user, 'visits': totals[0]['visits'], 'seen': totals[0]['seen']}


@view_config(route_name='hello', renderer='string')
async def hello(request: Any) -> str:
    return 'hello'


@view_config(route_name='stats', renderer='json')
async def stats(request: Any) -> dict[str, Any]:
    pid = os.getpid()
    return {
        'pid': pid,
        'clients': sum(1 for owner, _ in CountingClient.instances if owner == pid),
        'connections_created': ConnectionCounter.created,
    }


@view_config(route_name='cached', renderer='json')
@cache('cached-item', expire=30)
async def cached_item(request: Any) -> dict[str, Any]:
    """Counts its computations in the database, shared by the workers."""
    await asyncio.sleep(0.2)
    await request.db.computations.insert_one(
        {'item': request.matchdict['item'], 'pid': os.getpid()}
    )
    return {'item': request.matchdict['item'], 'computed_by': os.getpid()}


def tell_the_worker(event: Any) -> None:
    """Every response says which worker process served it."""
    event.response.headers['X-Worker'] = str(os.getpid())
