"""The demo's sessions: the chat's nicknames and the CSRF tokens of ``/items``.

The secret signing the session cookie comes from, in order: the
``SESSION_SECRET`` environment variable, the ``session.secret`` setting
(in an ini that is not committed), or a random secret made once and kept
in the file ``session.secret_file`` (default ``var/session.secret`` in the
working directory, which git ignores), so that every worker and every
restart of a development server agrees on it.  No secret is in a
committed file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyramid.config import Configurator
from pyramid.csrf import SessionCSRFStoragePolicy
from pyramid.session import SignedCookieSessionFactory

__all__ = ['DEFAULT_SECRET_FILE', 'includeme', 'session_secret']

DEFAULT_SECRET_FILE = 'var/session.secret'


def session_secret(settings: Mapping[str, Any]) -> str:
    """The session secret (see the module docstring).

    >>> session_secret({'session.secret': 'from the ini'})
    'from the ini'
    """
    secret = os.environ.get('SESSION_SECRET') or settings.get('session.secret')
    if secret:
        return str(secret)
    path = Path(settings.get('session.secret_file') or DEFAULT_SECRET_FILE)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # exclusive create: when several workers start at once, one writes
        try:
            with path.open('x') as new_file:
                new_file.write(secrets.token_urlsafe(32))
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path.read_text().strip()


def includeme(config: Configurator) -> None:
    secret = session_secret(config.get_settings())
    config.set_session_factory(
        SignedCookieSessionFactory(secret, httponly=True, samesite='Lax')
    )
    config.set_csrf_storage_policy(SessionCSRFStoragePolicy())
