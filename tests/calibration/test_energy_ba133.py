"""Energy calibration that refuses rather than lies (issue 16 item 4): a Ba-133 spectrum with all
its lines and Cs K X-rays calibrates right from its full line list; with the two lines the old
table held (356 and 81 keV) its 302.9 keV peak could be taken for 356 keV, so it is refused."""

from __future__ import annotations

import pytest

from probe_nav.calibration.energy import AmbiguousCalibration, auto_calibrate
from probe_nav.calibration.energy_match import candidate_assignments
from probe_nav.calibration.energy_verdict import clearly_better
from probe_nav.calibration.peaks import Peak
from probe_nav.calibration.sources import calibration_lines
from probe_nav.simulator.benches import bench_calibration_spectrum

GAIN_KEV_PER_CH = 0.75  # the bench's truth: keV = 0.75 x channel
OLD_TABLE = ([356.0, 81.0], [0.62, 0.33])  # Ba-133 as the nuclide table held it before
CASES = [(detector, seed) for detector in ("CdTe", "CsI(Tl)") for seed in (0, 1, 2)]


def _ba133(detector: str, seed: int):
    """300 s of a 0.5 MBq Ba-133 source at 50 mm: every line, the simulator's detector model
    (CdTe 8 % FWHM at 140.5 keV with 15 % hole tailing, or 10 mm CsI(Tl) at 18 %)."""
    extra = {} if detector == "CdTe" else {"detector": detector}
    return bench_calibration_spectrum({"Ba-133": 0.5}, count_s=300.0, seed=seed,
                                      coefficients=(0.0, GAIN_KEV_PER_CH), **extra)


@pytest.mark.parametrize(("detector", "seed"), CASES)
def test_ba133_with_all_its_lines_calibrates_within_1_percent(detector: str, seed: int) -> None:
    s = _ba133(detector, seed)
    energies, yields = calibration_lines(["Ba-133"])
    cal = auto_calibrate(s.spectrum, energies, yields=yields)
    # Issue 16's acceptance: the gain within 1 % (a wrong assignment is 9-10 % off: 0.826 with
    # 302.9 keV taken for 356 keV, 0.68 with 356 keV taken for 384 keV). The spread of the
    # lines blended into one CsI(Tl) peak is part of the gain's sd, so it is not the tolerance.
    assert cal.coefficients[1] == pytest.approx(GAIN_KEV_PER_CH, rel=0.01)
    for line_kev in (80.997, 302.851, 356.013):  # each main peak reads as its own line
        assert float(cal.to_kev(s.channel_of(line_kev))) == pytest.approx(line_kev, rel=0.01)
    assert len(cal.channels) >= 3  # X-rays, 81 keV and the 276-384 keV group at least


@pytest.mark.parametrize(("detector", "seed"), CASES)
def test_ba133_with_the_old_two_line_table_is_refused(detector: str, seed: int) -> None:
    # Two lines fit any two peaks exactly: with the 276/303/384 keV peaks and the X-rays
    # unlisted, a map reading 302.9 keV's peak as 356 keV does as well as the true one
    # (CdTe: "ambiguous"), or the true one cannot be told from a guess (CsI(Tl), where the
    # 303 keV peak is a shoulder: "unverified", the X-ray peak explained by no line).
    s = _ba133(detector, seed)
    with pytest.raises(AmbiguousCalibration, match=r"^(ambiguous|unverified): ") as caught:
        auto_calibrate(s.spectrum, OLD_TABLE[0], yields=OLD_TABLE[1])
    assert "no calibration stored" in str(caught.value)


def test_a_weak_line_is_not_used_while_a_strong_neighbour_is_unfound() -> None:
    # Two peaks at channels 14 and 122 (1 keV/channel); Co-57's lines. Reading the 122 peak as
    # 136.5 keV (10.7 %) would leave 122.1 keV (85.6 %, 8x stronger, 11 % lower in energy)
    # unfound: no assignment uses 136.5 keV alone.
    found = [Peak(14, 500.0, 500.0, 4.0, 900.0), Peak(122, 2000.0, 2000.0, 11.0, 1900.0)]
    energies, yields = calibration_lines(["Co-57"])
    got = candidate_assignments(found, list(zip(energies, yields, strict=True)), 20.0,
                                (10.0, 255.0))
    assert got, "the true assignment (14.4 and 122.1 keV) is a candidate"
    assert got[0].pairs[1][1].energies_kev[0] == pytest.approx(122.0607)
    assert all(g.energies_kev != (136.4736,) for a in got for _, g in a.pairs)


@pytest.mark.parametrize(("best", "rival", "verdict"), [
    # (consistent, evidence = points - unexplained photopeaks - unfound main-line yield,
    #  -sum (resid/FWHM)^2, points)
    ((True, 3.0, 0.0, 3), (True, 2.0, 0.0, 2), True),    # one point more than the rival
    ((True, 2.0, 0.0, 2), (True, 1.4, 0.0, 2), False),   # two each, the rival leaves 0.6 unfound
    ((True, 2.0, 0.0, 2), (True, 0.9, 0.0, 2), True),    # ... a main line and more unfound
    ((True, 3.0, 0.0, 3), (True, 2.2, 0.0, 4), False),   # one more point, 1.8 main lines unfound
    ((True, 2.0, 0.0, 2), (False, 5.0, 0.0, 5), True),   # the rival's points stray
    ((False, 3.0, 0.0, 3), (True, 1.0, 0.0, 2), False),  # the best's own points stray
])
def test_what_counts_as_clearly_better(best: tuple, rival: tuple, verdict: bool) -> None:
    assert clearly_better(best, rival, order=1) is verdict
