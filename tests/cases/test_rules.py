"""The decision rules: thresholds at their edges, and properties that must always hold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe_nav.cases.rules import (
    bed_check,
    ex_vivo_background_rule,
    parathyroid_rule,
    percent_of_hottest,
    ratio_to_background,
    ten_percent_rule,
)


def test_ratios() -> None:
    assert ratio_to_background(50.0, 10.0) == 5.0
    assert math.isnan(ratio_to_background(50.0, 0.0))
    assert math.isnan(ratio_to_background(50.0, math.nan))
    assert percent_of_hottest(25.0, 100.0) == 25.0
    assert math.isnan(percent_of_hottest(1.0, 0.0))


def test_ten_percent_rule_edges() -> None:
    v = ten_percent_rule({"a": 1000.0, "b": 100.0, "c": 99.9, "d": 0.0})
    assert [v[n].positive for n in "abcd"] == [True, True, False, False]
    assert v["a"].text == "hottest node: remove"
    assert v["b"].value == pytest.approx(10.0)
    assert ten_percent_rule({}) == {}
    assert not ten_percent_rule({"a": 0.0})["a"].positive


def test_ex_vivo_background_and_parathyroid_edges() -> None:
    assert ex_vivo_background_rule("n", 40.0, 10.0).positive
    assert not ex_vivo_background_rule("n", 39.9, 10.0).positive
    assert ex_vivo_background_rule("n", 40.0, 0.0).text == "no background"
    assert parathyroid_rule("p", 2.0, 10.0).positive  # exactly 20 %
    assert not parathyroid_rule("p", 1.99, 10.0).positive
    assert parathyroid_rule("p", 2.0, 10.0).value == pytest.approx(20.0)


def test_bed_check_is_a_one_sided_z_test() -> None:
    # bed 12 +/- 1, background 10 +/- 1: z = 2 / sqrt(2) = 1.41 -> at background
    assert not bed_check("bed", 12.0, 1.0, 10.0, 1.0).positive
    # bed 13 +/- 1: z = 2.12 > 1.645 -> residual
    assert bed_check("bed", 13.0, 1.0, 10.0, 1.0).positive
    assert bed_check("bed", 13.0, 1.0, 10.0, 1.0).value == pytest.approx(3 / math.sqrt(2))


rates = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)


@given(st.dictionaries(st.text(min_size=1, max_size=5), rates, min_size=1, max_size=12))
def test_ten_percent_rule_properties(ex_vivo: dict[str, float]) -> None:
    verdicts = ten_percent_rule(ex_vivo)
    hottest = max(ex_vivo.values())
    assert set(verdicts) == set(ex_vivo)
    for node, rate in ex_vivo.items():
        if hottest > 0:
            assert verdicts[node].positive == (rate >= 0.1 * hottest - 1e-9 * hottest)
        else:
            assert not verdicts[node].positive
    # scaling every rate (e.g. a decay correction common to all) changes no verdict
    scaled = ten_percent_rule({n: 3.7 * r for n, r in ex_vivo.items()})
    for node in ex_vivo:
        if hottest > 0 and abs(ex_vivo[node] / hottest - 0.1) > 1e-9:
            assert scaled[node].positive == verdicts[node].positive
