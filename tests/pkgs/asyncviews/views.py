import asyncio
from typing import Any

from pyramid.view import view_config, view_defaults


@view_config(route_name='function', renderer='json')
async def function_view(request: Any) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {'shape': 'function', 'path': request.path}


@view_config(route_name='context_function', renderer='json')
async def context_function_view(context: Any, request: Any) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {'shape': 'context-function', 'context': type(context).__name__}


@view_config(route_name='string', renderer='string')
async def string_view(request: Any) -> str:
    await asyncio.sleep(0)
    return 'plain text from a coroutine'


@view_config(route_name='jinja', renderer='templates/hello.jinja2')
async def jinja_view(request: Any) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {'name': request.matchdict['name'], 'items': [1, 2, 3]}


class ClassWithAttr:
    """Registered imperatively-style through view_config on the class."""

    def __init__(self, request: Any) -> None:
        self.request = request

    async def render(self) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {'shape': 'class-attr'}


view_config(route_name='class_attr', attr='render', renderer='json')(ClassWithAttr)


@view_defaults(renderer='json')
class ClassWithDecoratedMethod:
    def __init__(self, context: Any, request: Any) -> None:
        self.context = context
        self.request = request

    @view_config(route_name='class_method_config')
    async def show(self) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {'shape': 'class-method', 'view_instance': type(self).__name__}


class CallableInstance:
    async def __call__(self, request: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {'shape': 'instance'}


instance_view = CallableInstance()
view_config(route_name='instance', renderer='json')(instance_view)
