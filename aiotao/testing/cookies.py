"""The test client's cookie jar: cookies kept between requests, as a browser keeps them.

Built on the standard library's :class:`http.cookiejar.CookieJar`, which
implements the browser rules: a cookie goes back only to the host it came
from, under its ``Path``; ``Max-Age``/``Expires`` end it (``Max-Age=0``
deletes it); ``Secure`` cookies only travel over ``https``.  This module
only adapts it to a client without ``urllib``::

    jar = CookieJar()
    jar.extract('http://testserver/login', ['sid=42; Path=/', 'theme=dark'])
    jar.header_for('http://testserver/account')     # 'sid=42; theme=dark'
    jar['sid']                                      # '42'
"""

from __future__ import annotations

import email.message
import http.cookiejar
import urllib.request
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

__all__ = ['CookieJar']


class _ReceivedHeaders:
    """The ``response.info()`` that :meth:`http.cookiejar.CookieJar.extract_cookies` reads."""

    def __init__(self, set_cookie: Iterable[str]) -> None:
        self._message = email.message.Message()
        for value in set_cookie:
            self._message['Set-Cookie'] = value

    def info(self) -> email.message.Message:
        return self._message


class CookieJar:
    """Cookies by name; ``client.cookies`` is one.

    >>> jar = CookieJar()
    >>> jar.extract('http://testserver/', ['a=1; Path=/', 'b=2; Path=/admin'])
    >>> jar.header_for('http://testserver/'), jar.header_for('http://testserver/admin/x')
    ('a=1', 'b=2; a=1')
    >>> jar.extract('http://testserver/', ['a=; Max-Age=0; Path=/'])
    >>> sorted(jar)
    ['b']
    """

    def __init__(self, url: str = 'http://testserver/') -> None:
        self._jar = http.cookiejar.CookieJar()
        #: Where cookies set by hand (:meth:`set`) come from by default.
        self.url = url

    def header_for(self, url: str) -> str | None:
        """The ``Cookie`` header a browser sends with a request to ``url``."""
        request = urllib.request.Request(url)
        self._jar.add_cookie_header(request)
        return request.get_header('Cookie')

    def extract(self, url: str, set_cookie: Iterable[str]) -> None:
        """Keep the cookies of ``Set-Cookie`` headers a response to ``url`` carried."""
        headers = list(set_cookie)
        if headers:
            request = urllib.request.Request(url)
            self._jar.extract_cookies(_ReceivedHeaders(headers), request)  # type: ignore[arg-type]

    def set(
        self, name: str, value: str, *, url: str | None = None, path: str = '/'
    ) -> None:
        """Set a cookie by hand, as if ``url`` (the client's base URL) had sent it.

        >>> jar = CookieJar()
        >>> jar.set('token', 'abc')
        >>> jar.header_for('http://testserver/x')
        'token=abc'
        """
        url = url or self.url
        host = (urlsplit(url).hostname or '').lower()
        if '.' not in host:
            # what http.cookiejar makes of a host without dots (its erhn)
            host += '.local'
        cookie = http.cookiejar.Cookie(
            version=0,
            name=name,
            value=value,
            port=None,
            port_specified=False,
            domain=host,
            domain_specified=False,
            domain_initial_dot=False,
            path=path,
            path_specified=True,
            secure=False,
            expires=None,
            discard=True,
            comment=None,
            comment_url=None,
            rest={},
        )
        self._jar.set_cookie(cookie)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the cookie ``name`` (any path), or ``default``."""
        for cookie in self._cookies():
            if cookie.name == name:
                return cookie.value
        return default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return any(cookie.name == name for cookie in self._cookies())

    def __iter__(self) -> Iterator[str]:
        return iter([cookie.name for cookie in self._cookies()])

    def __len__(self) -> int:
        return len(self._cookies())

    def items(self) -> list[tuple[str, str | None]]:
        """``(name, value)`` of every cookie kept."""
        return [(cookie.name, cookie.value) for cookie in self._cookies()]

    def delete(self, name: str) -> None:
        """Forget the cookies named ``name``."""
        for cookie in [c for c in self._cookies() if c.name == name]:
            self._jar.clear(cookie.domain, cookie.path, cookie.name)

    def clear(self) -> None:
        """Forget every cookie."""
        self._jar.clear()

    def __repr__(self) -> str:
        return f'<CookieJar {dict(self.items())!r}>'

    def _cookies(self) -> list[http.cookiejar.Cookie]:
        self._jar.clear_expired_cookies()
        return list(self._jar)
