"""Traversal through resources whose ``__getitem__`` may be ``async def``.

Resource trees backed by a database load children asynchronously::

    class Folder:
        async def __getitem__(self, name):
            doc = await db.items.find_one({'parent': self.id, 'name': name})
            if doc is None:
                raise KeyError(name)
            return Item(doc, parent=self)

:class:`AsyncResourceTreeTraverser` walks the path like Pyramid's
``ResourceTreeTraverser`` (virtual roots, ``@@`` view selectors, subpaths)
and awaits each step that returns an awaitable.  A :class:`KeyError` raised
while awaiting ends traversal exactly as a synchronous one does.  When the
path is empty (the URL-dispatch common case) it answers without a coroutine.

The walk is written as pipeline steps (:meth:`AsyncResourceTreeTraverser.steps`,
see :mod:`aiotao.pipeline`): the router runs it on the loop, or in the
request's thread when the request's synchronous code runs there (a ZODB
application under pyramid_tm loads its resources in the thread whose
transaction they join).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from pyramid.exceptions import URLDecodeError
from pyramid.traversal import (
    VH_ROOT_KEY,
    decode_path_info,
    is_nonstr_iter,
    split_path_info,
)

from aiotao.pipeline import Call, Steps, run_until_awaitable

TraversalInfo = dict[str, Any]


class AsyncResourceTreeTraverser:
    """The default traverser of :class:`~aiotao.router.AsyncRouter`."""

    VH_ROOT_KEY = VH_ROOT_KEY
    VIEW_SELECTOR = '@@'

    def __init__(self, root: Any) -> None:
        self.root = root

    def __call__(self, request: Any) -> TraversalInfo | Awaitable[TraversalInfo]:
        """Pyramid's traverser API: the traversal dict, or an awaitable of it."""
        return run_until_awaitable(self.steps(request))

    def steps(self, request: Any) -> Steps[TraversalInfo]:
        """The walk as pipeline steps; a resource's ``__getitem__`` is a step."""
        matchdict = request.matchdict
        environ = request.environ
        if (
            matchdict is not None
            and 'traverse' not in matchdict
            and 'subpath' not in matchdict
            and self.VH_ROOT_KEY not in environ
        ):
            # a route without *traverse or *subpath (URL dispatch, most
            # requests): the root is the context, as the walk below finds
            return self._at_root((), ())
            yield  # a generator: the router drives it
        path, subpath = self._path_and_subpath(request)
        if self.VH_ROOT_KEY in environ:
            vroot_path = decode_path_info(environ[self.VH_ROOT_KEY])
            vroot_tuple = split_path_info(vroot_path)
            vpath = vroot_path + path
            vroot_idx = len(vroot_tuple) - 1
        else:
            vroot_tuple = ()
            vpath = path
            vroot_idx = -1
        if vpath == '/':
            return self._at_root(subpath, vroot_tuple)
        return (
            yield from self._traverse(
                split_path_info(vpath), subpath, vroot_tuple, vroot_idx
            )
        )

    def _at_root(
        self, subpath: tuple[str, ...], vroot_tuple: tuple[str, ...]
    ) -> TraversalInfo:
        root = self.root
        return {
            'context': root,
            'view_name': '',
            'subpath': subpath,
            'traversed': (),
            'virtual_root': root,
            'virtual_root_path': vroot_tuple,
            'root': root,
        }

    def _path_and_subpath(self, request: Any) -> tuple[str, tuple[str, ...]]:
        matchdict = request.matchdict
        if matchdict is not None:
            path = matchdict.get('traverse', '/') or '/'
            if is_nonstr_iter(path):
                # a *traverse stararg: already decoded segments
                path = '/' + '/'.join(path) or '/'
            subpath = matchdict.get('subpath', ())
            if not is_nonstr_iter(subpath):
                subpath = split_path_info(subpath)
            return path, tuple(subpath)
        try:
            path = request.path_info or '/'
        except KeyError:
            path = '/'
        except UnicodeDecodeError as e:
            raise URLDecodeError(e.encoding, e.object, e.start, e.end, e.reason) from e
        return path, ()

    def _traverse(
        self,
        vpath_tuple: tuple[str, ...],
        subpath: tuple[str, ...],
        vroot_tuple: tuple[str, ...],
        vroot_idx: int,
    ) -> Steps[TraversalInfo]:
        root = self.root
        ob = vroot = root

        def stop_at(i: int, view_name: str) -> TraversalInfo:
            return {
                'context': ob,
                'view_name': view_name,
                'subpath': vpath_tuple[i + 1 :],
                'traversed': vpath_tuple[: vroot_idx + i + 1],
                'virtual_root': vroot,
                'virtual_root_path': vroot_tuple,
                'root': root,
            }

        for i, segment in enumerate(vpath_tuple):
            if segment[:2] == self.VIEW_SELECTOR:
                return stop_at(i, segment[2:])
            try:
                getitem = ob.__getitem__
            except AttributeError:
                return stop_at(i, segment)
            try:
                child = yield Call(getitem, segment)
            except KeyError:
                return stop_at(i, segment)
            if i == vroot_idx:
                vroot = child
            ob = child
        return {
            'context': ob,
            'view_name': '',
            'subpath': subpath,
            'traversed': vpath_tuple,
            'virtual_root': vroot,
            'virtual_root_path': vroot_tuple,
            'root': root,
        }
