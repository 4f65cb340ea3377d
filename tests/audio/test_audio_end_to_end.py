"""The whole chain, heard for real: `sim serve` on a pty -> ProbeLink driver -> Processor ->
AudioFeedback -> QtAudioOutput -> PulseAudio null sink, recorded from the sink's monitor.

The simulated probe (sln-scan's sources at twice real time) rests over background, then moves onto
a 15 kBq node: the recorded tone's pitch is the pitch of the rate the monitor showed, and rises.
Then the device is unplugged: the count tone stops at once and the NO SIGNAL alarm pattern is
heard. Skipped without PulseAudio, except under CI=true.

The timeline is in device time and the monitor joins whenever its interpreter has started (1-3 s
of device time, more under load), so the background rest is long (8 s) and the pitch is checked
against what the monitor itself reported (`tone_hz` with `device_t_s`), not against a rate
assumed from the scenario.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from probe_nav.audio.alarms import NO_SIGNAL, PATTERNS
from probe_nav.simulator.scenario import builtin_dir
from tests.audio.conftest import FS, SINK_DESCRIPTION, band_energy, dominant_hz
from tests.conftest import ROOT, cli

pytestmark = pytest.mark.slow
SPEED = 2.0
F0 = PATTERNS[NO_SIGNAL].fundamental_hz
WIN = FS // 20  # 50 ms analysis windows
# Device time (s): over background until REST_S, on the node from NODE_S, unplugged at UNPLUG_S.
REST_S, NODE_S, UNPLUG_S = 8.0, 8.5, 12.0
SETTLE_S = 1.5  # the adaptive meter has followed a start or a step by then (device time)
GUARD_S = 0.4  # device time left out at the ends of a phase: the alignment's uncertainty
# The monitor's run is counted from its own start, after the device's: so it lasts at least this
# long after the unplug, which covers the alarm's first 1.6 s.
MONITOR_S = UNPLUG_S / SPEED + 2.3
# The pitch estimated from a 50 ms window is the synthesiser's pitch within a small fraction of the
# 20 Hz bin, and the synthesiser glides between successive targets, never beyond them. So the
# median heard pitch of a phase lies within the range of the targets the monitor reported for that
# phase, up to this margin (it covers the targets being sampled only every 0.1 s).
PITCH_MARGIN = 0.02


def scenario_file(tmp_path) -> str:
    """sln-scan's probe and sources, on a path that rests over background, then goes onto the
    sentinel node and stays. The node is set to 10 kBq so that it reads ~28 cps: its count tone
    (~460 Hz) stays clear of the NO SIGNAL alarm's 523 Hz fundamental that the test listens for."""
    text = (builtin_dir() / "sln-scan.toml").read_text()
    assert "activity_mbq = 0.015" in text
    text = text.replace("activity_mbq = 0.015", "activity_mbq = 0.010", 1)
    text = text[:text.index("[path]")] + f"""[path]
waypoints = [
  {{ position_mm = [-80.0, 0.0, 0.0], dwell_s = {REST_S} }},
  {{ position_mm = [0.0, 0.0, 0.0], travel_s = {NODE_S - REST_S}, dwell_s = 100.0 }},
]
"""
    path = tmp_path / "sln-rest-then-node.toml"
    path.write_text(text)
    return str(path)


def classify(x: np.ndarray) -> list[tuple[str, float]]:
    """Per 50 ms window: ('silent'|'tone'|'alarm', dominant Hz).

    An alarm window has the NO SIGNAL fundamental dominant and strong harmonics. Harmonics alone
    are not enough: the hot cue's two notes (C6, G6) are exactly the alarm's 2nd and 3rd
    harmonics (of C5), and it may sound over the count tone just before the unplug, whenever the
    detector happens to decide "hot"."""
    out = []
    for i in range(0, x.size - WIN, WIN):
        w = x[i:i + WIN]
        if np.sqrt(np.mean(w * w)) < 0.01:
            out.append(("silent", 0.0))
            continue
        total = band_energy(w, 50.0, FS / 2)
        harmonics = sum(band_energy(w, h * F0 * 0.96, h * F0 * 1.04) for h in (2, 3, 4))
        hz = dominant_hz(w)
        alarm = harmonics > 0.2 * total and abs(hz - F0) < 0.03 * F0
        out.append(("alarm" if alarm else "tone", hz))
    return out


