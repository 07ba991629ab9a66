"""The game session's state machine, without a socket, a loop or a clock."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from aiotao.game.directory import RoomInfo
from aiotao.game.protocol import Join
from aiotao.game.relay import OWNER_LOST, moved
from aiotao.game.room import state_group
from aiotao.game.session import (
    GameSession,
    JoinGroup,
    LeaveGroup,
    LeaveSeat,
    MoveOn,
    ReleaseSeat,
    Send,
    SendHeartbeat,
    StartHeartbeat,
    StopHeartbeat,
)
from aiotao.websocket.messages import MessageError


@dataclass(frozen=True)
class DummySeat:
    room_id: str = 'r1'
    player_id: str = 'p1'
    token: str = 'r1.secret'


def relayed(lease: float = 3.0) -> tuple[GameSession, DummySeat, RoomInfo]:
    """A session seated in room r1, owned by another worker."""
    session = GameSession('c1', lease=lease, owner_timeout=2.0)
    session.player_name('ana')
    session.watch('r1')
    seat, info = DummySeat(), RoomInfo('r1', 'other-worker', 1, 10)
    session.seated(seat, now=100.0, relayed=True, info=info)
    assert session.actions_to_run() == [
        JoinGroup(state_group('r1')),
        StartHeartbeat(seat),
    ]
    return session, seat, info


@pytest.mark.parametrize(
    ('message', 'route'),
    [
        (Join(token='r1.abc'), 'rejoin'),
        (Join(mode='private', code='K7QX2'), 'code'),
        (Join(room='3f2a'), 'room'),
        (Join(), 'quick'),
        (Join(mode='create', bots=3), 'create'),
        (Join(mode='private'), 'create'),
    ],
)
def test_a_join_is_routed_by_its_fields(message: Join, route: str) -> None:
    assert GameSession('c1', lease=3).join_requested(message) == route


def test_a_seated_session_refuses_another_join() -> None:
    session, _, _ = relayed()
    with pytest.raises(MessageError) as refused:
        session.join_requested(Join())
    assert refused.value.as_json()['code'] == 'already_in_room'
    assert session.actions_to_run() == []


def test_the_name_is_cleaned_kept_and_made_up_when_empty() -> None:
    session = GameSession('c1', lease=3)
    made_up = session.player_name('')
    assert made_up
    assert session.player_name(' bob\x00 ') == 'bob'
    assert session.player_name('') == 'bob'


def test_watching_another_room_leaves_the_first_group() -> None:
    session = GameSession('c1', lease=3)
    session.watch('r1')
    session.watch('r2')
    assert session.actions_to_run() == [
        JoinGroup(state_group('r1')),
        LeaveGroup(state_group('r1')),
        JoinGroup(state_group('r2')),
    ]


def test_a_local_seat_owes_no_heartbeat() -> None:
    session = GameSession('c1', lease=3)
    session.seated(DummySeat(), now=0.0)
    assert not session.beating
    session.heartbeat_due(10.0, owner_silent=True)  # (no watch: ignored)
    assert session.actions_to_run() == []
    assert session.seat == DummySeat()


def test_heartbeats_go_every_third_of_the_lease() -> None:
    session, seat, _ = relayed(lease=3.0)
    assert session.heartbeat_period(owner_timeout=2.0) == 0.5
    beats = []
    for step in range(1, 9):  # 100.5 .. 104.0
        session.heartbeat_due(100.0 + step * 0.5, owner_silent=False)
        if session.actions_to_run() == [SendHeartbeat(seat)]:
            beats.append(100.0 + step * 0.5)
    assert beats == [101.0, 102.0, 103.0, 104.0]
    assert session.beating


def test_a_silent_owner_moves_the_player_on() -> None:
    session, seat, info = relayed()
    session.heartbeat_due(100.5, owner_silent=True)
    assert session.actions_to_run() == [
        LeaveGroup(state_group('r1')),
        ReleaseSeat(seat),
        MoveOn('r1', Join(token='r1.secret', name='ana'), info),
    ]
    assert session.seat is None and session.group is None
    assert not session.beating
    # told where everyone went, or that the room is closed
    session.moved('r1', 'r2')
    session.move_failed('r1')
    first, second = session.actions_to_run()
    assert isinstance(first, Send) and json.loads(first.text) == moved('r1', 'r2')
    assert isinstance(second, Send)
    assert json.loads(second.text) == {
        'type': 'room_closed',
        'room': 'r1',
        'reason': OWNER_LOST,
    }


def test_a_lost_owner_of_another_room_is_not_the_template() -> None:
    session, _, _ = relayed()
    session.relayed_info = RoomInfo('r0', 'other-worker', 1, 10)
    session.heartbeat_due(100.5, owner_silent=True)
    *_, move = session.actions_to_run()
    assert move == MoveOn('r1', Join(token='r1.secret', name='ana'), None)


def test_leaving_frees_the_seat_and_stops_everything() -> None:
    session, seat, _ = relayed()
    assert session.leave_requested() == {'left': 'r1'}
    assert session.actions_to_run() == [
        StopHeartbeat(),
        LeaveGroup(state_group('r1')),
        LeaveSeat(seat),
    ]
    with pytest.raises(MessageError) as refused:
        session.leave_requested()
    assert refused.value.as_json()['code'] == 'not_in_room'
    with pytest.raises(MessageError, match='join a room first'):
        session.input_received()


def test_input_goes_to_the_seat() -> None:
    session, seat, _ = relayed()
    assert session.input_received() is seat
    assert session.actions_to_run() == []


def test_detached_only_by_the_room_the_player_is_in() -> None:
    session, _, _ = relayed()
    assert not session.detached('r0')  # a late room_closed of another room
    assert session.actions_to_run() == []
    assert session.detached('r1')
    assert session.actions_to_run() == [StopHeartbeat()]
    assert session.seat is None
    assert not session.detached(None)  # already let go


def test_closing_releases_the_seat_for_the_grace_period() -> None:
    session, seat, _ = relayed()
    session.closed()
    assert session.actions_to_run() == [
        StopHeartbeat(),
        LeaveGroup(state_group('r1')),
        ReleaseSeat(seat),
    ]
    session.closed()  # (twice: nothing more to do)
    assert session.actions_to_run() == []


def test_the_welcome_reply_keeps_what_a_client_is_told() -> None:
    welcome = {'type': 'welcome', 'room': 'r1', 'seat': 'p1', 'token': 't', 'x': 1}
    assert GameSession.welcome_reply(welcome) == {
        'room': 'r1',
        'seat': 'p1',
        'token': 't',
    }


def test_the_old_protocol_names_still_import() -> None:
    from aiotao.game import connection, protocol

    assert protocol.GameSession is connection.GameConnection
    assert protocol.serve_session is connection.serve_connection
    assert protocol.LocalSeat is connection.LocalSeat
    with pytest.raises(AttributeError, match='no attribute'):
        protocol.Nothing  # noqa: B018
