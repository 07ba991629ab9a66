"""The test application served by real gunicorn workers (aiotao's worker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.harness.gunicorn import ServerFactory, ServerProcess

WORKER = 'aiotao.serving.gunicorn.worker.AsyncGunicornWorker'

LOGGING = """
[loggers]
keys = root, aiotao

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[logger_aiotao]
level = INFO
handlers =
qualname = aiotao

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)s [%(name)s] [%(process)d] %(message)s
"""


def write_ini(path: Path, **settings: Any) -> Path:
    lines = ['[app:main]', 'use = call:tests.pkgs.mongoapp:main']
    lines += [f'{key} = {value}' for key, value in settings.items()]
    path.write_text('\n'.join(lines) + '\n' + LOGGING)
    return path


def serve(
    gunicorn: ServerFactory,
    tmp_path: Path,
    *,
    workers: int = 1,
    ready_path: str | None = '/hello',
    **settings: Any,
) -> ServerProcess:
    """``gunicorn --paste app.ini -w WORKERS -k aiotao's worker`` on a free port."""
    ini = write_ini(tmp_path / 'app.ini', **settings)
    argv = [
        '--paste', str(ini),
        '-w', str(workers),
        '-k', WORKER,
        '--graceful-timeout', '10',
    ]  # fmt: skip
    return gunicorn(argv, ready_path=ready_path)
