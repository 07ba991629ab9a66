"""Numbers and switches read from the ini's settings, with errors naming them.

The parts of aiotao that take settings (the websocket limits, the chat, the
game, the broadcast backends) read them through :func:`read_setting` and
the parsers here, so a bad value is reported the same way everywhere: a
:class:`~pyramid.exceptions.ConfigurationError` with the setting, the value
and what was expected, raised when the application starts.

>>> settings = {'app.workers': 'many', 'app.timeout': '2.5', 'app.pings': 'off'}
>>> read_setting(settings, 'app.timeout', 10.0, positive_number, 'seconds')
2.5
>>> read_setting(settings, 'app.pings', 20.0, optional(positive_number), 'seconds')
>>> read_setting(settings, 'app.retries', 3, whole_number(0, 10), 'a count')
3
>>> read_setting(settings, 'app.workers', 1, whole_number(1), 'a whole number')
Traceback (most recent call last):
...
pyramid.exceptions.ConfigurationError: app.workers = 'many': expected a whole number
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from pyramid.exceptions import ConfigurationError

__all__ = [
    'OFF',
    'Parser',
    'number',
    'optional',
    'positive_number',
    'read_setting',
    'whole_number',
]

T = TypeVar('T')

#: Turns a value from the ini into what a setting holds; raises
#: ``ValueError`` or ``TypeError`` for a value it does not take.
Parser = Callable[[Any], T]

#: What switches an :func:`optional` setting off.
OFF = frozenset({'', 'off', 'none', 'never'})


def read_setting(
    settings: Mapping[str, Any],
    key: str,
    default: T,
    parse: Parser[T],
    expected: str,
) -> T:
    """``settings[key]`` parsed, ``default`` if it is not set.

    ``expected`` says in words what the setting takes: it ends the error
    message of a value ``parse`` refuses.
    """
    if key not in settings:
        return default
    value = settings[key]
    try:
        return parse(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f'{key} = {value!r}: expected {expected}') from None


def whole_number(low: int = 1, high: int | None = None) -> Parser[int]:
    """A parser of whole numbers from ``low`` to ``high`` (no bound if ``None``).

    >>> whole_number(1, 10)(' 7 ')
    7
    >>> whole_number(1, 10)('11')
    Traceback (most recent call last):
    ...
    ValueError: 11
    """

    def parse(value: Any) -> int:
        if isinstance(value, bool):  # True is 1 to int(), not a number to a person
            raise TypeError(value)
        number = int(str(value).strip())
        if number < low or (high is not None and number > high):
            raise ValueError(value)
        return number

    return parse


def number(low: float, high: float = math.inf) -> Parser[float]:
    """A parser of finite numbers from ``low`` to ``high``.

    >>> number(0.01, 3600)('2.5')
    2.5
    >>> number(1)('0.5')
    Traceback (most recent call last):
    ...
    ValueError: 0.5
    """

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise TypeError(value)
        parsed = float(str(value).strip())
        if not (low <= parsed <= high and math.isfinite(parsed)):  # nan too
            raise ValueError(value)
        return parsed

    return parse


def positive_number(value: Any) -> float:
    """A finite number above 0 (seconds, a rate).

    >>> positive_number('0.5'), positive_number(3)
    (0.5, 3.0)
    >>> positive_number('nan')
    Traceback (most recent call last):
    ...
    ValueError: nan
    """
    if isinstance(value, bool):
        raise TypeError(value)
    number = float(str(value).strip())
    if not (number > 0 and math.isfinite(number)):
        raise ValueError(value)
    return number


def optional(parse: Parser[T], off: Collection[str] = OFF) -> Parser[T | None]:
    """``parse``, or ``None`` for a value that switches the setting off.

    >>> optional(positive_number)('Off') is None
    True
    >>> optional(positive_number, off={'0', 'off'})('0') is None
    True
    """

    def parse_or_off(value: Any) -> T | None:
        if value is None or str(value).strip().lower() in off:
            return None
        return parse(value)

    return parse_or_off
