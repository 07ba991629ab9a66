"""The import paths of moved modules still name the same objects.

Users write them in ini files (``worker_class = aiotao.gunicorn.Worker``),
``gunicorn.conf.py`` files, ASGI entry points and sidecar factories.
"""

from __future__ import annotations

import importlib

import pytest

MOVED = [
    # (old module, new module, names)
    (
        'aiotao.asgi',
        'aiotao.serving.asgi',
        ['AsgiApplication', 'load_asgi_app', 'make_asgi_app'],
    ),
    (
        'aiotao.gunicorn',
        'aiotao.serving.gunicorn',
        ['AsyncGunicornUVLoopWorker', 'AsyncGunicornWorker', 'UVLoopWorker', 'Worker'],
    ),
    (
        'aiotao.gunicorn.worker',
        'aiotao.serving.gunicorn.worker',
        ['AsyncGunicornUVLoopWorker', 'AsyncGunicornWorker'],
    ),
    (
        'aiotao.gunicorn.conf',
        'aiotao.serving.gunicorn.conf',
        [
            'DEFAULT_WORKER_CLASS',
            'paste_ini',
            'server_section',
            'settings_from_paste_ini',
        ],
    ),
    (
        'aiotao.servers',
        'aiotao.sidecars',
        [
            'IniServers',
            'ServerSection',
            'ServerStartError',
            'StreamServer',
            'parse_section',
            'read_sections',
            'start_stream_server',
        ],
    ),
    (
        'aiotao.websocket.standalone',
        'aiotao.serving.standalone',
        ['WebsocketServer', 'pyramid_application', 'serve_websockets'],
    ),
    (
        'aiotao.websocket.connections',
        'aiotao.websocket.shutdown',
        ['close_all', 'closing', 'open_connections'],
    ),
    ('aiotao.testing.sync', 'aiotao.testing.sync_client', ['SyncTestClient']),
]


@pytest.mark.parametrize(('old', 'new', 'names'), MOVED, ids=[m[0] for m in MOVED])
def test_the_old_path_names_the_new_objects(
    old: str, new: str, names: list[str]
) -> None:
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(old_module, name) is getattr(new_module, name), name
    assert sorted(old_module.__all__) == sorted(names)
    assert f'Moved to :mod:`{new}`' in (old_module.__doc__ or '')


def test_the_old_worker_class_setting_loads_the_worker() -> None:
    from gunicorn.util import load_class

    from aiotao.serving.gunicorn import Worker

    assert load_class('aiotao.gunicorn.Worker') is Worker
