"""pyqtgraph plots: the rate trend of the last 30-60 s and the spectrum with its energy windows."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from probe_nav.drivers.frames import DeviceInfo
from probe_nav.gui import style

pg.setConfigOptions(antialias=False, background=style.BACKGROUND, foreground=style.TEXT)


class TrendPlot(pg.PlotWidget):
    """Rate against time (s before now) with a ±1 sd band and the background line."""

    def __init__(self, window_s: float = 45.0) -> None:
        super().__init__()
        self.window_s = window_s
        self.setMinimumHeight(180)
        self.setLabel("left", "rate", units="cps")
        self.setLabel("bottom", "time before now", units="s")
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setXRange(-window_s, 0, padding=0)
        self.setDownsampling(auto=True, mode="peak")  # ~1 point per pixel at 100 frames/s
        self.setClipToView(True)
        self._upper = self.plot(pen=pg.mkPen(style.GREY, width=1))
        self._lower = self.plot(pen=pg.mkPen(style.GREY, width=1))
        self._band = pg.FillBetweenItem(self._lower, self._upper,
                                        brush=pg.mkBrush(41, 182, 246, 50))
        self.addItem(self._band)
        self._curve = self.plot(pen=pg.mkPen(style.ACCENT, width=2), connect="finite")
        self._background = pg.InfiniteLine(angle=0, pen=pg.mkPen(style.WARNING, width=1,
                                                                 style=pg.QtCore.Qt.DashLine))
        self.addItem(self._background)
        self._live: bool | None = None

    def show_trend(self, t_s: np.ndarray, rate_cps: np.ndarray, sd_cps: np.ndarray,
                   background_cps: float | None, live: bool) -> None:
        """Redraw with the given rows (NaN rows break the curve); greyed out when not live."""
        finite = np.isfinite(rate_cps)
        self._curve.setData(t_s, rate_cps, connect="finite")
        if finite.any():
            self._upper.setData(t_s[finite], (rate_cps + sd_cps)[finite])
            self._lower.setData(t_s[finite], np.maximum(rate_cps - sd_cps, 0.0)[finite])
        else:
            self._upper.setData([], [])
            self._lower.setData([], [])
        if background_cps is None:
            self._background.hide()
        else:
            self._background.setValue(background_cps)
            self._background.show()
        if live != self._live:
            self._live = live
            self._curve.setPen(pg.mkPen(style.ACCENT if live else style.GREY, width=2))


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
