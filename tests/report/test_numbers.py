"""How reports print numbers, plurals and axes (probe_nav.report.numbers and .axes): a value
rounded to its uncertainty, digits grouped, units attached; round ticks; calendar date ticks."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe_nav.report import numbers as fmt
from probe_nav.report.axes import date_ticks, nice_ticks, tick_labels

G, N = fmt.GROUP, fmt.NBSP


def plain(text: str) -> str:
    """The text with its no-break spaces as ordinary ones, to compare with a literal."""
    return text.replace(G, " ").replace(N, " ")


@pytest.mark.parametrize(("value", "sd", "unit", "expected"), [
    (100055.34, 110.84, "cps", "100 060 ± 110 cps"),  # not "1e+05 ± 110.9 cps"
    (100123.4, 110.9, "cps", "100 120 ± 110 cps"),
    (812.04, 9.03, "cps", "812 ± 9 cps"),  # 903: one significant figure (PDG)
    (762.17, 21.73, "cps/MBq", "762 ± 22 cps/MBq"),  # 217: two
    (19.668, 0.2655, "mm", "19.67 ± 0.27 mm"),
    (0.10022, 0.0045064, "%", "0.100 ± 0.005 %"),
    (1.9989e-6, 4.4e-8, "s", "2.00 ± 0.04 µs"),
    (2.5e6, 3.2e4, "cps", "(2.500 ± 0.032) × 10⁶ cps"),
    # identical simulated checks: an sd far below any meaningful figure is not printed as such
    (1.000000059, 2.8e-8, "", "1.00000 (sd < 0.00001)"),
    (5.0, 0.0, "cps", "5.00 cps"),  # no usable sd: three significant figures
    (5.0, None, "cps", "5.00 cps"),
    (float("nan"), 1.0, "cps", fmt.MISSING),
])
def test_value_is_rounded_to_its_sd(value: float, sd: float | None, unit: str,
                                    expected: str) -> None:
    assert plain(fmt.value_sd(value, sd, unit)) == expected


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (1379.2, "cps", "1379 cps"), (10234.0, "", "10 234"), (56.71, "cps", "56.7 cps"),
    (8.493, "cps", "8.49 cps"), (0.0, "cps", "0.00 cps"), (-0.0001, "", "-1.00 × 10⁻⁴"),
    (None, "cps", fmt.MISSING),
])
def test_quantity_keeps_integer_digits(value: float | None, unit: str, expected: str) -> None:
    assert plain(fmt.quantity(value, unit)) == expected


def test_plurals_and_counts() -> None:
    assert plain(fmt.plural(1, "daily check")) == "1 daily check"
    assert plain(fmt.plural(0, "daily check")) == "0 daily checks"
    assert plain(fmt.plural(12345, "record")) == "12 345 records"
    assert plain(fmt.percent(16.2)) == "16 %" and fmt.tolerance(0.1) == f"±10{N}%"


def test_a_quantity_never_breaks_across_lines() -> None:
    text = fmt.value_sd(100055.34, 110.84, "cps")
    assert " " not in text  # only no-break spaces: a cell wraps around it, never inside


@given(st.floats(1e-2, 9e5), st.floats(1e-3, 1.0))
def test_printed_values_read_back_within_their_rounding(value: float, rel_sd: float) -> None:
    """value_sd's text parses back to the value within half its last digit, and the sd within
    a rounding of two significant figures (+-5 %) or one (+-15 %, leading digit >= 3.55)."""
    sd = value * rel_sd
    back, back_sd, unit = fmt.parse_quantity(fmt.value_sd(value, sd, "cps"))
    assert unit == "cps" and back_sd is not None
    step = 10.0 ** -fmt.sd_decimals(sd)
    assert abs(back - value) <= step / 2 * (1 + 1e-9)
    assert abs(back_sd - sd) <= max(0.15 * sd, step / 2 * (1 + 1e-9))


def test_nice_ticks_cover_the_range() -> None:
    ticks = nice_ticks(0.0, 97.0)
    assert ticks[0] == 0.0 and ticks[-1] <= 97.0 and len(ticks) >= 4
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and steps.pop() in (10.0, 20.0, 25.0, 50.0)
    assert nice_ticks(5.0, 5.0)
    assert tick_labels([0.9, 1.0, 1.1], fmt.fixed) == ["0.9", "1.0", "1.1"]


def test_date_ticks_fall_on_calendar_days() -> None:
    start = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
    ticks, step = date_ticks(start, start + timedelta(days=21), 6)
    assert all(t.hour == 0 and t.minute == 0 for t in ticks) and step.label == "%Y-%m-%d"
    assert ticks[0] >= start and len(ticks) <= 6
    # two days with a step of at least a day: whole days, never 12:00
    ticks, step = date_ticks(start, start + timedelta(days=2), 8, min_step_s=86400.0)
    assert [t.day for t in ticks] == [2, 3] and step.label == "%Y-%m-%d"
    assert math.isclose(step.seconds, 86400.0)
