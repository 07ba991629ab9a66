"""A client class that counts itself and its connections (``mongo.client_class``)."""

from __future__ import annotations

import os
from typing import Any

from pymongo import AsyncMongoClient, monitoring


class ConnectionCounter(monitoring.ConnectionPoolListener):
    created = 0

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        ConnectionCounter.created += 1

    def pool_created(self, event: Any) -> None: ...
    def pool_ready(self, event: Any) -> None: ...
    def pool_cleared(self, event: Any) -> None: ...
    def pool_closed(self, event: Any) -> None: ...
    def connection_ready(self, event: Any) -> None: ...
    def connection_closed(self, event: Any) -> None: ...
    def connection_check_out_started(self, event: Any) -> None: ...
    def connection_check_out_failed(self, event: Any) -> None: ...
    def connection_checked_out(self, event: Any) -> None: ...
    def connection_checked_in(self, event: Any) -> None: ...


class CountingClient(AsyncMongoClient[dict[str, Any]]):
    """``AsyncMongoClient`` that counts its instances in this process."""

    instances: list[tuple[int, int]] = []  # (pid, id) of each client made

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault('event_listeners', []).append(ConnectionCounter())
        super().__init__(*args, **kwargs)
        CountingClient.instances.append((os.getpid(), id(self)))
