"""The renderer path, with Pyramid's per-request work done once per view.

Pyramid renders a view's result in :class:`pyramid.renderers.RendererHelper`:
per request it clones the view's helper (calling the renderer factory
again), builds the system values and a ``BeforeRender`` event, calls the
renderer, then makes ``request.response`` (a WebOb ``Response()`` with
default headers) and rewrites its headers for the body and, for the
``string`` and ``json`` renderers, its content type.  About a fifth of the
cost of a request to a trivial view goes there, mostly to WebOb parsing
and rewriting header lists.

:class:`RenderPath` keeps Pyramid's result and does less.  When the
renderer is Pyramid's own ``string`` or ``json`` renderer, no
``BeforeRender`` subscriber is registered, the application has no response
factory of its own, and the view did not touch ``request.response``, the
body is made as the renderer would make it and the response is built
directly in the state Pyramid's steps leave it in.  Any other renderer
(pyramid_jinja2's, say) is called as Pyramid calls it, and only the
response is built directly, when the renderer left ``request.response``
alone and returned text; pyramid_jinja2's renderer, which keeps no state,
is made once per view instead of once per request.  Everything else takes Pyramid's own path.

The final state (header order, content type, charset) is not written down
here: it is read once from WebOb itself, by running Pyramid's steps on a
sample body (:func:`response_shape`), so that it follows the installed
WebOb.

The ``json`` renderer can serialize with orjson (``aiotao.json = orjson``,
when it is installed): faster, and its output differs only in form (no
spaces after separators, non-ASCII characters as UTF-8 rather than
``\\u`` escapes).  Only renderers made as ``JSON()``, with no serializer
or options of their own, use it; objects orjson cannot serialize go to
the renderer's ``__json__`` and adapters as with ``json.dumps``, and on
any error the stock serializer runs, so errors are Pyramid's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from pyramid.csrf import get_csrf_token
from pyramid.events import BeforeRender
from pyramid.interfaces import IRendererFactory, IResponseFactory
from pyramid.registry import Registry
from pyramid.renderers import JSON, RendererHelper, string_renderer_factory
from pyramid.request import Request as PyramidRequest
from pyramid.response import Response
from zope.interface import implementedBy

from aiotao.settings import read_setting

_BEFORE_RENDER = (implementedBy(BeforeRender),)
# what ``request.response`` is on a Pyramid request (a reify, made on first use)
_RESPONSE_PROPERTY = PyramidRequest.__dict__['response']


def _stateless_factories() -> frozenset[type[Any]]:
    """Renderer factories whose renderers keep no state: made once per view.

    pyramid_jinja2's, when it is installed (``aiotao[jinja2]``); aiotao
    itself needs no template engine.
    """
    try:
        from pyramid_jinja2 import Jinja2RendererFactory
    except ImportError:
        return frozenset()
    return frozenset({Jinja2RendererFactory})


_STATELESS_FACTORIES = _stateless_factories()

#: Options of ``json.dumps`` that run no code of the application's.
_SAFE_JSON_OPTIONS = frozenset(
    {
        'skipkeys',
        'ensure_ascii',
        'check_circular',
        'allow_nan',
        'indent',
        'separators',
        'sort_keys',
    }
)

#: The values of the ``aiotao.json`` setting.
JSON_ENCODERS = ('json', 'orjson')


@dataclass(frozen=True)
class ResponseShape:
    """What Pyramid's steps leave in a fresh ``Response()``, body aside."""

    status: str
    #: The header list, with ``None`` where ``Content-Length`` goes.
    headers: tuple[tuple[str, str | None], ...]
    conditional_response: bool
    #: What ``response.text = ...`` encodes with.
    encoding: str

    def response(self, body: bytes) -> Any:
        """A ``Response`` in this state with ``body``, made without WebOb's steps."""
        response = Response.__new__(Response)
        response._status = self.status
        response._headers = None  # made from the list on first use, as WebOb does
        length = str(len(body))
        response._headerlist = [
            (name, length if value is None else value) for name, value in self.headers
        ]
        response.conditional_response = self.conditional_response
        response._app_iter = [body]
        return response


