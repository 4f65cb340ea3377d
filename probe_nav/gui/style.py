"""Colours, sizes and the style sheet of the console: dark, high contrast, large touch targets.

Two densities: the full one for screens at least ROOMY_MIN_H_PX logical pixels high, and a
compact one (smaller type, 44 px touch targets) below that, e.g. 1366x768 at 100 % or any
screen at 150 % scaling; probe_nav/gui/fit.py switches between them with the window's size."""

from __future__ import annotations

TOUCH_PX = 56  # minimum height of a button (about 10 mm on a 15" 1080p panel)
COMPACT_TOUCH_PX = 44  # on small screens (at 150 % scaling still 66 physical pixels)
ROOMY_MIN_H_PX = 1000  # window heights (logical px) from which the full density is used
RATE_SHARE_OF_HEIGHT = 1 / 7.5  # the rate's em height as a share of the window's
COMPACT_RATE_SHARE_OF_HEIGHT = 1 / 8  # the least that is legible from 2 m
DEFAULT_WINDOW_H_PX = 1000
BANNER_PT = 18
COMPACT_BANNER_PT = 14
GAUGE_BAR_PX = 26
COMPACT_GAUGE_BAR_PX = 18
TREND_MIN_PX, COMPACT_TREND_MIN_PX = 160, 110
GAUGE_LABEL_PX = 15  # "1", "10", ... "100k cps" under the gauge: a normal reading size
BACKGROUND = "#101418"
PANEL = "#1b2127"
TEXT = "#e8eef2"
LIVE = "#f5f7fa"
GREY = "#5c6670"  # numbers that are not live
GREY_TEXT = "#8a96a3"  # scale labels: quiet but readable on the dark background
MUTED_TEXT = "#9fb3c8"  # secondary lines (notices, hints)
HOT = "#ff6d00"
NOT_HOT = "#1f4e5f"  # the state lamp when live and not hot: dark teal, not a dark hole
OVER = "#aa00ff"  # OVER RANGE: violet, unlike any other state
ALARM = "#d50000"  # red banners
WARNING = "#ffab00"  # amber banners
ACCENT = "#29b6f6"
REMOVE = "#ff8a65"  # table rows the decision rule marks for removal


def style_sheet(compact: bool = False) -> str:
    """The window's style sheet at the full or the compact density. No `min-width` on buttons:
    a style sheet's min-width becomes the widget's minimum width, which overrides the width
    of its text, and layouts then squeeze buttons until their labels are cut."""
    touch = COMPACT_TOUCH_PX if compact else TOUCH_PX
    base_pt, small_pt, table_pt = (12, 10, 12) if compact else (15, 12, 13)
    tab_h = 30 if compact else 44
    return f"""
QWidget {{ background: {BACKGROUND}; color: {TEXT}; font-size: {base_pt}pt; }}
QGroupBox {{ background: {PANEL}; border: 1px solid #2c343c; border-radius: 6px;
            margin-top: {small_pt + 8}px; padding: 4px; font-size: {small_pt}pt; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; color: {MUTED_TEXT}; }}
QPushButton, QComboBox, QToolButton, QLineEdit {{ min-height: {touch}px;
            background: #26303a; border: 1px solid #3a4652; border-radius: 6px;
            padding: 0 8px; }}
QPushButton:checked, QToolButton:checked {{ background: #0d47a1; border-color: {ACCENT}; }}
QPushButton:pressed {{ background: #1565c0; }}
QProgressBar {{ min-height: 20px; border: 1px solid #3a4652; border-radius: 4px;
            text-align: center; background: #20272e; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
QTableWidget {{ background: {PANEL}; gridline-color: #2c343c; font-size: {table_pt}pt; }}
QHeaderView::section {{ background: #26303a; color: {MUTED_TEXT}; font-size: {small_pt}pt;
            padding: 0 4px; }}
QSlider {{ min-height: {touch - 8}px; }}
QSlider::groove:horizontal {{ height: 10px; background: #26303a; border-radius: 5px; }}
QSlider::handle:horizontal {{ width: 36px; margin: -14px 0; background: {ACCENT};
            border-radius: 8px; }}
QTabBar::tab {{ min-height: {tab_h}px; min-width: 100px; background: #26303a;
            padding: 0 12px; }}
QTabBar::tab:selected {{ background: #0d47a1; }}
QScrollArea {{ border: none; }}
QPushButton#controls_toggle {{ min-height: {tab_h - 4}px; max-height: {tab_h - 4}px;
            font-size: {small_pt}pt; }}
"""


STYLE_SHEET = style_sheet()
