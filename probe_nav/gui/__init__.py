"""The surgeon's console (PySide6 + pyqtgraph): main view, controls, case panel, training mode.

Only `window`, `widgets` and the modules they import need Qt; `settings` and `display_state`
are Qt-free so they can be tested and reused without a display (docs/gui.md).
"""
