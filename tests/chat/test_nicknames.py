"""Nicknames: from the identity, the session, or a generated guest name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyramid import testing

from aiotao.chat.nicknames import (
    MAX_NICKNAME_LENGTH,
    SESSION_KEY,
    Nickname,
    clean_nickname,
    nickname_for,
)


@pytest.mark.parametrize(
    ('given', 'shown'),
    [
        ('ada', 'ada'),
        ('  Ada   Lovelace ', 'Ada Lovelace'),
        ('<img src=x onerror=alert(1)>', 'img srcx onerroralert1'),
        ("O'Brien-Smith_2", "O'Brien-Smith_2"),
        ('zo\u00eb', 'zo\u00eb'),
        ('\uff41\uff44\uff41', 'ada'),  # fullwidth letters, NFKC
        ('right\u202eleft', 'rightleft'),
        ('tab\there', 'tabhere'),
        ('x' * 100, 'x' * MAX_NICKNAME_LENGTH),
        ('--..--', None),
        ('\x00\x07', None),
        ('', None),
    ],
)
def test_clean_nickname(given: str, shown: str | None) -> None:
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
    # the next request of the same session is the same guest
    assert await nickname_for(request) == nick


async def test_the_session_name_is_used_and_cleaned(config: Any) -> None:
    request = testing.DummyRequest()
    request.session[SESSION_KEY] = ' <b>ada</b> '
    assert await nickname_for(request) == Nickname('badab')


async def test_the_authenticated_userid_wins(config: Any) -> None:
    config.set_security_policy(UseridPolicy('grace'))
    config.commit()
    request = testing.DummyRequest()
    request.session[SESSION_KEY] = 'someone-else'
    assert await nickname_for(request) == Nickname('grace', authenticated=True)


async def test_without_a_session_factory_a_guest_name_is_made(config: Any) -> None:
    class NoSession:
        registry = config.registry

        @property
        def session(self) -> Any:
            raise AttributeError('No session factory registered')

    nick = await nickname_for(NoSession())
    assert nick.name.startswith('guest-')
