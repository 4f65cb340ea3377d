"""RetentionPoint's net rate and its sd; check_series refuses what cannot be fitted."""

from __future__ import annotations

import math

import pytest

from probe_nav.dosimetry.series import RetentionPoint, SeriesError, check_series


def test_net_rate_subtracts_the_background() -> None:
    point = RetentionPoint(24.0, 10_000, 100.0, background_cps=20.0)
    assert point.net_cps == pytest.approx(80.0)  # 100 cps gross - 20


def test_net_sd_adds_counting_and_background_variances() -> None:
    # sqrt(N)/L = 100/100 = 1 cps (not N/L^2 = 1 cps^2 taken as an sd, nor sqrt(N/L) = 10);
    # with a background sd of 2 cps: sqrt(1 + 4)
    point = RetentionPoint(24.0, 10_000, 100.0, background_cps=20.0, background_sd_cps=2.0)
    assert point.net_sd_cps == pytest.approx(math.sqrt(5.0))
    long = RetentionPoint(24.0, 40_000, 400.0)  # 4x the live time: sd halves
    assert long.net_sd_cps == pytest.approx(0.5)


def _series(**change: object) -> list[RetentionPoint]:
    base = [RetentionPoint(4.0, 1000, 60.0), RetentionPoint(24.0, 800, 60.0),
            RetentionPoint(48.0, 600, 60.0)]
    base[1] = RetentionPoint(**{**base[1].__dict__, **change})  # type: ignore[arg-type]
    return base


def test_a_good_series_passes() -> None:
    check_series(_series())
    check_series(_series(time_h=4.5, counts=0, background_cps=1.0, background_sd_cps=0.1))


@pytest.mark.parametrize(("change", "words"), [
    ({"time_h": 4.0}, "times must increase"),
    ({"time_h": 2.0}, "times must increase"),
    ({"time_h": -1.0}, "time_h must be >= 0"),
    ({"time_h": math.nan}, "time_h must be a finite"),
    ({"counts": -1}, "counts must be >= 0"),
    ({"counts": 12.5}, "counts must be an integer"),
    ({"counts": True}, "counts must be an integer"),
    ({"live_s": 0.0}, "live_s must be > 0"),
    ({"live_s": math.inf}, "live_s must be a finite"),
    ({"background_cps": -0.1}, "background"),
    ({"background_sd_cps": math.nan}, "background_sd_cps must be a finite"),
    ({"geometry": "couch"}, "mixed geometry"),
])
def test_bad_series_are_refused_in_one_line(change: dict[str, object], words: str) -> None:
    with pytest.raises(SeriesError, match=words) as caught:
        check_series(_series(**change))
    assert "\n" not in str(caught.value)


def test_fewer_than_three_points_are_refused() -> None:
    with pytest.raises(SeriesError, match="at least 3 points, got 2"):
        check_series(_series()[:2])
