"""The aiming pips of navigation: tempo follows the aim score, silence without guidance, when it
goes stale, when muted and when the signal is lost; the pips sit above the count tone's band."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe_nav.audio import AudioFeedback, AudioSettings
from probe_nav.audio.aim import (
    AIM_FAST_S,
    AIM_HOLD_S,
    AIM_SLOW_S,
    PIP_HZ,
    PIP_S,
    AimVoice,
    pip_interval_s,
)
from probe_nav.drivers.frames import LinkState
from tests.audio.conftest import FS, band_energy, reading

BLOCK = FS // 100  # 10 ms render blocks, as an audio callback asks


def onsets(x: np.ndarray) -> list[int]:
    """Sample indices where a pip starts (the envelope rises from silence)."""
    loud = np.abs(x) > 1e-3
    starts = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    keep: list[int] = []
    for s in starts:  # the sine's zero crossings inside one pip are not new pips
        if not keep or s - keep[-1] > PIP_S * FS:
            keep.append(int(s))
    return keep


def render_voice(voice: AimVoice, seconds: float, renew_every: int | None = None,
                 score: float | None = None) -> np.ndarray:
    blocks = []
    for i in range(int(seconds * FS / BLOCK)):
        if renew_every and i % renew_every == 0:
            voice.set_aim(score, i * BLOCK)
        blocks.append(voice.render(i * BLOCK, BLOCK))
    return np.concatenate(blocks)


@pytest.mark.parametrize("score", [0.05, 0.5, 1.0])
def test_pip_tempo_follows_the_score(score: float) -> None:
    voice = AimVoice(FS)
    x = render_voice(voice, 2.0, renew_every=10, score=score)  # renewed every 0.1 s
    gaps = np.diff(onsets(x)) / FS
    assert len(gaps) >= 2
    # the schedule is exact to one sample; pips are found to within a few samples
    assert np.median(gaps) == pytest.approx(pip_interval_s(score), abs=3 / FS)


def test_interval_limits_and_monotony() -> None:
    assert pip_interval_s(0.0) == pytest.approx(AIM_SLOW_S)
    assert pip_interval_s(1.0) == pytest.approx(AIM_FAST_S)
    scores = np.linspace(0, 1, 50)
    assert np.all(np.diff([pip_interval_s(s) for s in scores]) < 0)


def test_no_guidance_and_stale_guidance_are_silent() -> None:
    voice = AimVoice(FS)
    assert np.abs(render_voice(voice, 0.5)).max() == 0.0  # never set
    voice.set_aim(0.0, 0)
    assert np.abs(render_voice(voice, 0.5)).max() == 0.0  # score 0: looks elsewhere
    voice = AimVoice(FS)
    voice.set_aim(1.0, 0)  # set once, never renewed
    x = render_voice(voice, 2.0)
    last = onsets(x)[-1] / FS
    assert last <= AIM_HOLD_S + BLOCK / FS
    assert np.abs(x[int((AIM_HOLD_S + 0.1) * FS):]).max() == 0.0


def test_pips_are_above_the_count_tone_band() -> None:
    voice = AimVoice(FS)
    x = render_voice(voice, 1.0, renew_every=5, score=1.0)
    assert band_energy(x, PIP_HZ - 300, PIP_HZ + 300) > 0.8 * band_energy(x, 0, FS / 2)


def feedback_with_aim(muted: bool = False, link: LinkState = LinkState.CONNECTED) -> np.ndarray:
    fb = AudioFeedback(AudioSettings(mode="clicks", muted=muted, hot_cue=False))
    out = []
    for _ in range(40):  # 2 s of 50 ms frames, no counts: only the pips can sound
        fb.update(reading(5.0), link, counts=0, live_s=0.05)
        fb.set_aim(1.0)
        out.append(fb.render(FS // 20))
    return np.concatenate(out)


def test_feedback_plays_the_pips_only_with_the_count_sound() -> None:
    x = feedback_with_aim()
    assert band_energy(x, PIP_HZ - 300, PIP_HZ + 300) > 0
    assert len(onsets(x)) >= 2.0 / AIM_FAST_S * 0.8
    assert np.abs(feedback_with_aim(muted=True)).max() == 0.0
    lost = feedback_with_aim(link=LinkState.DISCONNECTED)
    assert band_energy(lost, PIP_HZ - 300, PIP_HZ + 300) < 1e-3 * band_energy(x, PIP_HZ - 300,
                                                                            PIP_HZ + 300)


@given(st.lists(st.one_of(st.none(), st.floats(-1, 2), st.just(float("nan"))), min_size=1,
                max_size=20), st.integers(1, 2000))
def test_any_aim_sequence_renders_bounded_finite_sound(scores, block) -> None:
    voice = AimVoice(FS)
    at = 0
    for s in scores:
        voice.set_aim(s, at)
        x = voice.render(at, block)
        at += block
        assert x.shape == (block,)
        assert np.all(np.isfinite(x)) and np.abs(x).max() <= 1.0 + 1e-12
