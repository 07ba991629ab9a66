"""gunicorn settings for ``gunicorn --paste development.ini``.

gunicorn reads ``./gunicorn.conf.py`` by itself, so no flag is needed: this
file makes gunicorn use aiotao's worker and take the address (``host``,
``port``) and any other gunicorn setting (``workers``, ``timeout``...) from
the ini's ``[server:main]`` section -- the same section ``pserve`` reads, so
both commands serve alike.  Command-line flags still win.
"""

from aiotao.serving.gunicorn.conf import settings_from_paste_ini

globals().update(settings_from_paste_ini())
