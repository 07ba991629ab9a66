"""aiotao's interfaces (zope.interface), for lookups in the registry."""

from zope.interface import Interface


class IAsyncRouter(Interface):  # type: ignore[misc]
    """The :class:`aiotao.router.AsyncRouter` built for an application."""


class IAsyncPipeline(Interface):  # type: ignore[misc]
    """Marks the registry of an application that included aiotao."""
