"""The console's layout and how it fits the screen.

    [training | banners, readout, trend, tabs (Case, Spectrum) | controls (scrolls)]
    (a row layout, not a splitter: every part always gets at least its minimum size)

inside one scroll area, so a window smaller than its content scrolls instead of clipping, and the
window's minimum size stays far below any screen (1366x768 at 150 % is 910x512 logical pixels).
`WindowFit` follows the window's size: the rate's font is at least 1/8 of the window height; under
style.ROOMY_MIN_H_PX the compact density is used; under TREND_TAB_MAX_H_PX the trend becomes a
tab beside the case table (so the table keeps at least 5 rows); when the window is too narrow for
the control column it collapses behind its "Controls" button (every control also has a key).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from probe_nav.gui import style

TREND_TAB_MAX_H_PX = 800  # below this window height the trend is a tab, not a strip
CONTROLS_LABEL = "Controls"
TRAINING_MAP_PX = 480  # the training map's width worth collapsing the controls for


class _MinimumFirstRow(QHBoxLayout):
    """The window's row of panels, reporting no height-for-width: a scroll area asks such a
    layout for its *preferred* height at the width (every part at its size hint, well over a
    1080 px screen) and scrolls; without it, it asks for the minimum height, and the wrapping
    labels still get their height for their width inside the window."""

    def hasHeightForWidth(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Fit:
    """What the window's size asks for."""

    compact: bool
    trend_as_tab: bool


