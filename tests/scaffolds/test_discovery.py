"""Another package adds a scaffold through the pyramid.scaffold entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PCREATE = Path(sys.executable).parent / 'pcreate'

SCAFFOLD_MODULE = """
from pathlib import Path
from aiotao.scaffolds import Scaffold


class ApiScaffold(Scaffold):
    summary = 'A JSON API (from another package)'
    template_dir = Path(__file__).parent / 'api_template'
"""


def install_fake_distribution(site: Path) -> None:
    """A minimal installed distribution: a module, its files and entry points."""
    (site / 'acme_scaffolds.py').write_text(SCAFFOLD_MODULE)
    template = site / 'api_template' / '+package+'
    template.mkdir(parents=True)
    (template / 'api.py_tmpl').write_text("NAME = '{{ package }}'\n")
    dist_info = site / 'acme_scaffolds-1.0.dist-info'
    dist_info.mkdir()
    (dist_info / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: acme-scaffolds\nVersion: 1.0\n'
    )
    (dist_info / 'entry_points.txt').write_text(
        '[pyramid.scaffold]\nacme_api = acme_scaffolds:ApiScaffold\n'
    )


def test_a_third_party_scaffold_is_listed_and_used(tmp_path: Path) -> None:
    site = tmp_path / 'site'
    site.mkdir()
    install_fake_distribution(site)
    env = {'PYTHONPATH': str(site), 'PATH': '/usr/bin:/bin'}
    listed = subprocess.run(
        [str(PCREATE), '-l'],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert 'acme_api' in listed.stdout
    assert 'A JSON API (from another package)' in listed.stdout

    created = subprocess.run(
        [str(PCREATE), '-s', 'acme_api', 'inventory'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    assert (
        tmp_path / 'inventory' / 'inventory' / 'api.py'
    ).read_text() == "NAME = 'inventory'\n"


def test_layered_scaffolds_later_files_win(tmp_path: Path) -> None:
    from aiotao.scaffolds import ProjectNames, Scaffold

    base = tmp_path / 'base'
    top = tmp_path / 'top'
    (base / '+package+').mkdir(parents=True)
    (top / '+package+').mkdir(parents=True)
    (base / '+package+' / 'views.py').write_text('base')
    (base / 'README.rst_tmpl').write_text('{{ project }}')
    (top / '+package+' / 'views.py').write_text('top')

    class Base(Scaffold):
        template_dir = base

    class Top(Scaffold):
        template_dir = top
        extends = Base

    scaffold = Top('top')
    names = ProjectNames.from_project('Shop')
    planned = {str(p.target): scaffold.render(p, names) for p in scaffold.plan(names)}
    assert planned == {'README.rst': b'Shop', 'shop/views.py': b'top'}
