"""pyqtgraph plots: the rate trend of the last 30-60 s and the spectrum with its energy windows."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from probe_nav.drivers.frames import DeviceInfo
from probe_nav.gui import style

pg.setConfigOptions(antialias=False, background=style.BACKGROUND, foreground=style.TEXT)


def nice_top(value: float) -> float:
    """The smallest 1-2-5 step number at or above `value` (an axis top that rarely changes)."""
    if not value > 0 or not np.isfinite(value):
        return 10.0
    decade = 10.0 ** np.floor(np.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        if value <= step * decade:
            return float(step * decade)
    return float(10.0 * decade)


class TrendPlot(pg.PlotWidget):
    """Rate against time (s before now) with ±1 sd lines and the background line.

    Cheap to redraw at 5 Hz: the axes are fixed (x: the window; y: a 1-2-5 top that changes
    only when the data leave it or shrink to a quarter of it, so pyqtgraph does not re-render
    its axes on every update) and the sd is two thin lines, not a filled polygon."""

    def __init__(self, window_s: float = 45.0) -> None:
        super().__init__()
        self.window_s = window_s
        self.setMinimumHeight(style.TREND_MIN_PX)
        self.setLabel("left", "rate", units="cps")
        self.setLabel("bottom", "time before now", units="s")
        # no grid: pyqtgraph draws a grid with its axes, and the axes then repaint (replaying
        # their pictures) at every data update, the largest part of the trend's cost
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setXRange(-window_s, 0, padding=0)
        self.disableAutoRange()
        self._top = 10.0
        self.setYRange(0, self._top, padding=0.04)
        self.setDownsampling(auto=True, mode="peak")  # ~1 point per pixel at 100 frames/s
        self.setClipToView(True)
        sd_pen = pg.mkPen(style.GREY, width=1)
        self._upper = self.plot(pen=sd_pen, connect="finite")
        self._lower = self.plot(pen=sd_pen, connect="finite")
        self._pens = {True: pg.mkPen(style.ACCENT, width=2), False: pg.mkPen(style.GREY, width=2)}
        self._curve = self.plot(pen=self._pens[True], connect="finite")
        self._background = pg.InfiniteLine(angle=0, pen=pg.mkPen(style.WARNING, width=1,
                                                                 style=pg.QtCore.Qt.DashLine))
        self.addItem(self._background)
        self._background_cps: float | None = -1.0
        self._live: bool | None = None
        self._pending: tuple | None = None  # rows that came while hidden
        # the view paints its whole background: the window under it need not be redrawn
        self.setAttribute(pg.QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.viewport().setAttribute(pg.QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def set_compact(self, compact: bool) -> None:
        """A lower minimum height on small screens."""
        self.setMinimumHeight(style.COMPACT_TREND_MIN_PX if compact else style.TREND_MIN_PX)

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        if self._pending is not None:
            self.show_trend(*self._pending)

    def show_trend(self, t_s: np.ndarray, rate_cps: np.ndarray, sd_cps: np.ndarray,
                   background_cps: float | None, live: bool) -> None:
        """Redraw with the given rows (NaN rows break the curves); greyed out when not live.
        While hidden (a tab not shown) only the latest rows are kept, drawn when shown."""
        if not self.isVisible():
            self._pending = (t_s, rate_cps, sd_cps, background_cps, live)
            return
        self._pending = None
        self._curve.setData(t_s, rate_cps, connect="finite")
        upper = rate_cps + sd_cps
        # the sd lines are smooth: about one point per pixel is plenty (the rate curve keeps
        # every point, pyqtgraph's peak downsampling shows its spikes)
        step = max(1, len(t_s) // max(1, self.width()))
        self._upper.setData(t_s[::step], upper[::step], connect="finite")
        self._lower.setData(t_s[::step], np.maximum(rate_cps - sd_cps, 0.0)[::step],
                            connect="finite")
        finite = upper[np.isfinite(upper)]
        peak = max(float(finite.max()) if finite.size else 0.0, background_cps or 0.0)
        if peak > self._top or peak < self._top / 4:
            top = nice_top(1.1 * peak)
            if top != self._top:
                self._top = top
                self.setYRange(0, top, padding=0.04)  # room for the top tick's label
        if background_cps != self._background_cps:
            self._background_cps = background_cps
            if background_cps is None:
                self._background.hide()
            else:
                self._background.setValue(background_cps)
                self._background.show()
        if live != self._live:
            self._live = live
            self._curve.setPen(self._pens[live])


class SpectrumPlot(pg.PlotWidget):
    """The last spectrum (counts per channel against keV) with the device's energy windows."""

    def __init__(self) -> None:
        super().__init__()
        self.setLabel("left", "counts / channel")
        self.setLabel("bottom", "energy", units="keV")
        self.showGrid(x=True, y=True, alpha=0.2)
        self.hideButtons()
        self._curve = self.plot(pen=pg.mkPen(style.ACCENT, width=1), stepMode="center")
        self._regions: list[pg.LinearRegionItem] = []
        self._windows: tuple = ()
        self.message = pg.TextItem("no spectrum: this device sends none, or spectra are off",
                                   color=style.GREY)
        self.addItem(self.message)

    def show_spectrum(self, spectrum: tuple[int, ...] | None, info: DeviceInfo | None) -> None:
        """Draw the spectrum (channels converted to keV with the device's calibration)."""
        windows = info.windows if info is not None else ()
        if windows != self._windows:
            for region in self._regions:
                self.removeItem(region)
            self._regions = []
            for i, w in enumerate(windows):
                colour = (255, 171, 0, 60) if i == 0 else (120, 144, 156, 40)
                region = pg.LinearRegionItem((w.lo_kev, w.hi_kev), movable=False,
                                             brush=pg.mkBrush(*colour))
                self.addItem(region)
                self._regions.append(region)
            self._windows = windows
        if spectrum is None:
            self.message.show()
            self._curve.setData([], [])
            return
        self.message.hide()
        cal = info.energy_calibration if info is not None and info.energy_calibration else (0, 1)
        edges = np.arange(len(spectrum) + 1, dtype=float) - 0.5
        kev = sum(c * edges**i for i, c in enumerate(cal))
        self._curve.setData(kev, np.asarray(spectrum, dtype=float))
