"""``pyramid.includes = aiotao`` in an ini, and what the include installs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from pyramid.config import Configurator
from pyramid.interfaces import IViewMapperFactory
from pyramid.paster import get_app
from webtest import TestApp

from aiotao.mappers import CoroutineOrExecutorMapper

ROOT = Path(__file__).parent.parent


async def hello(request: Any) -> str:
    return f'hello from {request.registry.settings["greeting.name"]}'


def paste_app(global_config: dict[str, str], **settings: str) -> Any:
    with Configurator(settings=settings) as config:
        config.add_route('hello', '/')
        config.add_view(hello, route_name='hello', renderer='string')
        return config.make_wsgi_app()


INI = """\
[app:main]
use = call:tests.test_config:paste_app
pyramid.includes =
    aiotao
greeting.name = the ini
"""


def test_pyramid_includes_in_an_ini(tmp_path: Path) -> None:
    ini = tmp_path / 'app.ini'
    ini.write_text(INI)
    app = get_app(str(ini))
    assert app.registry.queryUtility(IViewMapperFactory) is CoroutineOrExecutorMapper
    assert TestApp(app).get('/').text == 'hello from the ini'


def test_including_twice_is_harmless() -> None:
    config = Configurator(settings={'pyramid.includes': 'aiotao'})
    config.include('aiotao')
    config.add_route('hello', '/')
    config.add_view(lambda request: 'twice', route_name='hello', renderer='string')
    assert TestApp(config.make_wsgi_app()).get('/').text == 'twice'


def test_ptweens_shows_the_application_tweens(tmp_path: Path) -> None:
    ini = tmp_path / 'app.ini'
    ini.write_text(INI)
    result = subprocess.run(
        [sys.executable, '-m', 'pyramid.scripts.ptweens', str(ini)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert 'pyramid.tweens.excview_tween_factory' in result.stdout
