"""The views of :mod:`tests.pkgs.tmapp`: writes that must commit, roll back or retry."""

from __future__ import annotations

import asyncio
from typing import Any

from pyramid.view import exception_view_config, view_config
from sqlalchemy import select
from transaction.interfaces import TransientError

from tests.pkgs.tmapp import Note


class Refused(Exception):
    """A view changed its mind after writing: the write must not stay."""


def add_note(request: Any) -> Note:
    note = Note(text=request.params['text'], attempt=request.environ.get('retry.attempt', 0))
    request.dbsession.add(note)
    request.dbsession.flush()
    return note


@view_config(route_name='notes', request_method='POST', renderer='json')
def write(request: Any) -> dict[str, Any]:
    note = add_note(request)
    return {'id': note.id}


@view_config(route_name='notes', request_method='GET', renderer='json')
def read(request: Any) -> list[dict[str, Any]]:
    notes = request.dbsession.scalars(select(Note).order_by(Note.id))
    return [{'text': note.text, 'attempt': note.attempt} for note in notes]


@view_config(route_name='failing', request_method='POST', renderer='json')
def write_then_fail(request: Any) -> dict[str, Any]:
    add_note(request)
    raise Refused(request.params['text'])


@exception_view_config(Refused, renderer='json')
def refused(exc: Refused, request: Any) -> dict[str, Any]:
    request.response.status_int = 409
    return {'refused': str(exc)}


@view_config(route_name='conflicting', request_method='POST', renderer='json')
def write_then_conflict_once(request: Any) -> dict[str, Any]:
    note = add_note(request)
    if request.environ['retry.attempt'] == 0:
        # a transient conflict (a serialization failure, say): retried
        raise TransientError('conflict on the first attempt')
    return {'id': note.id, 'attempt': note.attempt}


@view_config(route_name='async_note', request_method='POST', renderer='json')
async def write_from_async_view(request: Any) -> dict[str, Any]:
    await asyncio.sleep(0)
    note = add_note(request)
    await asyncio.sleep(0)
    return {'id': note.id}
