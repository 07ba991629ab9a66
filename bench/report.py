"""The results of a server benchmark: best runs, ratios, the table, the targets.

Each (endpoint, server) pair is measured ``rounds`` times; the best rate
stands for it (the machine is shared: a slow run is noise, a fast one is
what the server can do), and errors are summed over every run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from load import Measurement

#: The servers the ratios are taken against: raw aiohttp and sync Pyramid.
RATIO_PEERS = ('aiohttp', 'pyramid')


@dataclass(frozen=True)
class Target:
    """One of the issue's targets: aiotao's rate >= ``factor`` x a peer's."""

    endpoint: str
    peer: str
    factor: float


#: Issue 22, "Speed": what aiotao's worker must reach (the page against raw
#: aiohttp rendering the same template with Jinja2 directly).
TARGETS = [
    Target('hello', 'aiohttp', 0.5),
    Target('hello', 'pyramid', 2.0),
    Target('json', 'aiohttp', 0.5),
    Target('page', 'aiohttp', 0.8),
    Target('page', 'pyramid', 1.5),
    Target('sleep', 'aiohttp', 0.95),
    Target('echo', 'aiohttp', 0.85),
]
#: Endpoints where aiotao must have no error at all.
ZERO_ERRORS = ['sleep']


@dataclass
class Results:
    #: (endpoint, server) -> every measured run, in order
    runs: dict[tuple[str, str], list[Measurement]] = field(default_factory=dict)

    def add(self, endpoint: str, server: str, measurement: Measurement) -> None:
        self.runs.setdefault((endpoint, server), []).append(measurement)

    def best(self, endpoint: str, server: str) -> Measurement | None:
        runs = self.runs.get((endpoint, server))
        return max(runs, key=lambda run: run.rate) if runs else None

    def errors(self, endpoint: str, server: str) -> int:
        return sum(run.errors for run in self.runs.get((endpoint, server), []))

    def ratio(self, endpoint: str, server: str, peer: str) -> float | None:
        """``server``'s best rate over ``peer``'s, or ``None`` if either is missing."""
        mine, theirs = self.best(endpoint, server), self.best(endpoint, peer)
        if mine is None or theirs is None or not theirs.rate:
            return None
        return mine.rate / theirs.rate


@dataclass(frozen=True)
class Row:
    """What the table shows of one server."""

    key: str
    label: str
    websocket: bool
    #: The endpoints the server serves, if not all.
    only: frozenset[str] | None = None

    def missing(self, endpoint: str, websocket: bool) -> str:
        """Why the server has no result for ``endpoint`` ('' if it should have)."""
        if websocket and not self.websocket:
            return 'n/a (no websocket)'
        if self.only is not None and endpoint not in self.only:
            return 'n/a (not served)'
        return ''


def _ratio(ratio: float | None) -> str:
    return '-' if ratio is None else f'{ratio:.2f}x'


def table(results: Results, rows: Sequence[Row], endpoints: Mapping[str, str]) -> str:
    """The results, one line per server and endpoint (``endpoints``: name -> unit)."""
    header = (
        f'{"endpoint":<14}{"server":<28}{"rate":>8}{"errors":>7}'
        f'{"vs aiohttp":>11}{"vs sync Pyr":>12}'
        f'{"srv cpu":>8}{"µs cpu":>8}{"gen cpu":>8}'
    )
    lines = [header, '-' * len(header)]
    for endpoint, unit in endpoints.items():
        name = f'{endpoint} ({unit})'
        for row in rows:
            best = results.best(endpoint, row.key)
            if best is None:
                reason = row.missing(endpoint, websocket=unit == 'msg/s')
                lines.append(f'{name:<14}{row.label:<28}{reason:>20}'.rstrip())
            else:
                aiohttp, pyramid = (
                    results.ratio(endpoint, row.key, peer) for peer in RATIO_PEERS
                )
                lines.append(
                    f'{name:<14}{row.label:<28}{best.rate:>8.0f}'
                    f'{results.errors(endpoint, row.key):>7}'
                    f'{_ratio(aiohttp):>11}{_ratio(pyramid):>12}'
                    f'{best.server_load:>8.0%}{best.cpu_per_item * 1e6:>8.0f}'
                    f'{best.client_load:>8.0%}'
                )
            name = ''
    return '\n'.join(lines)


def against_floor(results: Results, endpoints: Sequence[str]) -> str:
    """aiotao's rates over stock Pyramid's router inline (``floor``), if measured."""
    ratios = [
        f'{endpoint} {ratio:.2f}x'
        for endpoint in endpoints
        if (ratio := results.ratio(endpoint, 'aiotao', 'floor')) is not None
    ]
    if not ratios:
        return ''
    return (
        'aiotao over stock Pyramid inline (the floor of any Pyramid on aiohttp): '
        + ', '.join(ratios)
    )


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    passed: bool


def verdicts(results: Results, labels: Mapping[str, str]) -> list[Verdict]:
    """The targets this run measured, met or not."""
    found: list[Verdict] = []
    for target in TARGETS:
        ratio = results.ratio(target.endpoint, 'aiotao', target.peer)
        if ratio is not None:
            text = f'{target.endpoint} >= {target.factor:g}x {labels[target.peer]}'
            found.append(Verdict(text, f'{ratio:.2f}x', ratio >= target.factor))
    for endpoint in ZERO_ERRORS:
        if results.best(endpoint, 'aiotao') is not None:
            errors = results.errors(endpoint, 'aiotao')
            found.append(
                Verdict(f'{endpoint}: no error on aiotao', str(errors), not errors)
            )
    return found


def verdict_table(found: Sequence[Verdict]) -> str:
    width = max(len(verdict.target) for verdict in found) + 2
    lines = [f'{"target":<{width}}{"measured":>10}  result']
    lines += [
        f'{v.target:<{width}}{v.measured:>10}  {"PASS" if v.passed else "FAIL"}'
        for v in found
    ]
    return '\n'.join(lines)
