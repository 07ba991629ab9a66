"""Sidecars: extra asyncio servers declared in the ini, served beside the HTTP app.

aio.app's ``[server:NAME]`` sections, done the aiotao way: TCP or UDP
servers started by aiotao's gunicorn worker (and by the ASGI adapter's
lifespan, with :func:`aiotao.serving.asgi.load_asgi_app`) on the loop that serves
the application, sharing its registry and settings, stopped with it::

    [aiotao.server:game_echo]
    kind = udp
    host = 127.0.0.1                    # the default
    port = 6544
    protocol = myapp.game:StateEcho     # an asyncio.DatagramProtocol subclass

    [aiotao.server:admin]
    kind = tcp
    port = 6545
    factory = myapp.console:start_console
    option.max_line = 1024              # section.options['max_line']

A ``protocol`` (``asyncio.Protocol`` for tcp, ``asyncio.DatagramProtocol``
for udp) is made with no arguments; aiotao then sets ``protocol.registry``
and ``protocol.section`` (its :class:`ServerSection`) before the connection
starts.  A ``factory`` is ``async def factory(registry, section)`` returning
a started server with ``close()`` and ``async wait_closed()`` --
:func:`start_stream_server` makes one that also stops gracefully::

    async def start_console(registry, section):
        async def handle(reader, writer):
            ...
        return await start_stream_server(handle, section)

(The package was ``aiotao.servers``, a name that read too much like
:mod:`aiotao.serving`, which serves the application itself; the ini
sections keep their ``[aiotao.server:NAME]`` prefix.)

**Why not ``[server:NAME]``.**  PasteDeploy's loader, ``gunicorn --paste``
and ``pserve`` only read ``[server:main]`` (or the name given to
``pserve --server-name``), so extra ``[server:...]`` sections would not
break them (tested).  But ``[server:NAME]`` is PasteDeploy's namespace for
*WSGI* servers: projects keep alternatives there (``pserve --server-name
waitress``), which aiotao could not tell from its own entries, and
``pserve --server-name admin`` on one of aiotao's would fail with
PasteDeploy's "no use option" error.  A prefix of its own keeps both
meanings apart.

**Workers.**  Every worker runs every server: sockets are bound with
``SO_REUSEPORT`` (``reuse_port = true``, the default), so gunicorn's
workers -- and, during a reload (SIGHUP), the new workers beside the old
ones -- share the port, the kernel spreading TCP connections and UDP
datagrams (by client address) among them.  State a server keeps in memory
is its worker's: share it through MongoDB or Redis, or run one worker.
``reuse_port = false`` binds exclusively: only with a single worker, and
not across a reload.

**Stopping.**  With the HTTP server, in the same order: on SIGTERM the
servers stop accepting at once, connections are closed gracefully (a
stream handler sees the end of its input, see
:mod:`~aiotao.sidecars.streams`), and those left when ``graceful_timeout``
runs out are dropped; SIGINT drops them after half a second.

**Errors.**  A bad section stops the worker at startup with a
:class:`~pyramid.exceptions.ConfigurationError` naming the section and key
(gunicorn then exits rather than respawning workers); a port that is taken
raises :class:`ServerStartError` naming the section and the address.
"""

from aiotao.sidecars.running import IniServers, ServerStartError
from aiotao.sidecars.sections import ServerSection, parse_section, read_sections
from aiotao.sidecars.streams import StreamServer, start_stream_server

__all__ = [
    'IniServers',
    'ServerSection',
    'ServerStartError',
    'StreamServer',
    'parse_section',
    'read_sections',
    'start_stream_server',
]
