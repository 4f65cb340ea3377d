"""What the console shows, as plain values computed from a LiveSnapshot (no Qt, no maths beyond
formatting): the readout text, the gauge position, the hot indication and the banners.

A stale or lost link never shows a number: `rate_text` is a dash and `live` is False, and the
NO SIGNAL or STALE banner says why.
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass

from probe_nav.drivers.frames import FaultFlag, LinkState
from probe_nav.live import LiveSnapshot

GAUGE_MIN_CPS = 1.0
GAUGE_MAX_CPS = 1e5
NO_NUMBER = "—"


class Banner(enum.StrEnum):
    """Status banners, in order of precedence (the first is the most serious)."""

    NO_SIGNAL = "NO SIGNAL"
    STALE = "STALE"
    OVER_RANGE = "OVER RANGE"
    DEVICE_FAULT = "DEVICE FAULT"
    LOW_BATTERY = "LOW BATTERY"
    NOT_RECORDING = "NOT RECORDING"
    MUTED = "MUTED"
    NO_AUDIO = "NO AUDIO"


class ReadoutState(enum.StrEnum):
    """The one-word state of the main readout, shown as text and colour together."""

    NO_SIGNAL = "NO SIGNAL"  # link lost, connecting, stale or no frame yet: no number
    OVER_RANGE = "OVER RANGE"  # the number is not valid
    BACKGROUND_NOT_SET = "BACKGROUND NOT SET"  # gross rate only, no hot decision
    HOT = "HOT"
    NOT_HOT = "NOT HOT"


ALARM_BANNERS = frozenset({Banner.NO_SIGNAL, Banner.STALE, Banner.OVER_RANGE,
                           Banner.DEVICE_FAULT})  # red; the others are amber


@dataclass(frozen=True, slots=True)
class BannerState:
    """One banner: which, and a detail line."""

    kind: Banner
    detail: str

    @property
    def alarm(self) -> bool:
        """Red (alarm) rather than amber (warning)."""
        return self.kind in ALARM_BANNERS

    @property
    def text(self) -> str:
        """"TITLE  —  detail" with the title once: a detail that begins with the title (e.g.
        "NO AUDIO: no output device") loses that prefix; one that is only the title is dropped."""
        title, detail = self.kind.value, self.detail.strip()
        if detail.casefold().startswith(title.casefold()):
            detail = detail[len(title):].lstrip(" :—-–").strip()
        return f"{title}  —  {detail}" if detail else title


@dataclass(frozen=True, slots=True)
class DisplayState:
    """Everything the main view renders."""

    live: bool
    rate_text: str
    sd_text: str
    unit_text: str
    net_text: str
    background_text: str
    gauge_fraction: float | None  # 0..1 on a log scale, None when not live
    hot: bool
    state: ReadoutState
    banners: tuple[BannerState, ...]
    link_text: str
    battery_text: str
    device_text: str
    timed_text: str
    timed_progress: float | None
    notice: str


def format_rate(rate_cps: float) -> str:
    """A rate for a large readout: 1 decimal under 100 cps, whole numbers above."""
    if not math.isfinite(rate_cps):
        return NO_NUMBER
    if abs(rate_cps) < 100.0:
        return f"{rate_cps:.1f}"
    return f"{rate_cps:,.0f}".replace(",", " ")


def format_sd(sd_cps: float) -> str:
    """The uncertainty as '± x' with the same rounding rule as the rate."""
    return NO_NUMBER if not math.isfinite(sd_cps) else f"± {format_rate(sd_cps)}"


def gauge_fraction(rate_cps: float) -> float:
    """Position of a rate on the log-scale bar gauge (1 cps -> 0, 100 000 cps -> 1)."""
    if not rate_cps > GAUGE_MIN_CPS:
        return 0.0
    span = math.log10(GAUGE_MAX_CPS / GAUGE_MIN_CPS)
    return min(1.0, math.log10(rate_cps / GAUGE_MIN_CPS) / span)


def banners_for(snap: LiveSnapshot, audio_available: bool, audio_status: str = "", *,
                muted: bool = False, recording: bool = True) -> tuple[BannerState, ...]:
    """The banners to show, most serious first (`muted`: the user silenced the count sound;
    `recording`: the session is being saved)."""
    out: list[BannerState] = []
    if snap.link in (LinkState.DISCONNECTED, LinkState.CONNECTING):
        out.append(BannerState(Banner.NO_SIGNAL, snap.link_reason or snap.link.value))
    elif snap.link is LinkState.STALE:
        out.append(BannerState(Banner.STALE, snap.link_reason or "no frames arriving"))
    elif snap.reading is None:
        out.append(BannerState(Banner.NO_SIGNAL, "waiting for the first frame"))
    if snap.over_range:
        out.append(BannerState(Banner.OVER_RANGE, "count rate beyond the probe's range: "
                               "move away; the number is not valid"))
    hard = snap.faults & (FaultFlag.HV_FAULT | FaultFlag.INTERNAL | FaultFlag.TEMPERATURE)
    if hard and snap.link is LinkState.CONNECTED:
        names = ", ".join(f.name.lower().replace("_", " ") for f in FaultFlag if f and f in hard)
        out.append(BannerState(Banner.DEVICE_FAULT, names))
    if snap.battery_low:
        pct = f"{snap.battery_pct} %" if snap.battery_pct is not None else "low"
        out.append(BannerState(Banner.LOW_BATTERY, f"battery {pct}: change it now"))
    if not recording:
        out.append(BannerState(Banner.NOT_RECORDING, "this session is not being saved"))
    if muted:
        out.append(BannerState(Banner.MUTED, "count-rate sound off (M: sound on); alarms still "
                               "sound"))
    if not audio_available:
        out.append(BannerState(Banner.NO_AUDIO, audio_status or "no sound output"))
    return tuple(out)


def _timed_text(snap: LiveSnapshot) -> str:
    timed = snap.timed
    if timed is None:
        return ""
    if snap.timed_progress is not None:
        return f"timed count {timed.live_s:.1f} / {snap.timed_preset_s:g} s: {timed.counts} counts"
    gross = (f"{timed.live_s:.1f} s: {timed.counts} counts, {format_rate(timed.rate_cps)} "
             f"{format_sd(timed.rate_sd_cps)} cps")
    if not timed.background_cps > 0.0 and snap.background is None:  # counted with none set
        return f"{gross} (gross: background not set)"
    sig = "significant" if timed.significant else "not significant"
    return f"{gross}, net {format_rate(timed.net_cps)} cps ({sig})"


def _background_text(snap: LiveSnapshot, now_unix_s: float | None) -> str:
    """The background in use with how and how long ago it was set, or how to set one."""
    if snap.background_progress is not None:
        return f"measuring background… {100 * snap.background_progress:.0f} %"
    bg, entry = snap.background, snap.background_entry
    if bg is None:
        return "background not set: B over normal tissue to measure it"
    text = f"background {format_rate(bg.rate_cps)} {format_sd(bg.sd_cps)} cps"
    if entry is not None:
        when = now_unix_s if now_unix_s is not None else time.time()
        text += f" · {entry.describe(when)}"
    return text


def readout_state(snap: LiveSnapshot) -> ReadoutState:
    """HOT / NOT HOT only when the link is live, the number valid and a background was set."""
    if not snap.live:
        return ReadoutState.NO_SIGNAL
    if snap.over_range:
        return ReadoutState.OVER_RANGE
    if snap.background is None or snap.reading is None:
        return ReadoutState.BACKGROUND_NOT_SET
    return ReadoutState.HOT if snap.reading.hot else ReadoutState.NOT_HOT


def display_state(snap: LiveSnapshot, audio_available: bool = True,
                  audio_status: str = "", *, muted: bool = False, recording: bool = True,
                  now_unix_s: float | None = None) -> DisplayState:
    """The display state for one snapshot (`now_unix_s`: the host clock, for the background's
    age; time.time() when not given)."""
    reading = snap.reading if snap.live else None
    if snap.over_range and reading is not None:
        rate_text, sd_text = "OVER", ""
    elif reading is not None:
        rate_text, sd_text = format_rate(reading.rate_cps), format_sd(reading.rate_sd_cps)
    else:
        rate_text, sd_text = NO_NUMBER, ""
    bg = snap.background
    background_text = _background_text(snap, now_unix_s)
    if reading is not None and bg is not None and not snap.over_range:
        net_text = (f"net {'+' if reading.net_cps >= 0 else ''}{format_rate(reading.net_cps)} "
                    f"{format_sd(reading.net_sd_cps)} cps  (z {reading.z:.1f})")
    else:
        net_text = f"net {NO_NUMBER}"
    info = snap.info
    device_text = (f"{info.model} #{info.serial} ({info.protocol})" if info is not None
                   else "device: identifying…")
    stats = snap.stats
    link_text = (f"link {snap.link.value} · frames {stats.frames} · lost {stats.dropped_frames}"
                 f" · bad {stats.bad_frames}")
    battery_text = "" if snap.battery_pct is None else f"battery {snap.battery_pct} %"
    return DisplayState(
        live=reading is not None,
        rate_text=rate_text,
        sd_text=sd_text,
        unit_text="cps",
        net_text=net_text,
        background_text=background_text,
        gauge_fraction=None if reading is None else (
            1.0 if snap.over_range else gauge_fraction(reading.rate_cps)),
        hot=readout_state(snap) is ReadoutState.HOT,
        state=readout_state(snap),
        banners=banners_for(snap, audio_available, audio_status, muted=muted,
                            recording=recording),
        link_text=link_text,
        battery_text=battery_text,
        device_text=device_text,
        timed_text=_timed_text(snap),
        timed_progress=snap.timed_progress,
        notice=snap.notice,
    )
