"""The page every server renders: the demo's table page on a standalone layout.

The demo's own layout (``demo/aiotao_demo/templates/layout.jinja2``) links its
routes and static files through ``request``, which a peer rendering with
Jinja2 directly has not got; this layout is the demo's before it did, so
that all four servers render the same bytes.  The files are named by asset
spec (``bench_templates:page.jinja2``), as pyramid_jinja2 names them.
"""
