"""The main readout: large rate with unit and uncertainty, net rate, bar gauge, hot lamp, and
the banner bar. Widgets render a DisplayState and nothing else."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from probe_nav.gui import style
from probe_nav.gui.display_state import Banner, BannerState, DisplayState


class GaugeBar(QWidget):
    """A horizontal log-scale bar (1 cps .. 100 000 cps); grey and empty when not live."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fraction: float | None = None
        self.hot = False
        self.setMinimumHeight(44)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def show_value(self, fraction: float | None, hot: bool) -> None:
        """Set the bar (None: not live) and repaint if it changed."""
        if (fraction, hot) != (self.fraction, self.hot):
            self.fraction, self.hot = fraction, hot
            self.update()

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(2, 6, -2, -14)
        painter.fillRect(rect, QColor("#20272e"))
        if self.fraction is not None:
            colour = QColor(style.HOT if self.hot else style.ACCENT)
            painter.fillRect(QRectF(rect.left(), rect.top(), rect.width() * self.fraction,
                                    rect.height()), colour)
        painter.setPen(QColor(style.GREY))
        small = QFont(self.font())
        small.setPointSize(8)
        painter.setFont(small)
        for decade in range(6):  # tick marks at 1, 10, ... 100 000 cps
            x = rect.left() + rect.width() * decade / 5
            painter.drawLine(int(x), int(rect.bottom()), int(x), int(rect.bottom() + 4))
            painter.drawText(int(x) + 2, int(rect.bottom() + 13), f"1e{decade}")
        painter.end()


class BannerBar(QWidget):
    """One label per banner kind, shown only while that banner is active; red or amber."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.labels: dict[Banner, QLabel] = {}
        for kind in Banner:
            label = QLabel(kind.value, self)
            label.setObjectName(f"banner_{kind.name.lower()}")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setMinimumHeight(52)
            label.hide()
            layout.addWidget(label)
            self.labels[kind] = label
        self._shown: tuple[BannerState, ...] = ()

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
            label.setStyleSheet(f"background: {colour}; color: {fg}; font-size: 22pt; "
                                "font-weight: bold; border-radius: 4px;")
            label.setText(f"{kind.value}  —  {banner.detail}" if banner.detail else kind.value)
            label.show()

    def active(self) -> list[Banner]:
        """The kinds shown now (for tests and screenshots)."""
        return [b.kind for b in self._shown]


class ReadoutPanel(QWidget):
    """Rate ± sd with unit, net rate over background, gauge, hot lamp, timed-count line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rate_label = QLabel("—", self)
        self.rate_label.setObjectName("rate")
        font = QFont(self.font())
        font.setPointSize(style.READOUT_PT)
        font.setBold(True)
        self.rate_label.setFont(font)
        self.rate_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.rate_label.setMinimumWidth(420)
        self.sd_label = QLabel("", self)
        self.unit_label = QLabel("cps", self)
        for small in (self.sd_label, self.unit_label):
            small.setStyleSheet("font-size: 28pt;")
        self.hot_lamp = QLabel("HOT", self)
        self.hot_lamp.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hot_lamp.setMinimumSize(140, 90)
        self.net_label = QLabel("", self)
        self.net_label.setStyleSheet("font-size: 22pt;")
        self.background_label = QLabel("", self)
        self.gauge = GaugeBar(self)
        self.timed_label = QLabel("", self)
        self.notice_label = QLabel("", self)
        self.notice_label.setStyleSheet("color: #9fb3c8; font-size: 12pt;")
        for label in (self.net_label, self.background_label, self.timed_label,
                      self.notice_label):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.sd_label.setMinimumWidth(160)

        top = QHBoxLayout()
        top.addWidget(self.rate_label, 1)
        units = QVBoxLayout()
        units.addWidget(self.unit_label)
        units.addWidget(self.sd_label)
        top.addLayout(units)
        top.addWidget(self.hot_lamp)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.net_label)
        layout.addWidget(self.background_label)
        layout.addWidget(self.gauge)
        layout.addWidget(self.timed_label)
        layout.addWidget(self.notice_label)
        self._last: DisplayState | None = None
        self._set_lamp(False, False)

    def _set_lamp(self, hot: bool, live: bool) -> None:
        if hot:
            css = f"background: {style.HOT}; color: black;"
        else:
            css = f"background: #20272e; color: {style.GREY if not live else '#3a4652'};"
        self.hot_lamp.setStyleSheet(css + " font-size: 30pt; font-weight: bold; "
                                    "border-radius: 12px;")

    def show_state(self, ds: DisplayState) -> None:
        """Render one DisplayState (only what changed is touched)."""
        last = self._last
        if last is None or (ds.rate_text, ds.live) != (last.rate_text, last.live):
            colour = style.LIVE if ds.live else style.GREY
            self.rate_label.setStyleSheet(f"color: {colour}; font-size: {style.READOUT_PT}pt; "
                                          "font-weight: bold;")
            self.rate_label.setText(ds.rate_text)
        if last is None or ds.live != last.live:
            colour = style.TEXT if ds.live else style.GREY
            for label in (self.sd_label, self.unit_label, self.net_label):
                label.setStyleSheet(f"color: {colour}; font-size: "
                                    f"{'22' if label is self.net_label else '28'}pt;")
        if last is None or (ds.hot, ds.live) != (last.hot, last.live):
            self._set_lamp(ds.hot, ds.live)
        for label, text in ((self.sd_label, ds.sd_text), (self.net_label, ds.net_text),
                            (self.background_label, ds.background_text),
                            (self.timed_label, ds.timed_text), (self.notice_label, ds.notice)):
            if label.text() != text:
                label.setText(text)
        self.gauge.show_value(ds.gauge_fraction, ds.hot)
        self._last = ds
