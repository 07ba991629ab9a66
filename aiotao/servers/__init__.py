"""Moved to :mod:`aiotao.sidecars`; kept so existing configs keep working.

The factories of ``[aiotao.server:NAME]`` sections say
``from aiotao.servers import start_stream_server``.
"""

from aiotao.sidecars import (
    IniServers,
    ServerSection,
    ServerStartError,
    StreamServer,
    parse_section,
    read_sections,
    start_stream_server,
)

__all__ = [
    'IniServers',
    'ServerSection',
    'ServerStartError',
    'StreamServer',
    'parse_section',
    'read_sections',
    'start_stream_server',
]
