"""Moved to :mod:`aiotao.websocket.shutdown`; kept so existing code keeps working.

``await aiotao.websocket.connections.close_all()`` goes on working.
"""

from aiotao.websocket.shutdown import close_all, closing, open_connections

__all__ = ['close_all', 'closing', 'open_connections']
