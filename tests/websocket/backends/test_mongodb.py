"""MongoDBBackend against the development MongoDB (SecantusDB): change streams between processes."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from aiotao.testing.mongodb_server import MongoDBServer
from aiotao.websocket.backends.mongodb import MongoDBBackend
from tests.websocket.backends.processes import member_of, process, wait_for
from tests.websocket.backends.proxy import TcpProxy

#: The driver's default would make each outage test wait 30 s.
QUICK_DRIVER = {
    'mongo.option.serverSelectionTimeoutMS': '1000',
    'mongo.option.connectTimeoutMS': '1000',
}


def settings_for(uri: str, **more: str) -> dict[str, str]:
    return {'aiotao.broadcast': 'mongodb', 'mongo.uri': uri, **QUICK_DRIVER, **more}


async def test_broadcast_reaches_every_process_once_keeping_its_type(
    mongo_uri: str, mongo_db: Any
) -> None:
    settings = settings_for(mongo_uri)
    async with process(settings) as one, process(settings) as two:
        here, there, elsewhere = (
            await member_of(one),
            await member_of(two),
            await member_of(two, 'other room'),
        )
        await one.broadcast('room', 'hi ☃')
        await one.broadcast('room', b'\x00\xff')
        await two.broadcast('room', 'hello back')
        await wait_for(lambda: len(here.received) == 3 and len(there.received) == 3)
        await asyncio.sleep(0.2)  # anything extra (an echo) would be here by now
        assert here.received == ['hi ☃', b'\x00\xff', 'hello back']
        assert sorted(there.received, key=repr) == sorted(here.received, key=repr)
        assert [m for m in there.received if m != 'hello back'] == ['hi ☃', b'\x00\xff']
        assert elsewhere.received == []
    # the broadcasts went into a capped collection: bounded on disk
    options = mongo_db['aiotao_broadcast'].options()
    assert options['capped'] is True
    assert options['size'] == 16 * 1024 * 1024


async def test_collection_setting(mongo_uri: str, mongo_db: Any) -> None:
    settings = settings_for(
        mongo_uri,
        **{
            'aiotao.broadcast.collection': 'chat_events',
            'aiotao.broadcast.collection_size': '65536',
        },
    )
    async with process(settings) as one, process(settings) as two:
        there = await member_of(two)
        await one.broadcast('room', 'hi')
        await wait_for(lambda: there.received == ['hi'])
    assert mongo_db['chat_events'].options()['size'] == 65536
    assert 'aiotao_broadcast' not in mongo_db.list_collection_names()


async def test_messages_published_while_cut_off_arrive_after_reconnecting(
    mongodb: MongoDBServer, mongo_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, 'aiotao.broadcast')
    database = mongo_uri.rsplit('/', 1)[1]
    async with TcpProxy('127.0.0.1', mongodb.port) as proxy:
        # directConnection: the driver would otherwise learn the server's
        # own address from the replica set and go around the proxy
        behind_proxy = settings_for(
            f'mongodb://127.0.0.1:{proxy.port}/{database}?directConnection=true'
        )
        async with (
            process(behind_proxy) as cut_off,
            process(settings_for(mongo_uri)) as publisher,
        ):
            listener = await member_of(cut_off)
            await publisher.broadcast('room', 'before')
            await wait_for(lambda: listener.received == ['before'])

            await proxy.cut()
            await wait_for(lambda: not cut_off.backend.connected, 15)
            for n in range(3):
                await publisher.broadcast('room', f'while cut off {n}')
            # the publisher's inserts are done: they are in the collection
            await asyncio.sleep(0.5)
            await proxy.restore()

            await wait_for(lambda: len(listener.received) == 4, 15)
            assert listener.received == ['before'] + [
                f'while cut off {n}' for n in range(3)
            ]
    assert not [r for r in caplog.records if 'cannot resume' in r.getMessage()]


async def test_server_outage_keeps_local_delivery_and_recovers(
    private_mongodb: MongoDBServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, 'aiotao.broadcast')
    settings = settings_for(private_mongodb.uri_for('chat'))
    async with process(settings) as one, process(settings) as two:
        here, neighbour, there = (
            await member_of(one),
            await member_of(one),
            await member_of(two),
        )
        await one.broadcast('room', 'before')
        await wait_for(lambda: there.received == ['before'])

        private_mongodb.stop()
        started = time.monotonic()
        for n in range(20):
            await one.broadcast('room', f'during {n}')
        assert time.monotonic() - started < 0.5
        assert (
            neighbour.received
            == here.received
            == ['before'] + [f'during {n}' for n in range(20)]
        )
        await wait_for(lambda: not one.backend.connected, 15)

        private_mongodb.start()
        async with asyncio.timeout(20):
            while 'after' not in there.received:
                await one.broadcast('room', 'after')
                await asyncio.sleep(0.1)
        backend = one.backend
        assert isinstance(backend, MongoDBBackend)
        assert backend.dropped >= 1
    lost = [
        r.getMessage() for r in caplog.records if ' lost MongoDB at ' in r.getMessage()
    ]
    assert 1 <= len(lost) <= 2, lost  # once per process that noticed, not per message


@pytest.mark.timeout(30)
async def test_a_dropped_database_ends_the_stream_without_starving_the_loop(
    mongo_uri: str, mongo_db: Any
) -> None:
    # A stream whose database is dropped is dead: it must reconnect, not
    # spin on a cursor that answers at once (the loop would starve and the
    # worker could not even shut down).
    settings = settings_for(mongo_uri, **{'aiotao.broadcast.retry_max': '0.2'})
    async with process(settings) as one, process(settings) as two:
        there = await member_of(two)
        await one.broadcast('room', 'before')
        await wait_for(lambda: there.received == ['before'])
        await asyncio.to_thread(mongo_db.client.drop_database, mongo_db.name)
        ticks = 0
        started = time.monotonic()
        while time.monotonic() - started < 1.0:
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks > 20, f'the event loop ran {ticks} times in a second'
        async with asyncio.timeout(15):
            while 'after' not in there.received:
                await one.broadcast('room', 'after')
                await asyncio.sleep(0.1)


async def test_foreign_documents_are_skipped(
    mongo_uri: str, mongo_db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(mongo_uri)
    async with process(settings) as one, process(settings) as two:
        there = await member_of(two)
        await asyncio.to_thread(
            mongo_db['aiotao_broadcast'].insert_many,
            [{'group': 'room', 'text': 'not from aiotao'}, {'group': 'room'}],
        )
        await one.broadcast('room', 'real')
        await wait_for(lambda: there.received == ['real'])
    foreign = [
        r for r in caplog.records if 'that aiotao did not insert' in r.getMessage()
    ]
    assert len(foreign) == 1


async def test_close_leaves_no_task(mongo_uri: str) -> None:
    async with process(settings_for(mongo_uri)) as one:
        await member_of(one)
        await one.broadcast('room', 'hi')
    assert asyncio.all_tasks() == {asyncio.current_task()}
