"""Nicknames: from the identity, the session, or a generated guest name; checked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyramid import testing

from aiotao.chat.nicknames import (
    GUEST_KEY,
    MAX_NICKNAME_LENGTH,
    SESSION_KEY,
    Nickname,
    check_nickname,
    clean_nickname,
    nickname_for,
)
from aiotao.websocket.messages import MessageError


@pytest.mark.parametrize(
    ('given', 'shown'),
    [
        ('ada', 'ada'),
        ('  Ada Lovelace ', 'Ada Lovelace'),
        ("O'Brien-Smith_2", "O'Brien-Smith_2"),
        ('zo\u00eb', 'zo\u00eb'),
        ('zoe\u0308', 'zo\u00eb'),  # the same letter, composed
        ('\u674e\u5c0f\u9f8d', '\u674e\u5c0f\u9f8d'),
        ('x' * MAX_NICKNAME_LENGTH, 'x' * MAX_NICKNAME_LENGTH),
    ],
)
def test_a_good_nickname_is_kept_as_typed(given: str, shown: str) -> None:
    assert check_nickname(given) == shown


@pytest.mark.parametrize(
    ('given', 'problem'),
    [
        ('<i>Ada</i>', "not '<', '>' or '/'"),
        ('right\u202eleft', 'not U+202E'),
        ('tab\there', 'not U+0009'),
        ('ad\u200ba', 'not U+200B'),  # a zero-width space
        ('x' * 25, 'at most 24 characters (25 given)'),
        ('--..--', 'needs letters or digits'),
        ('   ', 'needs letters or digits'),
        ('a\u0301\u0300\u0302\u0303', 'not U+0303'),  # stacked accents
        ('\u0301a', 'starts with a letter or digit'),
    ],
)
def test_a_bad_nickname_is_refused_saying_why(given: str, problem: str) -> None:
    with pytest.raises(MessageError) as refused:
        check_nickname(given)
    assert refused.value.code == 'invalid'
    assert problem in refused.value.message


@pytest.mark.parametrize(
    ('given', 'shown'),
    [
        ('grace', 'grace'),
        ('ada@example.org', 'adaexample.org'),
        ('right\u202eleft', 'rightleft'),
        ('x' * 100, 'x' * MAX_NICKNAME_LENGTH),
        ('--..--', None),
    ],
)
def test_a_userid_is_cleaned_to_be_shown(given: str, shown: str | None) -> None:
    assert clean_nickname(given) == shown


class UseridPolicy:
    def __init__(self, userid: Any) -> None:
        self.userid = userid

    def identity(self, request: Any) -> Any:
        return self.userid

    async def authenticated_userid(self, request: Any) -> Any:
        return self.userid  # async, as a policy reading a database is

    def permits(self, request: Any, context: Any, permission: str) -> bool:
        return True


@pytest.fixture
def config() -> Iterator[Any]:
    config = testing.setUp()
    config.include('aiotao')
    yield config
    testing.tearDown()


async def test_a_guest_gets_a_generated_name_kept_in_the_session(config: Any) -> None:
    request = testing.DummyRequest()
    nick = await nickname_for(request)
    assert nick.name.startswith('guest-') and len(nick.name) == len('guest-') + 4
    assert not nick.authenticated
    assert request.session[SESSION_KEY] == nick.name
    assert nick.key == f'guest:{request.session[GUEST_KEY]}'
    # the next request of the same session is the same guest
    assert await nickname_for(request) == nick


async def test_the_session_name_is_used_if_it_is_a_good_one(config: Any) -> None:
    request = testing.DummyRequest()
    request.session[SESSION_KEY] = 'ada'
    assert (await nickname_for(request)).name == 'ada'
    request.session[SESSION_KEY] = ' <b>ada</b> '  # kept by an older version
    assert (await nickname_for(request)).name.startswith('guest-')


async def test_the_authenticated_userid_wins(config: Any) -> None:
    config.set_security_policy(UseridPolicy('grace'))
    config.commit()
    request = testing.DummyRequest()
    request.session[SESSION_KEY] = 'someone-else'
    assert await nickname_for(request) == Nickname(
        'grace', authenticated=True, key='user:grace'
    )


async def test_without_a_session_factory_a_guest_name_is_made(config: Any) -> None:
    class NoSession:
        registry = config.registry

        @property
        def session(self) -> Any:
            raise AttributeError('No session factory registered')

    nick = await nickname_for(NoSession())
    assert nick.name.startswith('guest-')
    assert nick.key.startswith('connection:')  # one connection, one person
