"""Project scaffolds for ``pcreate``, discovered through entry points.

A scaffold is a directory of files.  Names may contain ``+package+`` and
``+project+``, replaced by the new project's package and project names;
files whose names end in ``_tmpl`` are rendered with Jinja2 (and lose the
suffix); every other file is copied as it is, so the project's own Jinja2
templates need no escaping.

Another package adds a scaffold with an entry point in the
``pyramid.scaffold`` group (the group Pyramid 1's ``pcreate`` used)::

    [project.entry-points."pyramid.scaffold"]
    mycompany_api = "mycompany.scaffolds:ApiScaffold"

    class ApiScaffold(aiotao.scaffolds.Scaffold):
        summary = 'An aiotao JSON API'
        template_dir = Path(__file__).parent / 'api'
"""

from __future__ import annotations

from pathlib import Path

from aiotao.scaffolds.discovery import ScaffoldEntry, find_scaffolds
from aiotao.scaffolds.scaffold import ProjectNames, Scaffold

HERE = Path(__file__).parent


class StarterScaffold(Scaffold):
    summary = 'aiotao starter project: async views, Jinja2 templates, tests'
    template_dir = HERE / 'starter'


class WebsocketScaffold(Scaffold):
    summary = 'aiotao project with a websocket echo page, chat, game and request.db'
    template_dir = HERE / 'websocket'
    extends = StarterScaffold
    # request.db needs a MongoDB on the port of development.ini's mongo.uri
    before_serving = (
        'python -m secantus --port 27017 --storage-path var/mongodb &'
        '   # the development MongoDB',
    )


__all__ = [
    'ProjectNames',
    'Scaffold',
    'ScaffoldEntry',
    'StarterScaffold',
    'WebsocketScaffold',
    'find_scaffolds',
]
