"""The demo's Jinja2 templates, for the peer apps that use Jinja2 directly.

Every server renders the same files, ``bench_templates/page.jinja2`` (the
demo's table page) and the layout it extends.  They are named by Pyramid
asset spec (``{% extends "bench_templates:layout.jinja2" %}``), so the loader
here reads such names from the package; the options match pyramid_jinja2's
defaults that matter for rendering (``autoescape``, no auto-reload).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2

PAGE = 'bench_templates:page.jinja2'


def _load(name: str) -> tuple[str, str, Any]:
    package, _, path = name.partition(':')
    source = resources.files(package).joinpath(path).read_text('utf-8')
    # the files never change while a benchmark runs
    return source, name, lambda: True


environment = jinja2.Environment(
    loader=jinja2.FunctionLoader(_load), autoescape=True, auto_reload=False
)


def page_context() -> dict[str, Any]:
    """What the demo's ``page`` view returns: a title and 20 items."""
    items = [{'id': n, 'name': f'item {n}', 'price': n * 1.25} for n in range(20)]
    return {'title': 'Twenty items', 'items': items}


def render_page() -> str:
    return environment.get_template(PAGE).render(page_context())
