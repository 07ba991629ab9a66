"""Who is talking: a nickname from the identity, the session, or made up.

:func:`nickname_for` decides, in order:

1. the authenticated userid (the security policy's, ``async`` allowed):
   a logged-in user is called by their userid, and cannot rename;
2. the nickname kept in the session (``request.session['aiotao.chat.nick']``);
3. a new ``guest-xxxx`` name, kept in the session when there is one.

The chat *page* is an HTTP request, so it is where a new guest name is
stored (its response sets the session cookie); the websocket handshake
that follows carries that cookie and gets the same name.  A websocket
without a session (no session factory, or a client that sends no cookie)
gets a fresh guest name for that connection only.

Names are cleaned (:func:`clean_nickname`): letters, digits, spaces and
``_ - . '``, at most :data:`MAX_NICKNAME_LENGTH` characters.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from aiotao.security import authenticated_userid_async

__all__ = [
    'MAX_NICKNAME_LENGTH',
    'SESSION_KEY',
    'Nickname',
    'clean_nickname',
    'guest_nickname',
    'nickname_for',
    'remember_nickname',
]

MAX_NICKNAME_LENGTH = 24
SESSION_KEY = 'aiotao.chat.nick'

_NOT_ALLOWED = re.compile(r"[^\w .'-]")
_SPACES = re.compile(r'\s+')


@dataclass(frozen=True, slots=True)
class Nickname:
    """A nickname, and whether it comes from the identity (fixed) or not."""

    name: str
    authenticated: bool = False


def clean_nickname(name: str) -> str | None:
    """``name`` made safe to show, or ``None`` if nothing usable is left.

    >>> clean_nickname('  Ada\\u202e <b>Lovelace</b> ')
    'Ada bLovelaceb'
    >>> clean_nickname('\\x00\\x01') is None
    True
    """
    name = unicodedata.normalize('NFKC', name)
    name = ''.join(
        character
        for character in name
        if unicodedata.category(character)[0] not in ('C', 'Z') or character == ' '
    )
    name = _SPACES.sub(' ', _NOT_ALLOWED.sub('', name)).strip()
    name = name[:MAX_NICKNAME_LENGTH].strip()
    # a name is someone's: punctuation alone ("--", "...") is no one's
    return name if any(character.isalnum() for character in name) else None


def guest_nickname() -> str:
    """A made-up name: ``guest-`` and four hex digits.

    >>> guest_nickname().startswith('guest-')
    True
    """
    return f'guest-{secrets.token_hex(2)}'


def _session(request: Any) -> Any:
    """The request's session, or ``None`` without a session factory."""
    try:
        return request.session
    except AttributeError:  # Pyramid's answer when no factory is registered
        return None


async def nickname_for(request: Any) -> Nickname:
    """The nickname of whoever made ``request`` (see the module docstring).

    >>> from pyramid import testing
    >>> request = testing.DummyRequest()       # doctest: +SKIP
    >>> (await nickname_for(request)).name     # doctest: +SKIP
    'guest-3f9a'
    """
    userid = await authenticated_userid_async(request)
    if userid is not None:
        name = clean_nickname(str(userid))
        if name is not None:
            return Nickname(name, authenticated=True)
    session = _session(request)
    if session is not None:
        stored = session.get(SESSION_KEY)
        if isinstance(stored, str):
            name = clean_nickname(stored)
            if name is not None:
                return Nickname(name)
    name = guest_nickname()
    remember_nickname(request, name)
    return Nickname(name)


def remember_nickname(request: Any, name: str) -> None:
    """Keep ``name`` in the session of ``request``, if it has one.

    Over a websocket this changes the session object only: no response
    carries a cookie after the handshake.
    """
    session = _session(request)
    if session is not None:
        session[SESSION_KEY] = name
