"""The Dosimetry tab's plot: each retention point's net rate with its 1 sd bar on a log axis, the
mono- and bi-exponential curves (the one AICc chooses bold, dashed before the first and after the
last point, where they are extrapolations), and both fits' standardised residuals below with the
±2 lines. Coordinates come from dosimetry_state (log10 of the rate; the axis labels the decades),
so a point at or below zero net rate is a mark on the bottom edge, not a missing point."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from probe_nav.cases.retention import RetentionRecord
from probe_nav.dosimetry.fit import RetentionAnalysis, RetentionFit
from probe_nav.gui import dosimetry_state as ds
from probe_nav.gui import style

MODEL_COLOURS = {"mono": "#ffb74d", "bi": "#66bb6a"}  # as the PDF's hues, lighter on dark
CHOSEN_PX, OTHER_PX = 4, 2  # curve widths: the chosen model bold
DASH = Qt.PenStyle.DashLine


class RetentionPlot(QWidget):
    """Net rate with 1 sd bars on a log axis, the mono and bi curves (the chosen one bold,
    dashed where extrapolated), and the standardised residuals of both fits below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rate = pg.PlotWidget(self)
        self.rate.setObjectName("dosimetry_rate_plot")
        self.rate.setLabel("left", "net rate (cps)")
        self.rate.getAxis("left").setLogMode(False, True)  # data are log10(cps): 10^n labels
        self.rate.setLabel("bottom", "time after administration (h)")
        self.rate.showGrid(x=True, y=True, alpha=0.2)
        # bottom left: a retention curve falls from the top left, so that corner stays empty
        self.legend = self.rate.addLegend(offset=(10, -10), labelTextColor=style.TEXT)
        self.resid = pg.PlotWidget(self)
        self.resid.setObjectName("dosimetry_residual_plot")
        self.resid.setLabel("left", "resid. (sd)")
        self.resid.setLabel("bottom", "time after administration (h)")
        self.resid.setXLink(self.rate)
        self.resid.setMaximumHeight(160)
        self.resid.setMinimumHeight(90)
        self.rate.setMinimumHeight(160)
        for plot in (self.rate, self.resid):
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.rate, 3)
        layout.addWidget(self.resid, 1)
        self.curves: dict[str, list[pg.PlotDataItem]] = {}  # model -> its three pieces

    def clear(self) -> None:
        """Nothing drawn (no fit, or points that changed)."""
        self.rate.clear()
        self.resid.clear()
        self.legend.clear()
        self.curves = {}

    def show_points(self, points: list[RetentionRecord]) -> None:
        """Only the points (fewer than a fit needs, or a fit refused)."""
        self.clear()
        if points:
            self._draw_points(ds.log_points(points, []))
            self.rate.setXRange(0, ds.x_max_h([p.time_h for p in points]), padding=0.02)

    def show_fit(self, points: list[RetentionRecord], analysis: RetentionAnalysis) -> None:
        """Points, both fitted curves and the residuals."""
        self.clear()
        times = [p.time_h for p in points]
        fits = [f for f in (analysis.mono, analysis.bi) if f is not None]
        chosen = analysis.chosen.model
        for fit in fits:
            self._draw_curve(fit, times, fit.model == chosen)
        marks = ds.log_points(points, fits)
        self._draw_points(marks)
        self.rate.setXRange(0, ds.x_max_h(times), padding=0.02)
        top = max(float(np.max(marks.y_log + marks.top)) if marks.y_log.size else 0.0,
                  *(float(np.max(self.curves[f.model][0].yData)) for f in fits))
        self.rate.setYRange(marks.floor_log, top, padding=0.05)
        self._draw_residuals(fits, times, chosen)

    def _draw_curve(self, fit: RetentionFit, times: list[float], chosen: bool) -> None:
        pieces = ds.curve_pieces(fit, times)
        width = CHOSEN_PX if chosen else OTHER_PX
        solid = pg.mkPen(MODEL_COLOURS[fit.model], width=width)
        dashed = pg.mkPen(MODEL_COLOURS[fit.model], width=width, style=DASH)
        name = ds.MODEL_NAMES[fit.model] + (" (chosen)" if chosen else "")
        items = [self.rate.plot(*pieces.before, pen=dashed),
                 self.rate.plot(*pieces.inside, pen=solid, name=name),
                 self.rate.plot(*pieces.after, pen=dashed)]
        self.curves[fit.model] = items

    def _draw_points(self, marks: ds.LogPoints) -> None:
        if marks.y_log.size:
            self.rate.addItem(pg.ErrorBarItem(x=marks.x_h, y=marks.y_log, top=marks.top,
                                              bottom=marks.bottom, beam=0.0,
                                              pen=pg.mkPen(style.TEXT, width=2)))
            self.rate.plot(marks.x_h, marks.y_log, pen=None, symbol="o", symbolSize=10,
                           symbolBrush=style.ACCENT, symbolPen=style.TEXT,
                           name="net rate ± 1 sd")
        if marks.below_zero_h.size:  # no place on a log axis: marked on the bottom edge
            self.rate.plot(marks.below_zero_h, np.full(marks.below_zero_h.size, marks.floor_log),
                           pen=None, symbol="t", symbolSize=12, symbolBrush=style.WARNING,
                           name="net ≤ 0 (at the edge)")

    def _draw_residuals(self, fits: list[RetentionFit], times: list[float], chosen: str) -> None:
        for level, pen_style in ((0.0, Qt.PenStyle.SolidLine), (2.0, DASH), (-2.0, DASH)):
            self.resid.addItem(pg.InfiniteLine(pos=level, angle=0,
                                               pen=pg.mkPen(style.GREY_TEXT, style=pen_style)))
        biggest = 2.5
        for fit in fits:
            r = np.asarray(fit.residuals, dtype=float)
            biggest = max(biggest, float(np.max(np.abs(r))) * 1.1)
            self.resid.plot(times, r, pen=None, symbol="o" if fit.model == chosen else "s",
                            symbolSize=9 if fit.model == chosen else 7,
                            symbolBrush=MODEL_COLOURS[fit.model], symbolPen=None)
        self.resid.setYRange(-biggest, biggest, padding=0)


__all__ = ["CHOSEN_PX", "MODEL_COLOURS", "OTHER_PX", "RetentionPlot"]
