"""Reading the chat's server messages in tests."""

from __future__ import annotations

from typing import Any


async def until(ws: Any, type: str, **fields: Any) -> dict[str, Any]:
    """The next message of ``type`` (with ``fields``), skipping others.

    Bounded by the session's own ``recv`` timeout per message.
    """
    for _ in range(200):
        message = await ws.recv_json()
        if message.get('type') == type and all(
            message.get(key) == value for key, value in fields.items()
        ):
            return message  # type: ignore[no-any-return]
    raise AssertionError(f'no {type} message {fields} in 200 messages')


async def join(ws: Any) -> dict[str, Any]:
    """Read what a client gets on joining; returns them by type."""
    seen = {}
    for expected in ('welcome', 'history', 'joined', 'members'):
        message = await until(ws, expected)
        seen[expected] = message
    return seen
