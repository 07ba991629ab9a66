"""An app using the Pyramid add-ons people pair with aiotao.

pyramid_debugtoolbar, cornice, pyramid_layout and pyramid_openapi3, each
with a sync view and an async one.  ``addonsapp.aiotao = false`` leaves
aiotao out (the baseline the add-ons' own behaviour is measured by).

PasteDeploy factory: ``use = call:tests.pkgs.addonsapp:main``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyramid.config import Configurator
from pyramid.settings import asbool


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    config = Configurator(settings=settings)
    config.include('tests.pkgs.addonsapp')
    return config.make_wsgi_app()


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    if asbool(settings.get('addonsapp.aiotao', True)):
        config.include('aiotao')
    settings.setdefault('debugtoolbar.hosts', '127.0.0.1 ::1')
    config.include('pyramid_debugtoolbar')
    config.include('cornice')
    config.include('pyramid_layout')
    config.include('pyramid_openapi3')
    config.pyramid_openapi3_spec(
        str(Path(__file__).with_name('openapi.yaml')), route='/api/openapi.yaml'
    )
    config.add_route('greetings', '/api/greetings')
    config.add_route('panel', '/panel')
    config.add_route('async_panel', '/async-panel')
    config.add_route('page', '/page')
    config.add_route('failing', '/failing')
    # panel_config's venusian category is its own: scan every category
    config.scan('tests.pkgs.addonsapp.views', categories=None)
