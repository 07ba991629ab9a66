"""Moved to :mod:`aiotao.serving.standalone`; kept so existing code keeps working.

``from aiotao.websocket.standalone import serve_websockets`` goes on working.
"""

from aiotao.serving.standalone import (
    WebsocketServer,
    pyramid_application,
    serve_websockets,
)

__all__ = ['WebsocketServer', 'pyramid_application', 'serve_websockets']
