"""Counting the CPU instructions a process executes, under valgrind.

What ``instructions.py`` (per HTTP request) and ``echo_instructions.py``
(per websocket message) share: a script run as ``--serve KIND`` under
``valgrind --tool=cachegrind`` serves some units of work (requests,
messages) and exits; run with ``n`` and with ``5 n`` units, the difference
divided by ``4 n`` is the cost of one, start-up and shutdown excluded.
Needs ``valgrind`` (``apt-get install valgrind``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO_ROOT = BENCH.parent
PEERS = BENCH / 'peers'

_IREFS = re.compile(r'I\s+refs:\s+([\d,]+)')


def count_instructions(script: Path, args: Sequence[str], pythonpath: str = '') -> int:
    """Instructions executed by the whole process ``python script *args``.

    ``pythonpath`` comes first on the path: another checkout's ``aiotao``
    (``--baseline``).
    """
    env = dict(os.environ)
    # the same dict layouts in every run: differences of some 2,000
    # instructions a unit between runs otherwise
    env['PYTHONHASHSEED'] = '0'
    env['PYTHONPATH'] = os.pathsep.join(
        filter(None, [pythonpath, str(PEERS), str(REPO_ROOT), env.get('PYTHONPATH')])
    )
    argv = [
        'valgrind',
        '--tool=cachegrind',
        '--cache-sim=no',
        '--cachegrind-out-file=/dev/null',
        sys.executable,
        str(script),
        *args,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    found = _IREFS.search(done.stderr)
    if done.returncode or found is None:
        raise SystemExit(
            f'{argv[5:]} failed ({done.returncode}):\n{done.stderr[-3000:]}'
        )
    return int(found[1].replace(',', ''))


def cost_per_unit(count: Callable[[int], int], units: int) -> float:
    """Instructions per unit: ``count(units)`` and ``count(5 * units)`` apart."""
    # both runs at once: valgrind uses one core each
    with ThreadPoolExecutor(2) as pool:
        few, many = pool.map(count, [units, units * 5])
    return (many - few) / (units * 4)
