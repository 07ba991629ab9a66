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


def measure(
    runs: Sequence[tuple[str, str, str]], cost: Callable[[str, str], float], unit: str
) -> dict[str, float]:
    """``cost(kind, pythonpath)`` of each run ``(name, kind, pythonpath)``, printed."""
    costs: dict[str, float] = {}
    for name, kind, pythonpath in runs:
        costs[name] = cost(kind, pythonpath)
        print(f'  {name:<16}{costs[name]:>12,.0f} instructions/{unit}', flush=True)
    return costs


def report(
    costs: dict[str, float], what: str, unit: str, target: float
) -> dict[str, float]:
    """Print the server-side costs (``client`` taken off) with raw aiohttp over each.

    ``target`` is the issue's "aiotao >= target x raw aiohttp", put in
    instructions.  Returns the server-side costs.
    """
    client = costs['client']
    server = {name: cost - client for name, cost in costs.items() if name != 'client'}
    print(
        f'\n{what}: server-side instructions per {unit} (client subtracted: '
        f'{client:,.0f}),\nand raw aiohttp over each (the rate ratio):'
    )
    aiohttp = server.get('aiohttp')
    for name, cost in server.items():
        ratio = f'{aiohttp / cost:.2f}x' if aiohttp else '-'
        print(f'  {name:<16}{cost:>12,.0f}{ratio:>8}')
    if aiohttp and 'aiotao' in server:
        print(
            f'\naiotao >= {target:g}x raw aiohttp allows {aiohttp / target:,.0f} '
            f'instructions per {unit}; aiotao costs {server["aiotao"]:,.0f}.'
        )
    return server
