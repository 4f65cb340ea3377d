"""The dosimetry PDF of a case: its text (pypdf) - case, nuclide, every point, both fits, the
chosen one, the extrapolation flag, a missing bi-exponential fit explained - and its pages
rendered (pdftoppm): the curves drawn in their colours, the extrapolated stretch shaded,
nothing past the margins or over other text.

The series are noiseless (counts = the model's expectation, rounded), so what the fit finds is
known in advance and the checks do not depend on random numbers. The two tests of what the
report prints of the stored points read them back from SQLite and from PostgreSQL; the others
are about the PDF and its fits, not the store, and use a SQLite file."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from probe_nav.cases.dosimetry_report import (
    MODEL_COLOURS,
    ReleaseCriterion,
    write_dosimetry_report,
)
from probe_nav.cases.store import CaseStore
from probe_nav.dosimetry.fit import fit_series
from probe_nav.report import numbers as fmt
from probe_nav.report.curve_charts import EXTRAPOLATED
from tests.backends import CASES_SCHEMA, Db, backend_fixture
from tests.report import pdfcheck
from tests.report.pdfcheck import flat, page_texts

T_PHYS_H = 159.528  # Lu-177
LIVE_S = 60.0
BACKGROUND_CPS = 12.0

case_db = backend_fixture("cases.sqlite3", CASES_SCHEMA)


def _rate(t_h: float, bi: bool) -> float:
    """Net rate (cps): bi = 40 % clearing with T_bio 6 h and 60 % with 80 h; mono T_eff 40 h."""
    lam = math.log(2) / T_PHYS_H
    if bi:
        return 900 * (0.4 * math.exp(-(lam + math.log(2) / 6) * t_h)
                      + 0.6 * math.exp(-(lam + math.log(2) / 80) * t_h))
    return 900 * math.exp(-math.log(2) / 40 * t_h)


def _report(tmp_path: Path, times_h: tuple[float, ...], *, bi: bool, name: str = "r.pdf",
            release: ReleaseCriterion | None = None,
            db: str | None = None) -> tuple[Path, object, list]:
    """The report of a Lu-177 series at times_h, stored in `db` (default a SQLite file)."""
    with CaseStore.open(db or tmp_path / "cases.sqlite3") as store:
        injected = time.time() - 10 * 86400.0
        store.create_case("LU-7", "psma", "Lu-177", injection_unix_s=injected,
                          created_unix_s=injected + 600, injected_activity_mbq=7400.0,
                          probe="PL-1 0042")
        for t in times_h:
            n = round((_rate(t, bi) + BACKGROUND_CPS) * LIVE_S)
            store.add_retention_point("LU-7", counts=n, live_s=LIVE_S, geometry="1m-standing",
                                      time_h=t, background_cps=BACKGROUND_CPS,
                                      background_sd_cps=0.3, operator="RT")
        case, points = store.case("LU-7"), store.retention_points("LU-7")
    analysis = fit_series([p.as_point() for p in points], case.nuclide)
    pdf = write_dosimetry_report(tmp_path / name, case, points, analysis, release=release)
    return pdf, analysis, points


def test_report_shows_case_points_fits_and_choice(tmp_path: Path, case_db: Db) -> None:
    pdf, analysis, points = _report(tmp_path, (2, 6, 24, 48, 96, 168), bi=True,
                                    db=case_db.arg)
    assert analysis.chosen.model == "bi" and not analysis.chosen.extrapolation_flag
    texts = page_texts(pdf)
    text = flat(" ".join(texts))
    assert all("Retention dosimetry, case LU-7" in t for t in texts)  # running header
    for word in ("LU-7", "Lu-177", "1m-standing", "6points", "RT", "PL-10042",
                 "bi-exponential(chosen)", "mono-exponential", "Extrapolation:",
                 "Retainedfraction(chosenfit)", "standardisedresidual"):
        assert word in text, word
    for p in points:  # every point, its counts and net rate as the table prints them
        assert flat(fmt.count(p.counts)) in text
        assert flat(fmt.value_sd(p.net_cps, p.net_sd_cps)) in text
    for fit in (analysis.mono, analysis.bi):
        assert flat(fmt.value_sd(fit.t_eff_h, fit.t_eff_sd_h, "h")) in text
        assert flat(fmt.value_sd(fit.tiac_h, fit.tiac_sd_h, "h")) in text
        assert flat(fmt.fixed(fit.aicc, 2)) in text
    assert "FLAGGED" not in text and "Release" not in text
    # the noiseless bi-exponential truth is what the chosen fit reports
    assert analysis.chosen.fraction_fast == pytest.approx(0.4, abs=0.01)


def test_extrapolation_is_flagged_and_a_missing_bi_fit_explained(tmp_path: Path) -> None:
    pdf, analysis, _ = _report(tmp_path, (1, 3, 6, 12), bi=False)  # 4 points, T_eff 40 h
    assert analysis.bi is None and analysis.chosen.extrapolation_flag
    text = flat(" ".join(page_texts(pdf)))
    assert "EXTRAPOLATIONFLAGGED" in text and "(flagged)" in text
    assert flat("No bi-exponential fit: bi-exponential needs at least 5 points") in text
    assert flat(fmt.percent(100 * analysis.chosen.extrapolated_fraction, 1)) in text


def test_release_time_when_asked(tmp_path: Path) -> None:
    pytest.importorskip("probe_nav.dosimetry.release")
    from probe_nav.dosimetry.release import release_time_h

    criterion = ReleaseCriterion(usv_h_per_cps=0.05, limit_usv_h=20.0)
    pdf, analysis, _ = _report(tmp_path, (2, 6, 24, 48, 96, 168), bi=True, release=criterion)
    t_h, sd_h = release_time_h(analysis.chosen, 0.05, 20.0)
    text = flat(" ".join(page_texts(pdf)))
    assert "Release(doserateat1m)" in text
    assert flat(fmt.value_sd(float(t_h), float(sd_h), "h")) in text


def test_rendered_pages_show_the_curves_and_are_clean(tmp_path: Path) -> None:
    pdf, _, _ = _report(tmp_path, (2, 6, 24, 48, 96, 168), bi=True)
    pngs = pdfcheck.render_pngs(pdf, tmp_path, 100)
    for page in pdfcheck.word_pages(pdf):
        assert pdfcheck.outside_margins(page) == []
        assert pdfcheck.overlapping(page) == []
    image = np.concatenate([pdfcheck.rgb(p) for p in pngs])

    def pixels(colour: str, tolerance: int = 30) -> int:
        target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        return int(np.sum(np.all(np.abs(image.astype(int) - target) <= tolerance, axis=2)))

    # a curve across the plot is hundreds of pixels long at 100 dpi (the plot is ~17 cm wide);
    # the shaded extrapolation (x > 168 h of 250) is a block of thousands
    assert pixels(MODEL_COLOURS["bi"]) > 500
    assert pixels(MODEL_COLOURS["mono"]) > 300
    assert pixels(EXTRAPOLATED.name(), 4) > 10_000


def test_a_point_below_background_is_drawn_on_the_edge_not_dropped(tmp_path: Path,
                                                                   case_db: Db) -> None:
    with CaseStore.open(case_db.arg) as store:
        injected = time.time() - 20 * 86400.0
        store.create_case("I-3", "other", "I-131", injection_unix_s=injected,
                          created_unix_s=injected + 600)
        for t, n in ((2, 30000), (24, 9000), (48, 2500), (96, 700), (240, 560)):
            store.add_retention_point("I-3", counts=n, live_s=60.0, geometry="1m", time_h=t,
                                      background_cps=10.0, background_sd_cps=0.5)
        case, points = store.case("I-3"), store.retention_points("I-3")
    assert points[-1].net_cps < 0  # 560 counts in 60 s under a background of 600
    analysis = fit_series([p.as_point() for p in points], case.nuclide)
    pdf = write_dosimetry_report(tmp_path / "i.pdf", case, points, analysis)
    text = flat(" ".join(page_texts(pdf)))
    assert flat(fmt.value_sd(points[-1].net_cps, points[-1].net_sd_cps)) in text
    assert "I-131" in text


def test_log_axis_ticks_and_labels() -> None:
    from probe_nav.report.curve_charts import log_tick_label, log_ticks

    assert log_ticks(3.0, 1000.0) == [10.0, 100.0, 1000.0]  # three decades: decades only
    assert log_ticks(20.0, 500.0) == [20.0, 50.0, 100.0, 200.0, 500.0]
    assert [log_tick_label(v) for v in (1000.0, 10.0, 1.0, 0.5, 0.02)] == [
        "1000", "10", "1", "0.5", "0.02"]


def test_scatter_beyond_counting_is_said_in_the_report(tmp_path) -> None:
    """A mono fit of a bi-exponential truth on 5 points (bi cannot be chosen by AICc there)
    leaves chi2/dof far above 1: the PDF says its sds understate the uncertainty."""
    import pypdf

    from probe_nav.cases.dosimetry_report import write_dosimetry_report
    from probe_nav.cases.store import CaseStore
    from probe_nav.dosimetry.fit import fit_series

    path = tmp_path / "cases.sqlite"
    with CaseStore.open(path) as store:
        injected = time.time() - 10 * 86400.0
        store.create_case("I-2", "therapy", "I-131", injection_unix_s=injected,
                          created_unix_s=injected + 60.0)
        for t_h in (2.0, 6.0, 24.0, 48.0, 72.0):  # 95 % at 13 h, 5 % at 66 h, 1e4-5e5 counts
            rate = 9000.0 * (0.95 * 0.5 ** (t_h / 13.0) + 0.05 * 0.5 ** (t_h / 66.0))
            store.add_retention_point("I-2", counts=round(rate * 60.0), live_s=60.0,
                                      geometry="1m", time_h=t_h, background_cps=1.0)
        out = tmp_path / "i2.pdf"
        points = store.retention_points("I-2")
        analysis = fit_series([p.as_point() for p in points], "I-131")
        assert analysis.bi is None or analysis.chosen.model == "mono"
        write_dosimetry_report(out, store.case("I-2"), points, analysis)
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(out).pages)
    assert "scatter beyond counting statistics" in " ".join(text.split())