# The attributes a Response() holds, as the WebOb this was written for has
# them: with another WebOb, the shortcut is not taken.
_RESPONSE_ATTRIBUTES = {
    '_status',
    '_headers',
    '_headerlist',
    'conditional_response',
    '_app_iter',
}
_shapes: dict[str | None, ResponseShape | None] = {}


def response_shape(content_type: str | None) -> ResponseShape | None:
    """The state of ``request.response`` after Pyramid rendered text into it.

    ``content_type``: what the ``string`` or ``json`` renderer sets when the
    response still has WebOb's default one (``None``: a renderer that sets
    none).  Read from WebOb once: a ``Response()`` goes through the same
    steps as in Pyramid's ``RendererHelper``, with a sample body.

    >>> response_shape('application/json').headers
    (('Content-Type', 'application/json'), ('Content-Length', None))
    """
    if content_type in _shapes:
        return _shapes[content_type]
    response = Response()
    if content_type is not None:
        if response.content_type == response.default_content_type:
            response.content_type = content_type
    encoding = response.charset or response.default_body_encoding
    sample = 'sample'
    response.text = sample
    shape: ResponseShape | None = None
    if set(vars(response)) == _RESPONSE_ATTRIBUTES and encoding:
        length = str(len(sample.encode(encoding)))
        shape = ResponseShape(
            status=response.status,
            headers=tuple(
                (name, None if name.lower() == 'content-length' else value)
                for name, value in response.headerlist
            ),
            conditional_response=response.conditional_response,
            encoding=encoding,
        )
        rebuilt = shape.response(sample.encode(encoding))
        if (
            rebuilt.headerlist != response.headerlist
            or rebuilt.body != response.body
            or rebuilt.status != response.status
            or length != response.headers.get('Content-Length')
        ):
            shape = None  # not WebOb's result: keep WebOb's steps
    _shapes[content_type] = shape
    return shape


def json_encoder(settings: Any) -> str:
    """The ``aiotao.json`` setting: ``json`` (default) or ``orjson``."""

    def known(value: str) -> str:
        if value not in JSON_ENCODERS:
            raise ValueError(value)
        if value == 'orjson':
            try:
                import orjson  # noqa: F401
            except ImportError:
                raise ValueError(value) from None
        return value

    return read_setting(
        settings or {},
        'aiotao.json',
        'json',
        known,
        'json, or orjson (installed: pip install orjson)',
    )


def _orjson_dumps() -> Callable[..., bytes]:
    import orjson

    # datetimes and dataclasses go to the renderer's adapters, as with json
    options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def dumps(value: Any, default: Callable[[Any], Any]) -> bytes:
        return orjson.dumps(value, default=default, option=options)

    return dumps


