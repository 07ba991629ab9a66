"""Request and response conversion shared by aiotao's servers.

Pure code, no sockets: the gunicorn worker (:mod:`aiotao.gunicorn`) and the
ASGI adapter (:mod:`aiotao.asgi`) only move bytes between their server and
these functions.  One concern per module, in the order a request meets them:

* :mod:`~aiotao.serving.settings` -- the ``aiotao.*`` serving settings;
* :mod:`~aiotao.serving.body` -- ``Content-Length``, the body size limit and
  ``wsgi.input``;
* :mod:`~aiotao.serving.proxies` -- ``X-Forwarded-*`` from trusted proxies;
* :mod:`~aiotao.serving.environ` -- the PEP 3333 environ;
* :mod:`~aiotao.serving.application` -- running a Pyramid app on the loop or
  a WSGI app in threads;
* :mod:`~aiotao.serving.responses` -- status and headers of the response;
* :mod:`~aiotao.serving.streaming` -- its body, streamed and closed;
* :mod:`~aiotao.serving.errors` -- refused requests (400, 404, 408, 413)
  and 500;
* :mod:`~aiotao.serving.websockets` -- upgrade requests, and closing every
  websocket on shutdown.
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
