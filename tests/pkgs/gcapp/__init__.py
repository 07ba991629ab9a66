"""An app that reports its process's garbage collector settings at ``/gc``.

``gc.thresholds`` in the ini, if set, is applied by the app factory, as an
application tuning the collector itself would.
"""

from __future__ import annotations

import gc
from typing import Any

from pyramid.config import Configurator


async def collector(request: Any) -> dict[str, Any]:
    return {
        'threshold': list(gc.get_threshold()),
        'frozen': gc.get_freeze_count(),
        'full_collections': gc.get_stats()[2]['collections'],
    }


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    thresholds = settings.get('gc.thresholds')
    if thresholds:
        gc.set_threshold(*(int(value) for value in thresholds.split(',')))
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.add_route('gc', '/gc')
    config.add_view(collector, route_name='gc', renderer='json')
    return config.make_wsgi_app()
