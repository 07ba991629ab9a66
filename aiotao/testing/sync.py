"""Moved to :mod:`aiotao.testing.sync_client`; kept so existing tests keep working.

``from aiotao.testing.sync import SyncTestClient`` goes on working (and
``from aiotao.testing import SyncTestClient`` is the documented way).
"""

from aiotao.testing.sync_client import SyncTestClient

__all__ = ['SyncTestClient']
