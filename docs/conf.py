"""Sphinx configuration for aiotao's documentation.

Built with ``make docs`` (``sphinx-build -W --keep-going``: a warning is an
error) and by ``tests/docs/test_docs_build.py``.  The build never touches
the network: no intersphinx, links to Pyramid's and Python's documentation
are plain links.
"""

from __future__ import annotations

import sys
from importlib.metadata import version as installed_version
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

project = 'aiotao'
author = 'The aiotao developers'
copyright = '2026, The aiotao developers'
release = installed_version('aiotao')
version = '.'.join(release.split('.')[:2])

extensions = [
    'sphinx.ext.autodoc',
]

exclude_patterns = ['_build']
root_doc = 'index'
language = 'en'

# mypy-typed code: the types go into the description, not the signature
autodoc_typehints = 'description'
autodoc_typehints_description_target = 'all'
# annotations, never type comments: skip reading every function's source
autodoc_use_type_comments = False
autodoc_member_order = 'bysource'
autodoc_default_options = {
    'members': True,
    'show-inheritance': True,
    # packages re-export their modules' names: each is documented once, in
    # the module that defines it
    'ignore-module-all': True,
}
# Pyramid, zope and WebOb objects in signatures are shown by name; a
# reference to them that cannot be resolved is not a warning (no intersphinx)
nitpicky = False

html_theme = 'alabaster'
html_theme_options = {
    'description': 'Async-native Pyramid',
    'fixed_sidebar': True,
    'page_width': '1100px',
}
html_static_path: list[str] = []
html_show_sourcelink = False
