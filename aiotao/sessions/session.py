"""The session object: a dict whose state lives in a store, not in the cookie.

:class:`ServerSession` implements Pyramid's
:class:`~pyramid.interfaces.ISession` (flash messages and CSRF tokens
included) over a plain ``dict`` of JSON values.  It never does I/O: the
tween of :mod:`aiotao.sessions` loads its state before the view and saves
it after, awaiting the store, so the session itself is usable from sync
and async code alike.

>>> session = ServerSession(None, None)
>>> session.new, session.changed_since_load
(True, False)
>>> session['nickname'] = 'ada'
>>> session.changed_since_load
True
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from pyramid.interfaces import ISession
from zope.interface import implementer

__all__ = ['ServerSession', 'new_session_id']

_FLASH = '_f_'
_CSRF = '_csrft_'


def new_session_id() -> str:
    """256 random bits: the only thing the cookie carries."""
    return secrets.token_urlsafe(32)


@implementer(ISession)
class ServerSession(dict[str, Any]):
    """One client's session; ``id`` is ``None`` until it is first saved."""

    def __init__(self, id: str | None, state: dict[str, Any] | None) -> None:
        super().__init__((state or {}).get('data', {}))
        self.id = id
        self.new = state is None
        self.created: float = (state or {}).get('created') or time.time()
        self.accessed: float = (state or {}).get('accessed') or self.created
        self.changed_since_load = False
        #: The id whose state must be deleted (set by :meth:`invalidate`).
        self.invalidated_id: str | None = None

    # -- what the store keeps -------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {'created': self.created, 'accessed': self.accessed, 'data': dict(self)}

    # -- ISession -------------------------------------------------------------

    def changed(self) -> None:
        self.changed_since_load = True

    def invalidate(self) -> None:
        """Forget everything; the old id is deleted from the store after the view.

        What is put in the session afterwards goes under a new id (so a
        logout followed by a login gets a fresh session).
        """
        if self.id is not None and self.invalidated_id is None:
            self.invalidated_id = self.id
        self.id = None
        super().clear()
        self.new = True
        self.created = time.time()
        self.changed_since_load = True

    def flash(self, msg: Any, queue: str = '', allow_duplicate: bool = True) -> None:
        storage = self.setdefault(_FLASH + queue, [])
        if allow_duplicate or msg not in storage:
            storage.append(msg)
            self.changed()

    def pop_flash(self, queue: str = '') -> list[Any]:
        messages: list[Any] = self.pop(_FLASH + queue, [])
        return messages

    def peek_flash(self, queue: str = '') -> list[Any]:
        messages: list[Any] = self.get(_FLASH + queue, [])
        return messages

    def new_csrf_token(self) -> str:
        token = secrets.token_hex(20)
        self[_CSRF] = token
        return token

    def get_csrf_token(self) -> str:
        token = self.get(_CSRF)
        return token if isinstance(token, str) else self.new_csrf_token()

    # -- mutations mark the session changed -------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.changed_since_load = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changed_since_load = True

    def pop(self, key: str, *default: Any) -> Any:
        present = key in self
        value = super().pop(key, *default)
        self.changed_since_load |= present
        return value

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self.changed_since_load = True
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.changed_since_load = True
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().update(*args, **kwargs)
        self.changed_since_load = True

    def clear(self) -> None:
        super().clear()
        self.changed_since_load = True

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)
