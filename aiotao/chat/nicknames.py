"""Who is talking: a nickname from the identity, the session, or made up.

:func:`nickname_for` decides, in order:

1. the authenticated userid (the security policy's, ``async`` allowed):
   a signed-in user is called by their userid, and cannot rename;
2. the nickname kept in the session (``request.session['aiotao.chat.nick']``);
3. a new ``guest-xxxx`` name, kept in the session when there is one.

The chat *page* is an HTTP request, so it is where a new guest name is
stored (its response sets the session cookie); the websocket handshake
that follows carries that cookie and gets the same name.  A websocket
without a session (no session factory, or a client that sends no cookie)
gets a fresh guest name for that connection only.  A rename over the
websocket is kept for the next visit by a ``POST`` to the page's
``nickname`` URL (:mod:`aiotao.chat.views`), since no response carries
a cookie after the handshake.

Each nickname also says **who** it is (:attr:`Nickname.key`): the userid
of a signed-in user, or a guest id kept in the session, so that the tabs
of one person are one member of a room, whatever they are called.

A name a guest chooses is checked, never silently changed
(:func:`check_nickname`): letters (with their accents), digits, spaces
and ``_ - . '``, at most :data:`MAX_NICKNAME_LENGTH` characters.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from aiotao.security import authenticated_userid_async
from aiotao.websocket.messages import MessageError

__all__ = [
    'GUEST_KEY',
    'MAX_NICKNAME_LENGTH',
    'SESSION_KEY',
    'Nickname',
    'check_nickname',
    'clean_nickname',
    'guest_nickname',
    'nickname_for',
    'remember_nickname',
]

MAX_NICKNAME_LENGTH = 24
SESSION_KEY = 'aiotao.chat.nick'
#: The session's guest id: the same person in every tab, whatever their name.
GUEST_KEY = 'aiotao.chat.guest'
#: Punctuation a nickname may hold besides letters, digits and spaces.
PUNCTUATION = "_-.'"
#: Accents stacked on one letter, at most (more is "Zalgo" text).
MAX_MARKS = 2

_NOT_ALLOWED = re.compile(r"[^\w .'-]")
_SPACES = re.compile(r'\s+')


@dataclass(frozen=True, slots=True)
class Nickname:
    """A nickname, whose it is, and whether it comes from the identity (fixed).

    >>> Nickname('ada', key='guest:3f9a')
    Nickname(name='ada', authenticated=False, key='guest:3f9a')
    """

    name: str
    authenticated: bool = False
    #: Who this is: ``user:<userid>``, ``guest:<id>`` or ``connection:<id>``.
    key: str = ''


def _invalid(problem: str, message: str) -> MessageError:
    return MessageError(
        'invalid', message, errors=[{'field': 'name', 'problem': problem}]
    )


def _shown(character: str) -> str:
    """A refused character as the error names it (invisible ones by code point)."""
    visible = character.isprintable() and unicodedata.category(character)[0] != 'M'
    return repr(character) if visible else f'U+{ord(character):04X}'


def check_nickname(name: str) -> str:
    """``name`` without surrounding spaces, if it may be a nickname; else a clear error.

    The error is a :class:`~aiotao.websocket.messages.MessageError`
    (``invalid``) saying what is wrong, for the client to show:

    >>> check_nickname('  Zoë O\\'Brien ')
    "Zoë O'Brien"
    >>> check_nickname('<i>Ada</i>')
    Traceback (most recent call last):
    ...
    aiotao.websocket.messages.MessageError: a nickname holds letters, digits, spaces and _ - . ' only, not '<', '>' or '/'
    """
    name = unicodedata.normalize('NFC', name.strip())
    if not name:
        raise _invalid('is empty', 'a nickname needs letters or digits')
    if len(name) > MAX_NICKNAME_LENGTH:
        raise _invalid(
            f'must be at most {MAX_NICKNAME_LENGTH} long',
            f'a nickname is at most {MAX_NICKNAME_LENGTH} characters '
            f'({len(name)} given)',
        )
    refused: list[str] = []
    marks = 0
    for character in name:
        category = unicodedata.category(character)
        marks = marks + 1 if category[0] == 'M' else 0
        allowed = (
            category[0] == 'L'
            or category == 'Nd'
            or character == ' '
            or character in PUNCTUATION
            or (category[0] == 'M' and 0 < marks <= MAX_MARKS)
        )
        if not allowed and character not in refused:
            refused.append(character)
    if refused:
        shown = [_shown(c) for c in refused]
        listed = (
            ', '.join(shown[:-1]) + ' or ' + shown[-1] if len(shown) > 1 else shown[0]
        )
        raise _invalid(
            'holds characters that are not allowed',
            f"a nickname holds letters, digits, spaces and _ - . ' only, not {listed}",
        )
    if unicodedata.category(name[0])[0] == 'M':
        raise _invalid(
            'starts with an accent', 'a nickname starts with a letter or digit'
        )
    if not any(character.isalnum() for character in name):
        raise _invalid('has no letter or digit', 'a nickname needs letters or digits')
    return name


def clean_nickname(name: str) -> str | None:
    """A user id made safe to show, or ``None`` if nothing usable is left.

    For names that are given, not chosen (a userid): what cannot be shown
    is left out.  A name a person chooses is checked instead
    (:func:`check_nickname`).

    >>> clean_nickname('  ada\\u202e@example.org ')
    'adaexample.org'
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


def _guest_key(session: Any) -> str:
    if session is None:
        return f'connection:{secrets.token_hex(8)}'
    guest = session.get(GUEST_KEY)
    if not isinstance(guest, str) or not 0 < len(guest) <= 64:
        guest = session[GUEST_KEY] = secrets.token_hex(8)
    return f'guest:{guest}'


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
            return Nickname(name, authenticated=True, key=f'user:{userid}')
    session = _session(request)
    key = _guest_key(session)
    if session is not None:
        stored = session.get(SESSION_KEY)
        if isinstance(stored, str):
            try:
                return Nickname(check_nickname(stored), key=key)
            except MessageError:
                pass  # kept by an older version, or by hand: a new name
    name = guest_nickname()
    remember_nickname(request, name)
    return Nickname(name, key=key)


def remember_nickname(request: Any, name: str) -> None:
    """Keep ``name`` in the session of ``request``, if it has one.

    Over a websocket this changes the session object only: no response
    carries a cookie after the handshake.
    """
    session = _session(request)
    if session is not None:
        session[SESSION_KEY] = name
