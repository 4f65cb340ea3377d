"""The main readout: large rate with unit and uncertainty, the readout state (HOT, NOT HOT, NO
SIGNAL, OVER RANGE, BACKGROUND NOT SET) as text on its own colour, net rate, bar gauge, and the
banner bar. Widgets render a DisplayState and nothing else.

Painting is cheap by construction: fonts, pens and colours are built once, a label is touched
only when its text changed, and a style sheet is set only when the colour or size changed (a
style sheet re-polishes the widget)."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from probe_nav.gui import style
from probe_nav.gui.display_state import Banner, BannerState, DisplayState, ReadoutState

GAUGE_LABELS = ("1", "10", "100", "1k", "10k", "100k")  # cps at the decades of the gauge
SECONDARY_EVERY = 3  # ± sd, net, timed count and gauge follow every 3rd refresh (10 Hz)
RATE_SAMPLE = "88 888"  # the widest rate (to 99 999 cps) the readout holds without moving its unit
# state -> (background, text colour): each state its own colour, and the text says it
STATE_COLOURS: dict[ReadoutState, tuple[str, str]] = {
    ReadoutState.HOT: (style.HOT, "black"),
    ReadoutState.NOT_HOT: (style.NOT_HOT, style.TEXT),
    ReadoutState.BACKGROUND_NOT_SET: (style.WARNING, "black"),
    ReadoutState.NO_SIGNAL: (style.ALARM, "white"),
    ReadoutState.OVER_RANGE: (style.OVER, "white"),
}


class WrapLabel(QLabel):
    """A word-wrapping label that asks for one line as its minimum, not the few-words-wide
    block QLabel assumes: layouts give it its real height for the width it gets (height for
    width), and a long text takes a second line instead of widening the window."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def minimumSizeHint(self) -> QSize:
        margins = self.contentsMargins()
        return QSize(0, self.fontMetrics().height() + margins.top() + margins.bottom())