class WindowFit(QObject):
    """Builds the console's layout into `window` and keeps it fitted to the window's size."""

    def __init__(self, window: QMainWindow, *, banners: QWidget, readout: QWidget,
                 trend: QWidget, tabs: QTabWidget, training: QWidget, controls: QWidget,
                 ) -> None:
        super().__init__(window)
        self.window = window
        self.banners, self.readout, self.trend, self.tabs = banners, readout, trend, tabs
        self.training, self.controls = training, controls
        self.also_fit: list[QWidget] = []  # more widgets with fit(height_px, compact)

        self.controls_scroll = QScrollArea()
        self.controls_scroll.setObjectName("controls_scroll")
        self.controls_scroll.setWidget(controls)
        self.controls_scroll.setWidgetResizable(True)
        self.controls_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.controls_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.controls_button = QPushButton(f"{CONTROLS_LABEL} ▸")
        self.controls_button.setObjectName("controls_toggle")
        self.controls_button.setCheckable(True)
        self.controls_button.setChecked(True)
        self.controls_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.controls_button.toggled.connect(self._controls_toggled)
        tabs.setCornerWidget(self.controls_button, Qt.Corner.TopRightCorner)

        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addWidget(banners)
        column.addWidget(readout)
        column.addWidget(trend, 1)
        column.addWidget(tabs, 3)
        self.column = column
        body = QWidget()
        row = _MinimumFirstRow(body)  # a plain row: it always honours every part's minimum size
        row.setContentsMargins(4, 4, 4, 4)
        row.setSpacing(8)
        row.addWidget(training, 2)
        row.addWidget(centre, 3)
        row.addWidget(self.controls_scroll, 0)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("window_scroll")
        self.scroll.setWidget(body)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        window.setCentralWidget(self.scroll)
        self.fit: Fit | None = None
        self._auto_collapsed = False
        self._width_timer = QTimer(self)  # a child: it dies with the window, never fires late
        self._width_timer.setSingleShot(True)
        self._width_timer.setInterval(0)
        self._width_timer.timeout.connect(self._fit_width_now)
        window.installEventFilter(self)
        training.installEventFilter(self)  # shown in training, hidden on a real device
        self.apply(window.width(), window.height())

    # ------------------------------------------------------------ size -> layout

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Resize:
            size = self.window.size()
            self.apply(size.width(), size.height())
        elif watched is self.training and event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            self._fit_width_later()
        return False

    def apply(self, width_px: int, height_px: int) -> None:
        """Fit the layout to a window of this logical size."""
        fit = Fit(compact=height_px < style.ROOMY_MIN_H_PX,
                  trend_as_tab=height_px < TREND_TAB_MAX_H_PX)
        last = self.fit
        self.fit = fit
        if last is None or fit.compact != last.compact:
            self.window.setStyleSheet(style.style_sheet(fit.compact))
            self.banners.set_font_pt(style.COMPACT_BANNER_PT if fit.compact  # type: ignore[attr-defined]
                                     else style.BANNER_PT)
            self.training.set_compact(fit.compact)  # type: ignore[attr-defined]
            self.controls.set_compact(fit.compact)  # type: ignore[attr-defined]
            self.trend.set_compact(fit.compact)  # type: ignore[attr-defined]
            for i in range(self.tabs.count()):
                page = self.tabs.widget(i)
                if hasattr(page, "set_compact"):
                    page.set_compact(fit.compact)
        if last is None or fit.trend_as_tab != last.trend_as_tab:
            self._place_trend(fit.trend_as_tab)
        self.readout.fit(height_px, fit.compact)  # type: ignore[attr-defined]
        for widget in self.also_fit:  # e.g. the dual-isotope readout
            widget.fit(height_px, fit.compact)  # type: ignore[attr-defined]
        self._fit_width_later()

    def _fit_width_later(self) -> None:
        """Decide on the control column once the layouts have taken the new sizes in (size
        hints are recomputed lazily after a style or font change)."""
        if not self._width_timer.isActive():
            self._width_timer.start()

    def _fit_width_now(self) -> None:
        self._fit_width(self.window.width())

    def _place_trend(self, as_tab: bool) -> None:
        current = self.tabs.currentWidget()
        if as_tab:
            self.column.removeWidget(self.trend)
            self.tabs.insertTab(1, self.trend, "Trend")
        else:
            index = self.tabs.indexOf(self.trend)
            if index >= 0:
                self.tabs.removeTab(index)
            self.column.insertWidget(2, self.trend, 1)
            self.trend.show()
        if current is not None and self.tabs.indexOf(current) >= 0:
            self.tabs.setCurrentWidget(current)

    def _fit_width(self, width_px: int) -> None:
        """Collapse the controls when the window cannot hold them; bring them back when it can
        (unless the user chose otherwise at this width)."""
        needed = self.centre_min_width() + self.controls_width() + 24
        if self.training.isVisibleTo(self.window):  # the map first: training is about it
            needed += max(self.training.minimumSizeHint().width(), TRAINING_MAP_PX) + 8
        too_narrow = width_px < needed
        if too_narrow and self.controls_button.isChecked():
            self._auto_collapsed = True
            self.controls_button.setChecked(False)
        elif not too_narrow and self._auto_collapsed:
            self._auto_collapsed = False
            self.controls_button.setChecked(True)

    def centre_min_width(self) -> int:
        """The narrowest the centre column may be (the readout's row and the tab bar)."""
        # from the parts (the centre's own cached hint is stale until the next layout pass)
        return max(self.readout.minimumSizeHint().width(), self.tabs.minimumSizeHint().width(),
                   520)

    def controls_width(self) -> int:
        """The control column's width (its content plus a vertical scroll bar)."""
        bar = self.controls_scroll.verticalScrollBar().sizeHint().width()
        return self.controls.minimumSizeHint().width() + bar + 2

    def _controls_toggled(self, shown: bool) -> None:
        self.controls_scroll.setVisible(shown)
        self.controls_scroll.setMinimumWidth(self.controls_width() if shown else 0)
        self.controls_button.setText(f"{CONTROLS_LABEL} {'▸' if shown else '◂'}")


def resize_to_screen(window: QWidget, width_px: int, height_px: int) -> None:
    """Open at this size, or at the screen's available size if that is smaller."""
    screen = window.screen()
    if screen is not None:
        area = screen.availableGeometry()
        if area.width() > 0 and area.height() > 0:
            width_px, height_px = min(width_px, area.width()), min(height_px, area.height())
    window.resize(width_px, height_px)
