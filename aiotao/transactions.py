"""pyramid_tm with async views: ``request.tm`` is the request's own manager.

pyramid_tm's default transaction manager is ``transaction.manager``, a
proxy that hands each *thread* its own manager.  Under aiotao the tween
runs in the request's thread (:mod:`aiotao.threads`) and begins the
transaction there, while an ``async def`` view runs on the event loop's
thread, shared by every request: through the proxy its writes would join
the loop thread's transaction, which nobody commits, and be lost.

So, when an application includes pyramid_tm and sets no
``tm.manager_hook``, aiotao sets it to :func:`request_thread_manager`:
``request.tm`` is then the manager of the thread that first asks for it —
the request's thread, where pyramid_tm's tween asks — itself rather than
the proxy.  Synchronous code sees no difference (in the request's thread
the proxy and that manager are the same object's state, and
``transaction.get()`` still works there); async views now join the
request's transaction.  An application that sets its own hook
(``pyramid_tm.explicit_manager``, say) keeps it.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.interfaces import ITweens

#: pyramid_tm's tween, as ``ptweens`` names it.
TM_TWEEN = 'pyramid_tm.tm_tween_factory'

#: This module's hook, as the setting names it.
HOOK = 'aiotao.transactions.request_thread_manager'


def request_thread_manager(request: Any) -> Any:
    """The calling thread's own transaction manager (not the per-thread proxy)."""
    import transaction

    return transaction.manager.manager


def use_request_thread_manager(config: Configurator) -> None:
    settings = config.registry.settings
    tweens = config.registry.queryUtility(ITweens)
    if settings is None or tweens is None or settings.get('tm.manager_hook'):
        return
    names = [name for name, _ in tweens.explicit or tweens.implicit()]
    if TM_TWEEN in names:
        settings['tm.manager_hook'] = request_thread_manager


def includeme(config: Configurator) -> None:
    # after every action that adds a tween or sets the hook
    config.action(
        ('aiotao', 'transaction manager hook'),
        lambda: use_request_thread_manager(config),
        order=1000,
    )
