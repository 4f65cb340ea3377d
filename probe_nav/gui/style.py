"""Colours, sizes and the style sheet of the console: dark, high contrast, large touch targets."""

from __future__ import annotations

TOUCH_PX = 56  # minimum height of a button (about 10 mm on a 15" 1080p panel)
READOUT_PT = 84  # the count-rate figure, readable from 2 m
BACKGROUND = "#101418"
PANEL = "#1b2127"
TEXT = "#e8eef2"
LIVE = "#f5f7fa"
GREY = "#5c6670"  # numbers that are not live
HOT = "#ff6d00"
ALARM = "#d50000"  # red banners
WARNING = "#ffab00"  # amber banners
ACCENT = "#29b6f6"
REMOVE = "#ff8a65"  # table rows the decision rule marks for removal

STYLE_SHEET = f"""
QWidget {{ background: {BACKGROUND}; color: {TEXT}; font-size: 15pt; }}
QGroupBox {{ background: {PANEL}; border: 1px solid #2c343c; border-radius: 6px;
            margin-top: 18px; padding: 6px; font-size: 12pt; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; color: #9fb3c8; }}
QPushButton, QComboBox, QToolButton {{ min-height: {TOUCH_PX}px; min-width: {TOUCH_PX}px;
            background: #26303a; border: 1px solid #3a4652; border-radius: 6px;
            padding: 0 10px; }}
QPushButton:checked, QToolButton:checked {{ background: #0d47a1; border-color: {ACCENT}; }}
QPushButton:pressed {{ background: #1565c0; }}
QProgressBar {{ min-height: 24px; border: 1px solid #3a4652; border-radius: 4px;
            text-align: center; background: #20272e; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
QTableWidget {{ background: {PANEL}; gridline-color: #2c343c; font-size: 13pt; }}
QHeaderView::section {{ background: #26303a; color: #9fb3c8; font-size: 11pt; }}
QSlider::groove:horizontal {{ height: 10px; background: #26303a; border-radius: 5px; }}
QSlider::handle:horizontal {{ width: 36px; margin: -14px 0; background: {ACCENT};
            border-radius: 8px; }}
QTabBar::tab {{ min-height: 44px; min-width: 120px; background: #26303a; padding: 0 12px; }}
QTabBar::tab:selected {{ background: #0d47a1; }}
"""
