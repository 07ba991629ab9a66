"""The chat session's decisions, without a socket, a database or a loop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiotao.chat.nicknames import Nickname
from aiotao.chat.protocol import ChatMessage
from aiotao.chat.session import TRY_AGAIN_LATER, ChatSession, Close
from aiotao.websocket.messages import MessageError


def guest(name: str = 'ada', max_length: int = 10) -> ChatSession:
    return ChatSession('lobby', Nickname(name, key='guest:1'), max_length=max_length)


def refusal(error: pytest.ExceptionInfo[MessageError]) -> dict[str, object]:
    return error.value.as_json()


def test_a_say_is_cleaned_before_it_is_stored() -> None:
    assert guest().say('  hi\x00 there ') == 'hi there'


@pytest.mark.parametrize('text', ['', '   ', '\x00\x07'])
def test_an_empty_say_is_invalid(text: str) -> None:
    with pytest.raises(MessageError) as refused:
        guest().say(text)
    assert refusal(refused)['code'] == 'invalid'
    assert refusal(refused)['errors'] == [{'field': 'text', 'problem': 'is empty'}]


def test_a_say_too_long_says_the_limit() -> None:
    with pytest.raises(MessageError, match=r'at most 10 characters \(11 sent\)') as too:
        guest(max_length=10).say('x' * 11)
    assert refusal(too)['errors'] == [
        {'field': 'text', 'problem': 'must be at most 10 long'}
    ]
    assert guest(max_length=10).say('x' * 10) == 'x' * 10


def test_the_reply_to_a_stored_say_is_its_id_and_time() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    stored = ChatMessage('m1', 'lobby', 'ada', 'hi', at)
    assert ChatSession.stored(stored) == {'id': 'm1', 'at': '2026-01-02T03:04:05.678Z'}


def test_a_guest_renames_to_a_checked_name() -> None:
    session = guest('ada')
    assert session.rename('  Grace ') == ('Grace', True)
    assert session.rename('ada') == ('ada', False)  # (no rename to make)
    assert session.nick.name == 'ada'  # renamed by the presence, once free


def test_a_bad_nickname_is_invalid() -> None:
    with pytest.raises(MessageError) as refused:
        guest().rename('a\nb')
    assert refusal(refused)['code'] == 'invalid'


def test_a_signed_in_user_keeps_their_name() -> None:
    session = ChatSession('lobby', Nickname('ada', authenticated=True), max_length=9)
    with pytest.raises(MessageError) as refused:
        session.rename('grace')
    assert refusal(refused)['code'] == 'not_allowed'


def test_the_opening_messages() -> None:
    session = guest()
    welcome = {'type': 'welcome', 'nick': 'ada 2'}
    assert session.welcome(welcome, None) == welcome
    noticed = session.welcome(welcome, 'ada is taken here')
    assert noticed == {**welcome, 'notice': 'ada is taken here'}
    assert 'notice' not in welcome  # (the view's dict is left alone)
    at = datetime(2026, 1, 2, tzinfo=UTC)
    recent = [ChatMessage('m1', 'lobby', 'bob', 'hi', at)]
    assert session.history(recent) == {
        'type': 'history',
        'room': 'lobby',
        'messages': [recent[0].as_json()],
    }


def test_without_the_database_the_client_is_told_to_come_back() -> None:
    assert ChatSession.database_lost() == Close(
        TRY_AGAIN_LATER, 'the chat database is unavailable'
    )
    assert TRY_AGAIN_LATER == 1013