class GaugeBar(QWidget):
    """A horizontal log-scale bar (1 cps .. 100 000 cps) with its decades labelled in plain
    numbers; grey and empty when not live."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fraction: float | None = None
        self.hot = False
        self._font = QFont(self.font())
        self._font.setPixelSize(style.GAUGE_LABEL_PX)
        self._metrics = QFontMetrics(self._font)
        self._track = QColor("#20272e")
        self._background = QColor(style.BACKGROUND)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._fills = {True: QColor(style.HOT), False: QColor(style.ACCENT)}
        self._tick_pen = QPen(QColor(style.GREY_TEXT), 1)
        self._align = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._bar_px = 0
        self.set_bar_px(style.GAUGE_BAR_PX)

    def set_bar_px(self, bar_px: int) -> None:
        """Height of the bar itself (the labels below keep their size)."""
        if bar_px != self._bar_px:
            self._bar_px = bar_px
            self.setFixedHeight(bar_px + self._metrics.height() + 10)

    def show_value(self, fraction: float | None, hot: bool) -> None:
        """Set the bar (None: not live); repaint only if the bar moved by a pixel or changed
        colour (the rate's last digit changes at every refresh, the bar seldom)."""
        width = self.width()
        shown = None if fraction is None else round(fraction * width)
        drawn = None if self.fraction is None else round(self.fraction * width)
        changed = (shown, hot) != (drawn, self.hot)
        self.fraction, self.hot = fraction, hot
        if changed:
            self.update()

    def resizeEvent(self, event: object) -> None:
        self._layout_labels()
        super().resizeEvent(event)  # type: ignore[arg-type]

    def _layout_labels(self) -> None:
        """Bar, tick and label geometry, computed once per size (not per paint)."""
        label_h = self._metrics.height()
        self._bar = QRectF(self.rect()).adjusted(2, 2, -2, -(label_h + 6))
        bar = self._bar
        last = len(GAUGE_LABELS) - 1
        self._ticks: list[tuple[int, int, int]] = []
        self._labels: list[tuple[QRectF, str]] = []
        for decade, label in enumerate(GAUGE_LABELS):
            x = bar.left() + bar.width() * decade / last
            text = label if decade < last else f"{label} cps"
            width = self._metrics.horizontalAdvance(text) + 2
            # the first label starts at its tick, the last ends at it, the others are centred
            left = x + 3 if decade == 0 else x - 3 - width if decade == last else x - width / 2
            self._ticks.append((int(x), int(bar.bottom()), int(bar.bottom() + 4)))
            self._labels.append((QRectF(left, bar.bottom() + 5, width, label_h), text))

    def label_rects(self) -> list[QRectF]:
        """Where the decade labels are drawn (tests: they never overlap)."""
        self._layout_labels()
        return [rect for rect, _ in self._labels]

    def paintEvent(self, event: object) -> None:
        if not hasattr(self, "_bar"):
            self._layout_labels()
        painter = QPainter(self)
        bar = self._bar
        painter.fillRect(self.rect(), self._background)  # opaque: nothing under it is redrawn
        painter.fillRect(bar, self._track)
        if self.fraction is not None:
            painter.fillRect(QRectF(bar.left(), bar.top(), bar.width() * self.fraction,
                                    bar.height()), self._fills[self.hot])
        painter.setPen(self._tick_pen)
        painter.setFont(self._font)
        for (x, y0, y1), (rect, text) in zip(self._ticks, self._labels, strict=True):
            painter.drawLine(x, y0, x, y1)
            painter.drawText(rect, self._align, text)
        painter.end()


class BannerBar(QWidget):
    """One label per banner kind, shown only while that banner is active; red or amber. Long
    texts wrap: a banner never widens the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.labels: dict[Banner, QLabel] = {}
        for kind in Banner:
            label = WrapLabel(kind.value, self)
            label.setObjectName(f"banner_{kind.name.lower()}")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.hide()
            layout.addWidget(label)
            self.labels[kind] = label
        self._shown: tuple[BannerState, ...] = ()
        self._font_pt = style.BANNER_PT

    def set_font_pt(self, points: int) -> None:
        """Banner text size (the window's fitter makes it smaller on small screens)."""
        if points != self._font_pt:
            self._font_pt = points
            shown, self._shown = self._shown, ()
            self.show_banners(shown)

    def show_banners(self, banners: tuple[BannerState, ...]) -> None:
        """Show exactly these banners."""
        if banners == self._shown:
            return
        self._shown = banners
        active = {b.kind: b for b in banners}
        for kind, label in self.labels.items():
            banner = active.get(kind)
            if banner is None:
                label.hide()
                continue
            colour = style.ALARM if banner.alarm else style.WARNING
            fg = "white" if banner.alarm else "black"
            label.setStyleSheet(f"background: {colour}; color: {fg}; font-size: "
                                f"{self._font_pt}pt; font-weight: bold; border-radius: 4px; "
                                "padding: 4px 8px;")
            label.setText(banner.text)
            label.show()

    def active(self) -> list[Banner]:
        """The kinds shown now (for tests and screenshots)."""
        return [b.kind for b in self._shown]


class ReadoutPanel(QWidget):
    """State lamp (text on colour), rate with unit and ± sd, net rate and background, gauge,
    timed-count line. `fit(window_height_px)` sizes the rate to the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state_lamp = QLabel("", self)
        self.state_lamp.setObjectName("state")
        self.state_lamp.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.state_lamp.setWordWrap(True)
        self.hot_lamp = self.state_lamp  # the former name: HOT is one of its states
        self.rate_label = QLabel("—", self)
        self.rate_label.setObjectName("rate")
        self.rate_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.unit_label = QLabel("cps", self)
        self.sd_label = QLabel("", self)
        self.net_label = WrapLabel("", self)
        self.background_label = WrapLabel("", self)
        self.gauge = GaugeBar(self)
        self.timed_label = WrapLabel("", self)
        self.notice_label = WrapLabel("", self)
        self.notice_label.setStyleSheet(f"color: {style.MUTED_TEXT}; font-size: 12pt;")
        for label in (self.unit_label, self.sd_label):
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        # The labels change at every refresh. The panel paints all of its own background, so
        # repainting a label stops here instead of repainting every panel and scroll area up
        # to the window under it (half the console's painting otherwise).
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._background = QColor(style.BACKGROUND)

        top = QHBoxLayout()
        top.setSpacing(12)
        top.addWidget(self.state_lamp)
        top.addStretch(1)
        top.addWidget(self.rate_label)
        units = QVBoxLayout()
        units.setSpacing(0)
        units.addWidget(self.unit_label)
        units.addWidget(self.sd_label)
        top.addLayout(units)
        lines = QHBoxLayout()
        lines.addWidget(self.net_label, 3)
        lines.addWidget(self.background_label, 2)
        timed = QHBoxLayout()
        timed.addWidget(self.timed_label, 3)
        timed.addWidget(self.notice_label, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(lines)
        layout.addWidget(self.gauge)
        layout.addLayout(timed)
        self._last: DisplayState | None = None
        self._refreshes = 0
        self._rate_px = 0
        self._live = False
        self._state: ReadoutState | None = None
        self.fit(style.DEFAULT_WINDOW_H_PX)
        self._show_lamp(ReadoutState.NO_SIGNAL)

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self._background)
        painter.end()

    # ------------------------------------------------------------ size

    def fit(self, window_height_px: int, compact: bool = False) -> None:
        """Size the rate (at least 1/8 of the window height, em), its unit and the lamp."""
        share = style.COMPACT_RATE_SHARE_OF_HEIGHT if compact else style.RATE_SHARE_OF_HEIGHT
        rate_px = max(24, math.ceil(window_height_px * share))
        self.gauge.set_bar_px(style.COMPACT_GAUGE_BAR_PX if compact else style.GAUGE_BAR_PX)
        if rate_px == self._rate_px:
            return
        self._rate_px = rate_px
        unit_px = max(14, rate_px * 3 // 10)
        lamp_px = max(14, rate_px * 22 // 100)
        self._line_px = max(14, rate_px // 5)
        self._unit_px, self._lamp_px = unit_px, lamp_px
        rate_font = QFont(self.font())
        rate_font.setPixelSize(rate_px)
        rate_font.setBold(True)
        # Fixed sizes: a label of fixed size does not ask its layout to recompute when its text
        # changes (30 times a second for the rate), so a new number is a repaint, not a relayout.
        self._rate_metrics = QFontMetrics(rate_font)
        self.rate_label.setFixedSize(self._rate_metrics.horizontalAdvance(RATE_SAMPLE) + 8,
                                     self._rate_metrics.height())
        unit_font = QFont(self.font())
        unit_font.setPixelSize(unit_px)
        unit_metrics = QFontMetrics(unit_font)
        for label in (self.unit_label, self.sd_label):
            label.setFixedSize(unit_metrics.horizontalAdvance("± 88 888") + 6,
                               unit_metrics.height())
        lamp_font = QFont(self.font())
        lamp_font.setPixelSize(lamp_px)
        lamp_font.setBold(True)
        metrics = QFontMetrics(lamp_font)
        words = ("BACKGROUND", "NOT SET", "OVER RANGE", "NO SIGNAL", "NOT HOT")
        self.state_lamp.setFixedWidth(max(metrics.horizontalAdvance(w) for w in words) + 24)
        self.state_lamp.setMinimumHeight(int(rate_px * 1.2))
        self._style_rate()
        self._style_small()
        if self._state is not None:
            state, self._state = self._state, None
            self._show_lamp(state)

    def _style_rate(self) -> None:
        colour = style.LIVE if self._live else style.GREY
        self.rate_label.setStyleSheet(f"color: {colour}; font-size: {self._rate_px}px; "
                                      "font-weight: bold;")

    def _style_small(self) -> None:
        colour = style.TEXT if self._live else style.GREY
        for label, px in ((self.unit_label, self._unit_px), (self.sd_label, self._unit_px),
                          (self.net_label, self._line_px)):
            label.setStyleSheet(f"color: {colour}; font-size: {px}px;")
        self.background_label.setStyleSheet(f"font-size: {max(13, self._line_px * 4 // 5)}px;")

    def _show_lamp(self, state: ReadoutState) -> None:
        if state is self._state:
            return
        self._state = state
        bg, fg = STATE_COLOURS[state]
        self.state_lamp.setStyleSheet(f"background: {bg}; color: {fg}; font-size: "
                                      f"{self._lamp_px}px; font-weight: bold; "
                                      "border-radius: 10px; padding: 4px;")
        self.state_lamp.setText(state.value)

    # ------------------------------------------------------------ state

    def show_state(self, ds: DisplayState) -> None:
        """Render one DisplayState (only what changed is touched). The rate, the state, the
        background line and notices follow every refresh; the gauge and the lines that change
        with every reading (± sd, net, timed count) every SECONDARY_EVERY-th, and at once when
        liveness or the state changes (the gauge whenever it must empty), so nothing outlives
        the state it belongs to."""
        changed = ds.live != self._live or ds.state is not self._state
        if ds.live != self._live:
            self._live = ds.live
            self._style_rate()
            self._style_small()
        self._show_lamp(ds.state)
        if self.rate_label.text() != ds.rate_text:
            need = self._rate_metrics.horizontalAdvance(ds.rate_text) + 8
            if need > self.rate_label.width():  # beyond 99 999 cps: widen, never cut a digit
                self.rate_label.setFixedWidth(need)
            self.rate_label.setText(ds.rate_text)
        self._refreshes += 1
        if changed or ds.gauge_fraction is None or self._refreshes % SECONDARY_EVERY == 0:
            self.gauge.show_value(ds.gauge_fraction, ds.hot)
        lines: tuple[tuple[QLabel, str], ...] = (
            (self.unit_label, ds.unit_text), (self.background_label, ds.background_text),
            (self.notice_label, ds.notice))  # change seldom: at once
        if changed or self._refreshes % SECONDARY_EVERY == 0:  # change with every reading
            lines += ((self.sd_label, ds.sd_text), (self.net_label, ds.net_text),
                      (self.timed_label, ds.timed_text))
        for label, text in lines:
            if label.text() != text:
                label.setText(text)
        self._last = ds
