"""What the test client hands back: a WebOb response, read to the end.

The application's response goes through the server's own steps
(:func:`aiotao.serving.responses.run_wsgi`, then the body streamed with
:class:`aiotao.serving.streaming.BodyStream`), so HTTP exceptions render
their bodies, ``HEAD`` gets headers only and streamed ``app_iter`` bodies
are read chunk by chunk and closed, exactly as under aiotao's worker.  The
result is a :class:`TestResponse`, a :class:`webob.Response` with the body
in memory::

    response = await client.get('/api/items')
    assert response.status_int == 200
    assert response.json == {'items': []}
    assert response.headers['Content-Type'] == 'application/json'
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from webob import Response

from aiotao.serving.responses import WSGIResponse
from aiotao.serving.streaming import BodyStream, may_have_body

__all__ = ['TestResponse', 'read_response']


class TestResponse(Response):  # type: ignore[misc]
    """A response as a client received it: status, headers and the whole body.

    Everything of :class:`webob.Response` (``status_int``, ``status``,
    ``headers``, ``body``, ``text``, ``json``, ``content_type``,
    ``charset``...) plus :attr:`cookies`.

    >>> response = TestResponse(status='200 OK', app_iter=[b'{"a": 1}'],
    ...     headerlist=[('Content-Type', 'application/json'),
    ...                 ('Set-Cookie', 'theme=dark; Path=/')])
    >>> response.status_int, response.json, response.cookies
    (200, {'a': 1}, {'theme': 'dark'})
    """

    # a class named Test* in a test module must not be collected by pytest
    __test__ = False

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies this response sets (``Set-Cookie``), name to value.

        A cookie being deleted (``Max-Age=0``) is listed with its empty
        value; the client's jar (``client.cookies``) shows what is kept.
        """
        found: dict[str, str] = {}
        for header in self.headers.getall('Set-Cookie'):
            parsed = SimpleCookie()
            try:
                parsed.load(header)
            except CookieError:
                continue  # a browser ignores a cookie it cannot parse too
            for name, morsel in parsed.items():
                found[name] = morsel.value
        return found

    def __repr__(self) -> str:
        return f'<TestResponse {self.status} {len(self.body)} bytes>'


async def read_response(response: WSGIResponse, method: str) -> TestResponse:
    """Read a started WSGI response to the end, as a server sends it.

    The body is skipped for ``HEAD``, 204 and 304 (and still closed), as
    aiotao's servers do.
    """
    start = response.start
    stream = BodyStream(response, send_body=may_have_body(method, start.status))
    try:
        body = b''.join([chunk async for chunk in stream])
    finally:
        await stream.aclose()
    status = f'{start.status} {start.reason}' if start.reason else start.status
    return TestResponse(status=status, headerlist=list(start.headers), app_iter=[body])
