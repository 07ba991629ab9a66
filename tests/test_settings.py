"""Settings read through :mod:`aiotao.settings`: values, defaults, errors naming them."""

from __future__ import annotations

from typing import Any

import pytest
from pyramid.exceptions import ConfigurationError

from aiotao.settings import optional, positive_number, read_setting, whole_number


def test_an_unset_setting_is_its_default() -> None:
    assert read_setting({}, 'a.size', 7, whole_number(), 'a size') == 7


@pytest.mark.parametrize(
    ('value', 'parsed'), [('12', 12), (' 3 ', 3), (5, 5), ('1', 1), ('100', 100)]
)
def test_whole_numbers_in_range(value: Any, parsed: int) -> None:
    assert read_setting({'a.n': value}, 'a.n', 0, whole_number(1, 100), 'n') == parsed


@pytest.mark.parametrize(
    'value', ['0', '101', '1.5', 'ten', '', True, None, '1e3', '-4']
)
def test_a_refused_value_names_the_setting_and_what_it_takes(value: Any) -> None:
    with pytest.raises(ConfigurationError) as error:
        read_setting(
            {'a.n': value}, 'a.n', 0, whole_number(1, 100), 'a whole number, 1-100'
        )
    assert str(error.value) == f'a.n = {value!r}: expected a whole number, 1-100'


@pytest.mark.parametrize('value', ['0', '-1', 'nan', 'inf', '-inf', 'soon', False])
def test_positive_numbers_are_finite_and_above_zero(value: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        positive_number(value)


def test_optional_settings_switch_off_with_the_given_words() -> None:
    seconds = optional(positive_number)
    assert [seconds(value) for value in ('off', 'None', ' never ', '', None)] == [
        None
    ] * 5
    assert seconds('2') == 2.0
    with pytest.raises(ValueError):
        seconds('0')  # not an off word by default: 0 seconds is no number of seconds
    assert optional(positive_number, off={'0', 'off'})('0') is None
