"""The whole chain, heard for real: `sim serve` on a pty -> ProbeLink driver -> Processor ->
AudioFeedback -> QtAudioOutput -> PulseAudio null sink, recorded from the sink's monitor.

The simulated probe (sln-scan at twice real time) sweeps from background onto a 15 kBq node: the
recorded tone's pitch rises. Then the device is unplugged: the count tone stops at once and the
NO SIGNAL alarm pattern is heard. Skipped without PulseAudio, except under CI=true.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from probe_nav.audio.alarms import NO_SIGNAL, PATTERNS
from probe_nav.audio.pitch import rate_to_pitch_hz
from tests.audio.conftest import FS, SINK_DESCRIPTION, band_energy, dominant_hz
from tests.conftest import ROOT, cli

pytestmark = pytest.mark.slow
SPEED = 2.0
F0 = PATTERNS[NO_SIGNAL].fundamental_hz
WIN = FS // 20  # 50 ms analysis windows


def classify(x: np.ndarray) -> list[tuple[str, float]]:
    """Per 50 ms window: ('silent'|'tone'|'alarm', dominant Hz)."""
    out = []
    for i in range(0, x.size - WIN, WIN):
        w = x[i:i + WIN]
        if np.sqrt(np.mean(w * w)) < 0.01:
            out.append(("silent", 0.0))
            continue
        total = band_energy(w, 50.0, FS / 2)
        harmonics = sum(band_energy(w, h * F0 * 0.96, h * F0 * 1.04) for h in (2, 3, 4))
        out.append(("alarm" if harmonics > 0.2 * total else "tone", dominant_hz(w)))
    return out


def test_tone_rises_on_the_node_and_the_alarm_sounds_when_unplugged(serve, recorder, tmp_path):
    link = str(tmp_path / "ttyPROBE")
    # Device time: 2 s over background, moving until 6 s, on the node; unplugged at 9.5 s for 4 s.
    serve("--scenario", "sln-scan", "--link-path", link, "--seed", "4", "--speed", str(SPEED),
          "--faults", "unplug@9.5+4")
    monitor = subprocess.run(
        cli("monitor", "--device", link, "--audio", "--audio-device", SINK_DESCRIPTION,
            "--json", "--interval", "0.1", "--duration", "6.2"),
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert monitor.returncode == 0, monitor.stderr
    x = recorder.stop()
    snaps = [json.loads(line) for line in monitor.stdout.splitlines()]
    assert all(s["audio"] == SINK_DESCRIPTION for s in snaps)
    assert any(s["alarm"] == NO_SIGNAL and s["link"] == "disconnected" for s in snaps)

    kinds = classify(x)
    labels = [k for k, _ in kinds]
    assert "alarm" in labels, "no alarm heard"
    first_alarm = labels.index("alarm")
    tone = [(i, f) for i, (k, f) in enumerate(kinds[:first_alarm]) if k == "tone"]
    assert len(tone) > 40, "too little count tone before the unplug"
    # Pitch rises from background (~5 cps) to the node (~28 cps).
    early = np.median([f for _, f in tone[:15]])
    late = np.median([f for _, f in tone[-15:]])
    assert early == pytest.approx(rate_to_pitch_hz(5.0), rel=0.2)
    assert late == pytest.approx(rate_to_pitch_hz(28.0), rel=0.2)
    assert late / early > 1.3

    # The tone sounds up to the alarm (it stops at once, no stale tail, no silent gap).
    assert tone[-1][0] >= first_alarm - 2
    # The NO SIGNAL burst, heard through its harmonics (1-1.7 kHz, far above the count tone):
    # pulses at 0, .25, .5, 1.0, 1.25 s.
    seg_start = (first_alarm - 2) * WIN
    seg = x[seg_start:seg_start + int(1.6 * FS)]
    f = np.fft.rfftfreq(seg.size, 1.0 / FS)
    harm = np.fft.irfft(np.fft.rfft(seg) * ((f > 1000.0) & (f < 1700.0)), seg.size)
    n = round(5 * FS / F0)
    env = np.sqrt(np.convolve(harm**2, np.ones(n) / n, "same"))
    loud = np.concatenate([[False], env > 0.5 * env.max()])
    starts = np.flatnonzero(np.diff(loud.astype(int)) == 1) / FS
    starts = starts[np.concatenate([[True], np.diff(starts) > 0.05])]
    np.testing.assert_allclose(np.diff(starts[:5]), [0.25, 0.25, 0.5, 0.25], atol=0.015)
    onset = seg_start + int(starts[0] * FS)
    before = x[onset - int(0.12 * FS): onset - int(0.03 * FS)]
    assert np.sqrt(np.mean(before**2)) > 0.1  # the count tone, until the alarm
    gap = x[onset + int(0.7 * FS):onset + int(0.95 * FS)]  # between pulses 3 and 4
    assert np.sqrt(np.mean(gap**2)) < 0.003  # no count tone at all
