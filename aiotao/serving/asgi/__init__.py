"""Serving under any ASGI server: uvicorn, hypercorn, ``gunicorn -k asgi``.

::

    # myproject/asgi.py
    from aiotao.serving.asgi import load_asgi_app

    app = load_asgi_app('production.ini')     # or make_asgi_app(config)

    $ uvicorn myproject.asgi:app

Two modules: :mod:`~aiotao.serving.asgi.adapter`, the ASGI 3 application
(``http``, ``websocket`` and ``lifespan`` scopes), and
:mod:`~aiotao.serving.asgi.transport`, the websocket transport over the ASGI
websocket messages.  Both only move messages between the server and
:mod:`aiotao.serving`'s conversion.
"""

from aiotao.serving.asgi.adapter import AsgiApplication, load_asgi_app, make_asgi_app

__all__ = ['AsgiApplication', 'load_asgi_app', 'make_asgi_app']
