"""Console settings persisted per user as JSON in the platform's config directory.

The directory is probe_nav.storage.paths.user_config_dir() (`PROBE_NAV_CONFIG_DIR` overrides it,
for tests and portable installs). A settings file that cannot be read, or a value of the wrong
type, falls back to the default for that value: the console always starts.

Mute is deliberately not remembered: every launch starts with the sound on, so the sound is never
off without anyone having pressed M in this session (an old file's "muted" is read and ignored).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

CONFIG_ENV = "PROBE_NAV_CONFIG_DIR"
SETTINGS_FILE = "gui.json"
NOT_PERSISTED = ("muted",)  # older versions wrote these; read without error and ignored

log = logging.getLogger(__name__)


def config_dir() -> Path:
    """Per-user config directory: $PROBE_NAV_CONFIG_DIR, else the platform's convention."""
    from probe_nav.storage.paths import user_config_dir

    return user_config_dir()


@dataclass(frozen=True, slots=True)
class GuiSettings:
    """What the console remembers between runs."""

    meter: str = "adaptive"  # 'adaptive' or a time constant in s ('0.5', '1', '2', '5')
    isotope: str = "Tc-99m"
    timed_preset_s: float = 10.0
    background_s: float = 10.0
    audio_mode: str = "pitch"  # 'pitch' | 'clicks' | 'squelch'
    volume: float = 0.7  # 0..1 (mute is not a setting: each launch starts unmuted)
    procedure: str = "sln-breast"  # probe_nav.cases.PROCEDURES: the rules the case panel applies
    scenario: str = "sln-scan"
    show_map: bool = True
    protocol: str = "probelink"
    device_url: str = ""
    trend_window_s: float = 45.0

    def updated(self, **changes: object) -> GuiSettings:
        """A copy with some values changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


def settings_path() -> Path:
    """Where the settings live."""
    return config_dir() / SETTINGS_FILE


def load_settings(path: Path | None = None) -> tuple[GuiSettings, list[str]]:
    """Settings from disk and the problems skipped (bad file, bad values); defaults if absent."""
    path = path or settings_path()
    problems: list[str] = []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return GuiSettings(), problems
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return GuiSettings(), [f"{path}: unreadable, defaults used ({exc})"]
    if not isinstance(raw, dict):
        return GuiSettings(), [f"{path}: not a JSON object, defaults used"]
    for name in NOT_PERSISTED:
        if name in raw:
            log.info("%s: %s=%r ignored: the console always starts with the sound on",
                     path, name, raw[name])
    defaults = GuiSettings()
    values: dict[str, object] = {}
    for f in fields(GuiSettings):
        if f.name not in raw:
            continue
        value, default = raw[f.name], getattr(defaults, f.name)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is type(default):
            values[f.name] = value
        else:
            expected = type(default).__name__
            problems.append(f"{path}: {f.name}={value!r} ignored (expected {expected})")
    return replace(defaults, **values), problems


def save_settings(settings: GuiSettings, path: Path | None = None) -> Path:
    """Write the settings (atomically, mode 0600: probe_nav.files.atomic_write_text)."""
    from probe_nav.files import atomic_write_text

    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(asdict(settings), indent=2, sort_keys=True)
    return atomic_write_text(path, text, overwrite=True)
