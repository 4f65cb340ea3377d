"""Where probe-nav keeps its data and configuration on each platform (overridable by environment).

PROBE_NAV_DATA_DIR / PROBE_NAV_CONFIG_DIR win; otherwise the platform's conventional per-user place:
XDG base directories on Linux, ~/Library/Application Support on macOS, %APPDATA% on Windows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "probe-nav"


def _platform_dir(xdg_variable: str, xdg_default: str) -> Path:
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / APP_DIR_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_DIR_NAME
    base = os.environ.get(xdg_variable) or str(Path.home() / xdg_default)
    return Path(base) / APP_DIR_NAME


def user_data_dir() -> Path:
    """Directory for databases and session recordings (env PROBE_NAV_DATA_DIR overrides)."""
    override = os.environ.get("PROBE_NAV_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return _platform_dir("XDG_DATA_HOME", ".local/share")


def user_config_dir() -> Path:
    """Directory for settings files (env PROBE_NAV_CONFIG_DIR overrides)."""
    override = os.environ.get("PROBE_NAV_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Preferences" / APP_DIR_NAME
    return _platform_dir("XDG_CONFIG_HOME", ".config")
