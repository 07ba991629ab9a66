"""Serving the application: one subpackage per way of serving, over one core.

::

    aiotao.serving.gunicorn   aiotao.serving.asgi    aiotao.serving.standalone
    gunicorn's worker, on     uvicorn, hypercorn,    aiotao serve-ws, on the
    aiohttp: worker,          gunicorn -k asgi:      websockets library:
    handler, conf, transport  adapter, transport     server, transport
              |                        |                       |
              +------------------------+-----------------------+
                                       |
        aiotao.serving.upgrade: an upgrade request through the pipeline,
        accepted or refused (the one copy all three use)
                                       |
        the core, no sockets: settings, admission, body, proxies, environ,
        application, responses, streaming, errors, garbage
                                       |
        aiotao.router.AsyncRouter: the pipeline (tweens, views)

Each way of serving holds its own websocket transport (the contract is
:mod:`aiotao.websocket.transport`) and only moves bytes between its server
and the core: pure code, no sockets, which tests exercise directly.  The
core's modules, in the order a request meets them:

* :mod:`~aiotao.serving.settings` -- the ``aiotao.*`` serving settings;
* :mod:`~aiotao.serving.admission` -- what a loaded worker still admits;
* :mod:`~aiotao.serving.body` -- ``Content-Length``, the body size limit and
  ``wsgi.input``;
* :mod:`~aiotao.serving.proxies` -- ``X-Forwarded-*`` from trusted proxies;
* :mod:`~aiotao.serving.environ` -- the PEP 3333 environ;
* :mod:`~aiotao.serving.application` -- running a Pyramid app on the loop or
  a WSGI app in threads;
* :mod:`~aiotao.serving.upgrade` -- a websocket upgrade through the
  pipeline, and closing every websocket on shutdown;
* :mod:`~aiotao.serving.responses` -- status and headers of the response;
* :mod:`~aiotao.serving.streaming` -- its body, streamed and closed;
* :mod:`~aiotao.serving.errors` -- refused requests (400, 404, 408, 413)
  and 500;
* :mod:`~aiotao.serving.garbage` -- the garbage collector tuned for serving.

The core stays at the top of the package, as the ``websockets`` library
keeps its protocol core above its ``asyncio`` and ``sync`` packages: the
names a server imports (``aiotao.serving.environ``...) stay short, and the
subpackages are the only places that import a server library.  The ini's
extra TCP and UDP servers, started beside the application, are
:mod:`aiotao.sidecars`.
"""

from aiotao.serving.application import (
    PyramidApplication,
    ServedApplication,
    ThreadedWSGIApplication,
    prepare_response,
    respond,
    served_application,
)
from aiotao.serving.body import RequestBody, check_length, declared_length, read_body
from aiotao.serving.environ import (
    RequestHead,
    build_environ,
    parse_target,
    split_target,
)
from aiotao.serving.errors import (
    BadRequest,
    BodyTimeout,
    ClientError,
    OutsideMountPoint,
    RequestBodyTooLarge,
    error_response,
    internal_error_response,
)
from aiotao.serving.responses import ResponseStart, WSGIResponse, run_wsgi
from aiotao.serving.settings import ServingSettings
from aiotao.serving.streaming import BodyStream, may_have_body

__all__ = [
    'BadRequest',
    'BodyStream',
    'BodyTimeout',
    'ClientError',
    'OutsideMountPoint',
    'PyramidApplication',
    'RequestBody',
    'RequestBodyTooLarge',
    'RequestHead',
    'ResponseStart',
    'ServedApplication',
    'ServingSettings',
    'ThreadedWSGIApplication',
    'WSGIResponse',
    'build_environ',
    'check_length',
    'declared_length',
    'error_response',
    'internal_error_response',
    'may_have_body',
    'parse_target',
    'prepare_response',
    'read_body',
    'respond',
    'run_wsgi',
    'served_application',
    'split_target',
]
