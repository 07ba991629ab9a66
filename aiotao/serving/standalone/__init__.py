"""Serving the websocket views alone, on the ``websockets`` library's server.

::

    $ aiotao serve-ws development.ini --port 6543

    # or from Python
    from aiotao.serving.standalone import serve_websockets

    asyncio.run(serve_websockets(config.make_wsgi_app(), '127.0.0.1', 6543))

Two modules: :mod:`~aiotao.serving.standalone.server`, the server and its
graceful stop, and :mod:`~aiotao.serving.standalone.transport`, the
websocket transport over a ``websockets`` connection.  No HTTP views are
served: a plain request gets 426.
"""

from aiotao.serving.standalone.server import (
    WebsocketServer,
    pyramid_application,
    serve_websockets,
)

__all__ = ['WebsocketServer', 'pyramid_application', 'serve_websockets']
