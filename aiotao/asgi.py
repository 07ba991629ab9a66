"""Moved to :mod:`aiotao.serving.asgi`; kept so existing configs keep working.

``uvicorn``/``gunicorn -k asgi`` command lines and ``asgi.py`` modules
written for ``aiotao.asgi:load_asgi_app(...)`` go on working.
"""

from aiotao.serving.asgi import AsgiApplication, load_asgi_app, make_asgi_app

__all__ = ['AsgiApplication', 'load_asgi_app', 'make_asgi_app']
