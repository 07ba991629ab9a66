"""gunicorn settings for ``gunicorn --paste development.ini``.

gunicorn reads ``./gunicorn.conf.py`` by itself.  This one makes it use
aiotao's worker and take ``host``, ``port`` and every other gunicorn setting
from the ini's ``[server:main]`` section, the one ``pserve`` reads too.
Command-line flags still win.
"""

from aiotao.serving.gunicorn.conf import settings_from_paste_ini

globals().update(settings_from_paste_ini())