def target_range(snaps: list[dict], lo_s: float, hi_s: float) -> tuple[float, float]:
    """Lowest and highest pitch the monitor reported between two device times."""
    hz = [s["tone_hz"] for s in snaps if s["tone_hz"] is not None and s["link"] == "connected"
          and lo_s <= s["device_t_s"] < hi_s]
    assert len(hz) >= 5, f"the monitor reported {len(hz)} pitches in {lo_s:g}-{hi_s:g} s"
    return min(hz), max(hz)


def heard_median(tone: list[tuple[float, float]], lo_s: float, hi_s: float) -> float:
    """Median pitch of the tone windows heard between two device times."""
    hz = [f for t, f in tone if lo_s <= t < hi_s]
    assert len(hz) >= 10, f"{len(hz)} tone windows heard in {lo_s:g}-{hi_s:g} s"
    return float(np.median(hz))


def run_monitor(serve, tmp_path, attempt: int) -> tuple[list[dict], float]:
    """Serve the scenario and run the audible monitor on it; its snapshots and the device time
    at which it joined."""
    link = str(tmp_path / f"ttyPROBE{attempt}")
    server = serve("--scenario", scenario_file(tmp_path), "--link-path", link, "--seed", "4",
                   "--speed", str(SPEED), "--faults", f"unplug@{UNPLUG_S}+4")
    monitor = subprocess.run(
        cli("monitor", "--device", link, "--audio", "--audio-device", SINK_DESCRIPTION,
            "--json", "--interval", "0.1", "--duration", str(MONITOR_S)),
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    server.stop()
    assert monitor.returncode == 0, monitor.stderr
    snaps = [json.loads(line) for line in monitor.stdout.splitlines()]
    joined = [s["device_t_s"] for s in snaps if s["device_t_s"] is not None]
    assert joined, "the monitor never heard the device"
    return snaps, min(joined)


# The latest join that leaves a measurable background phase: SETTLE_S to settle, then 1 s of
# device time (10 analysis windows at twice real time) before REST_S - GUARD_S.
LATEST_JOIN_S = REST_S - GUARD_S - SETTLE_S - 1.1
ATTEMPTS = 4


def test_tone_rises_on_the_node_and_the_alarm_sounds_when_unplugged(serve, recorder, tmp_path):
    # The device's timeline runs from its own start; an interpreter start-up slowed by a loaded
    # machine can join (or its sound output start) after the background phase: such a run says
    # nothing about the sound and is played again on a fresh device (the sink recording restarts
    # with it). A starved process
    # can also let the sink run dry (an underrun: a gap that shifts every timing after it, which
    # the monitor counts and reports): a run that fails its checks with underruns is played again
    # too; one that fails without any is a failure of the sound itself.
    late = starved = 0
    for attempt in range(ATTEMPTS):
        recorder.restart()
        snaps, joined_s = run_monitor(serve, tmp_path, attempt)
        x = recorder.stop()
        heard_s = sound_start_s(x)
        if joined_s > LATEST_JOIN_S or heard_s is None or heard_s > LATEST_JOIN_S:
            late += 1  # the frames or the sound output (a slow start of the sink) came too late
            continue
        underruns = snaps[-1]["audio_underruns"]
        try:
            check_heard(snaps, joined_s, x)
            return
        except AssertionError:
            if underruns == 0 or attempt == ATTEMPTS - 1:
                raise
            starved += 1
    pytest.fail(f"no usable run in {ATTEMPTS}: {late} joined or started sounding after "
                f"{LATEST_JOIN_S:g} s of device time, {starved} failed with audio underruns")


def sound_start_s(x: np.ndarray) -> float | None:
    """Device time at which the count tone was first heard (the recording aligned on the alarm,
    which starts at the unplug), or None without a tone and an alarm."""
    labels = [k for k, _ in classify(x)]
    if "alarm" not in labels or "tone" not in labels[:labels.index("alarm")]:
        return None
    first_alarm = labels.index("alarm")
    return UNPLUG_S - (first_alarm - labels.index("tone")) * WIN / FS * SPEED


def check_heard(snaps: list[dict], joined_s: float, x: np.ndarray) -> None:
    """What was heard matches what the monitor showed, and the alarm sounds when unplugged."""
    assert all(s["audio"] == SINK_DESCRIPTION for s in snaps)
    assert any(s["alarm"] == NO_SIGNAL and s["link"] == "disconnected" for s in snaps)

    kinds = classify(x)
    labels = [k for k, _ in kinds]
    assert "alarm" in labels, "no alarm heard"
    first_alarm = labels.index("alarm")
    tone_windows = [(i, f) for i, (k, f) in enumerate(kinds[:first_alarm]) if k == "tone"]
    assert len(tone_windows) > 40, "too little count tone before the unplug"
    # The recording in device time: the alarm starts when the device is unplugged.
    tone = [(UNPLUG_S - (first_alarm - i) * WIN / FS * SPEED, f) for i, f in tone_windows]
    # The heard pitch is the pitch of the rate the monitor showed: over background ...
    lo_s, hi_s = joined_s + SETTLE_S, REST_S - GUARD_S
    early = heard_median(tone, lo_s, hi_s)
    lo, hi = target_range(snaps, lo_s, hi_s)
    assert lo * (1 - PITCH_MARGIN) <= early <= hi * (1 + PITCH_MARGIN), (early, lo, hi)
    # ... and on the node, where it is higher.
    lo_s, hi_s = NODE_S + SETTLE_S, UNPLUG_S - GUARD_S
    late = heard_median(tone, lo_s, hi_s)
    lo, hi = target_range(snaps, lo_s, hi_s)
    assert lo * (1 - PITCH_MARGIN) <= late <= hi * (1 + PITCH_MARGIN), (late, lo, hi)
    assert late / early > 1.3  # the node (about 28 cps) against background (5 cps): 1.5

    # The tone sounds up to the alarm (it stops at once, no stale tail, no silent gap).
    assert tone_windows[-1][0] >= first_alarm - 2
    # The NO SIGNAL burst, heard through its fundamental (C5, 523 Hz: the count tone over the
    # node, ~460 Hz, lies 60 Hz away, 100 bins of this 1.6 s segment; the hot cue has no energy
    # there): pulses at 0, .25, .5, 1.0, 1.25 s.
    seg_start = (first_alarm - 2) * WIN
    seg = x[seg_start:seg_start + int(1.6 * FS)]
    f = np.fft.rfftfreq(seg.size, 1.0 / FS)
    fundamental = np.fft.irfft(np.fft.rfft(seg) * ((f > 0.96 * F0) & (f < 1.04 * F0)), seg.size)
    n = round(5 * FS / F0)
    env = np.sqrt(np.convolve(fundamental**2, np.ones(n) / n, "same"))
    loud = np.concatenate([[False], env > 0.5 * env.max()])
    starts = np.flatnonzero(np.diff(loud.astype(int)) == 1) / FS
    # an onset within 0.15 s of the last pulse's is the same pulse (the pattern's are >= 0.25 s
    # apart): a dip of the envelope inside a pulse (a hiccup too short to count as an underrun)
    # is no new pulse
    pulses: list[float] = []
    for t in starts:
        if not pulses or t - pulses[-1] > 0.15:
            pulses.append(float(t))
    starts = np.array(pulses)
    np.testing.assert_allclose(np.diff(starts[:5]), [0.25, 0.25, 0.5, 0.25], atol=0.015)
    onset = seg_start + int(starts[0] * FS)
    before = x[onset - int(0.12 * FS): onset - int(0.03 * FS)]
    assert np.sqrt(np.mean(before**2)) > 0.1  # the count tone, until the alarm
    gap = x[onset + int(0.7 * FS):onset + int(0.95 * FS)]  # between pulses 3 and 4
    assert np.sqrt(np.mean(gap**2)) < 0.003  # no count tone at all
