"""The background a session uses, as a deliberate act with a provenance: who set it (measured with
B, entered, carried over from earlier in this case, or "the first S s are background"), when, and
for which energy window. `BackgroundBook` keeps one per window for one case, so a background
survives reconnects, a restart of the console and a switch of window and back (a JSON round trip).

No background is ever taken silently: without one the readout says BACKGROUND NOT SET and makes no
hot decision (probe_nav.core.pipeline).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace
from typing import Any

from probe_nav.core.background import Background


class BackgroundSource(enum.StrEnum):
    """How a background came to be used."""

    MEASURED = "measured"  # B: a timed count the user started over normal tissue
    ENTERED = "entered"  # typed in (--background-cps, the console's entry)
    CARRIED = "carried over"  # from this case, measured or entered earlier (restart, reconnect)
    FIRST_SECONDS = "first seconds"  # --background-s S: the user says the first S s are background


@dataclass(frozen=True, slots=True)
class SetBackground:
    """A background in use: the value, how and when it was set (host clock, unix s) and for which
    energy window (a nuclide preset name, or "" when the device has one window)."""

    background: Background
    source: BackgroundSource
    set_unix_s: float
    window: str = ""

    def age_s(self, now_unix_s: float) -> float:
        """Seconds since it was set (0 if the clock went back)."""
        return max(0.0, now_unix_s - self.set_unix_s)

    def describe(self, now_unix_s: float) -> str:
        """'measured 4 min ago', 'entered 20 s ago', 'carried over (measured 2 h ago)'."""
        return f"{self.source.value} {format_age(self.age_s(now_unix_s))} ago"

    def carried(self) -> SetBackground:
        """The same background, now carried over (its time of setting is kept, so its age is
        the age of the measurement, not of the carry)."""
        return replace(self, source=BackgroundSource.CARRIED)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON)."""
        b = self.background
        return {"rate_cps": b.rate_cps, "sd_cps": b.sd_cps, "counts": b.counts,
                "live_s": b.live_s, "source": self.source.value, "set_unix_s": self.set_unix_s,
                "window": self.window}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SetBackground:
        """From `to_dict` output; ValueError/KeyError/TypeError for anything else."""
        set_unix_s = float(data["set_unix_s"])
        if not math.isfinite(set_unix_s):
            raise ValueError(f"set_unix_s must be finite, got {set_unix_s!r}")
        background = Background(float(data["rate_cps"]), float(data["sd_cps"]),
                                int(data.get("counts", 0)), float(data.get("live_s", 0.0)))
        return cls(background, BackgroundSource(data["source"]), set_unix_s,
                   str(data.get("window", "")))


def format_age(age_s: float) -> str:
    """An age a surgeon reads at a glance: '12 s', '4 min', '2 h 05 min'."""
    if age_s < 60.0:
        return f"{age_s:.0f} s"
    minutes = int(age_s // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


@dataclass(slots=True)
class BackgroundBook:
    """The backgrounds of one case, one per energy window (the latest set wins), measured with
    one probe or simulated patient (`source`: never carried to another)."""

    case_id: str | None = None
    entries: dict[str, SetBackground] = field(default_factory=dict)
    source: str = ""

    def get(self, window: str) -> SetBackground | None:
        """The background set for this window in this case, if any."""
        return self.entries.get(window)

    def put(self, entry: SetBackground) -> None:
        """Keep this background for its window (replacing the previous one)."""
        self.entries[entry.window] = entry

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON)."""
        return {"case_id": self.case_id, "source": self.source,
                "backgrounds": [e.to_dict() for e in self.entries.values()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackgroundBook:
        """From `to_dict` output; ValueError/KeyError/TypeError for anything else."""
        case_id = data.get("case_id")
        if case_id is not None and not isinstance(case_id, str):
            raise TypeError(f"case_id must be a string, got {case_id!r}")
        book = cls(case_id, source=str(data.get("source", "")))
        for item in data.get("backgrounds", []):
            book.put(SetBackground.from_dict(item))
        return book