class RenderPath:
    """One view's renderer path: Pyramid's, or the same result for less."""

    def __init__(self, helper: RendererHelper, registry: Registry) -> None:
        self.helper = helper
        self.registry = registry
        self._orjson: Callable[..., bytes] | None = None
        self._made: tuple[Any, RendererHelper] | None = None
        if json_encoder(registry.settings) == 'orjson':
            self._orjson = _orjson_dumps()

    def _fresh_response_possible(self, request: Any) -> bool:
        """Can ``request.response`` be made in its final state directly?"""
        registry = self.registry
        return (
            'response' not in request.__dict__
            and getattr(request.__class__, 'response', None) is _RESPONSE_PROPERTY
            and registry.queryUtility(IResponseFactory) is None
        )

    def render(self, result: Any, view_inst: Any, context: Any, request: Any) -> Any:
        """The response for the view's ``result`` (Pyramid's ``render_view``)."""
        registry = self.registry
        helper = self.helper
        attrs = getattr(request, '__dict__', None)
        if attrs is None or (
            registry.has_listeners
            and registry.adapters.subscriptions(_BEFORE_RENDER, None)
        ):
            return helper.clone().render_view(request, result, view_inst, context)
        factory = registry.queryUtility(IRendererFactory, name=helper.type)
        if factory is string_renderer_factory:
            if result.__class__ is str and self._fresh_response_possible(request):
                return self._text_response(result, 'text/plain', request)
        elif factory.__class__ is JSON and self._fresh_response_possible(request):
            return self._json_response(factory, result, request)
        view_renderer = self._renderer_made_once(factory)
        system = {
            'view': view_inst,
            'renderer_name': view_renderer.name,  # b/c
            'renderer_info': view_renderer,
            'context': context,
            'request': request,
            'req': request,
            'get_csrf_token': partial(get_csrf_token, request),
        }
        value = view_renderer.render(result, system, request=request)
        if value.__class__ is str and self._fresh_response_possible(request):
            return self._text_response(value, None, request)
        return view_renderer._make_response(value, request)

    def _renderer_made_once(self, factory: Any) -> RendererHelper:
        """The helper Pyramid clones per request, and its renderer made.

        Pyramid calls the renderer factory on every render.  For a factory
        known to make renderers that keep no state of their own
        (pyramid_jinja2's: its renderer looks the template up on every
        call, so template reloading is unchanged), the renderer is made
        once per view and factory.
        """
        if factory.__class__ not in _STATELESS_FACTORIES:
            return self.helper.clone()
        made = self._made
        if made is None or made[0] is not factory:
            helper = self.helper.clone()
            helper.renderer  # noqa: B018  (made now, before it is shared)
            made = self._made = (factory, helper)
        return made[1]

    def _text_response(self, text: str, content_type: str | None, request: Any) -> Any:
        shape = response_shape(content_type)
        if shape is None:
            return self._pyramid_response(text, content_type, request)
        try:
            body = text.encode(shape.encoding)
        except UnicodeError:
            # WebOb raises it, after the renderer made request.response
            return self._pyramid_response(text, content_type, request)
        response = request.__dict__['response'] = shape.response(body)
        return response

    def _pyramid_response(
        self, value: Any, content_type: str | None, request: Any
    ) -> Any:
        """What the renderer and ``_make_response`` do to ``request.response``."""
        if content_type is not None:
            _set_content_type(request, content_type)
        return self.helper._make_response(value, request)

    def _json_response(self, factory: JSON, result: Any, request: Any) -> Any:
        """Pyramid's ``JSON`` renderer and ``_make_response``, for less."""
        pyramid_default = factory._make_default(request)

        def default(obj: Any) -> Any:
            # Code of the application's runs from here (``__json__``, the
            # renderer's adapters): it finds request.response as Pyramid's
            # renderer left it before serializing.
            _set_content_type(request, 'application/json')
            return pyramid_default(obj)

        if (
            self._orjson is not None
            and factory.serializer is json.dumps
            and not factory.kw
        ):
            shape = response_shape('application/json')
            if shape is not None and shape.encoding.lower() in ('utf-8', 'utf8'):
                try:
                    body = self._orjson(result, default)
                except Exception:
                    pass  # json.dumps below says what is wrong, as in Pyramid
                else:
                    if 'response' not in request.__dict__:
                        response = request.__dict__['response'] = shape.response(body)
                        return response
                    return self.helper._make_response(body, request)
        if factory.serializer is not json.dumps or not _SAFE_JSON_OPTIONS.issuperset(
            factory.kw
        ):
            # a serializer or an encoder class of the application's own: run
            # after request.response is made, as in Pyramid
            _set_content_type(request, 'application/json')
        try:
            value = factory.serializer(result, default=default, **factory.kw)
        except BaseException:
            _set_content_type(request, 'application/json')
            raise
        if value.__class__ is str and 'response' not in request.__dict__:
            return self._text_response(value, 'application/json', request)
        return self._pyramid_response(value, 'application/json', request)


def _set_content_type(request: Any, content_type: str) -> None:
    """What the ``string`` and ``json`` renderers do to ``request.response``."""
    response = request.response
    if response.content_type == response.default_content_type:
        response.content_type = content_type
