"""False accepts of corrupted ProbeLink frames, v1 (CRC-16) against v2 (CRC-32C): the small,
deterministic version of benchmarks/bench_probelink_crc.py (whose code it runs), and the exact
facts behind the figures of docs/protocol-probelink.md section 10.

A false accept is a message that a decoder takes as valid from a corrupted frame and that is not
the frame sent. Nothing here depends on time; every random draw is seeded.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest

from benchmarks.bench_probelink_crc import (
    MODELS,
    frame_pool,
    run_trials,
    syndromes,
    undetected_weights,
)
from probe_nav.drivers.crc import crc16_ccitt, crc32c
from probe_nav.drivers.probelink.codec import (
    HEADER,
    ProbeLinkError,
    StreamDecoder,
    decode_message,
    encode,
    encode_message,
)
from probe_nav.drivers.probelink.messages import Count

COUNT_1 = Count(1234, 61_050_000, 50_000, 49_900, (42,), 0, 77)
# header + COUNT payload of n windows: the data a COUNT's CRC protects, in bytes
COUNT_BODY_BYTES = {n: HEADER.size + 23 + 4 * n for n in range(1, 9)}


def _flip_bits(data: bytes, bits: tuple[int, ...]) -> bytes:
    buf = bytearray(data)
    for bit in bits:
        buf[bit >> 3] ^= 1 << (bit & 7)
    return bytes(buf)


def test_the_census_agrees_with_brute_force_on_a_short_message() -> None:
    # 3 bytes of data + CRC-16: 40 bit positions, every pattern of up to 4 bits enumerated.
    s = syndromes(crc16_ccitt, 16, 3)
    brute = {w: sum(1 for bits in itertools.combinations(range(len(s)), w)
                    if np.bitwise_xor.reduce(s[list(bits)]) == 0) for w in (2, 3, 4)}
    census = undetected_weights(s, max_weight=4)
    assert brute[2] == census[2] == 0 and brute[3] == 0
    assert brute[4] == census[4]
    # and the syndromes are what they claim: flipping those bits of a real message leaves its
    # CRC-16 valid exactly when they XOR to zero
    body = bytes([0x01, 0x42, 0x99])
    good = body + crc16_ccitt(body).to_bytes(2, "little")
    for bits in itertools.islice(itertools.combinations(range(len(s)), 4), 0, None, 97):
        bad = _flip_bits(good, bits)
        holds = crc16_ccitt(bad[:-2]) == int.from_bytes(bad[-2:], "little")
        assert holds == (np.bitwise_xor.reduce(s[list(bits)]) == 0)


def test_v1_misses_some_4_bit_errors_in_a_count_and_takes_the_wrong_frame() -> None:
    """CRC-16 has Hamming distance 4 at COUNT lengths: some 4-bit errors pass (about 1 in 2^15
    of them), and the v1 decoder then returns a wrong COUNT as valid."""
    raw = encode_message(COUNT_1)
    s = syndromes(crc16_ccitt, 16, len(raw) - 2)
    census = undetected_weights(s, max_weight=4)
    assert census[2] == 0 and census[4] > 0
    share = census[4] / math.comb(len(s), 4)
    assert 2**-16 < share < 2**-14  # ~2^-15: half the syndromes are out of reach (x+1 factor)
    # find such patterns (in the counts and times, not the version byte) and show the v1 decoder
    # swallowing one: a wrong frame taken as valid
    wrong = []
    seen: dict[int, tuple[int, int]] = {}
    for a, b in itertools.combinations(range(16, len(s)), 2):
        key = int(s[a] ^ s[b])
        other = seen.setdefault(key, (a, b))
        if other != (a, b) and not {a, b} & set(other):
            try:
                wrong.append(decode_message(_flip_bits(raw, (a, b, *other))))
            except ProbeLinkError:
                continue  # the CRC passed but the payload is malformed (e.g. live > real)
            break
    assert len(wrong) == 1 and isinstance(wrong[0], Count) and wrong[0] != COUNT_1


@pytest.mark.parametrize("windows", sorted(COUNT_BODY_BYTES))
def test_v2_catches_every_error_of_up_to_5_bits_in_every_count(windows: int) -> None:
    s = syndromes(crc32c, 32, COUNT_BODY_BYTES[windows])
    # every odd number of flipped bits: each syndrome has odd parity (x+1 divides the polynomial)
    assert all(bin(int(v)).count("1") % 2 == 1 for v in s)
    census = undetected_weights(s, max_weight=4)
    assert census[2] == 0 and census[4] == 0  # so the distance is at least 6


@pytest.mark.parametrize("version", [1, 2])
def test_every_1_and_2_bit_wire_error_of_a_count_is_caught(version: int) -> None:
    """On the wire, after COBS, where a flipped code byte moves the message's zeros around."""
    msg = replace(COUNT_1, version=version)
    wire = encode(msg)
    decoder = StreamDecoder(accept=(version,))
    n_bits = 8 * len(wire)
    taken = []
    for bits in itertools.chain(((i,) for i in range(n_bits)),
                                itertools.combinations(range(n_bits), 2)):
        taken += [m for m in decoder.feed(b"\0" + _flip_bits(wire, bits) + b"\0") if m != msg]
    assert taken == []
    assert sum(decoder.stats.rejected().values()) >= n_bits + math.comb(n_bits, 2)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_corrupted_frames_never_pass_v2(model: str) -> None:
    """10,000 corrupted COUNT frames per model for each version, seeded. v2 must let none
    through. v1's rate is ~3e-6 (benchmark), so 0-1 expected here: bounded at 3, a rate over
    1e-4 that the benchmark would never report, so that a broken v1 check fails this too."""
    trials = 10_000
    v2 = run_trials(2, model, trials, seed=1414, pool=frame_pool(2, 1414, 512))
    assert v2.trials == trials and v2.false_accepts == 0
    assert sum(v2.rejected.values()) >= trials - v2.recovered  # each trial was refused, or intact
    v1 = run_trials(1, model, trials, seed=1414, pool=frame_pool(1, 1414, 512))
    assert v1.false_accepts <= 3


def test_a_v2_host_never_lets_a_crc16_decide() -> None:
    """A corrupted v2 frame whose version byte turned into 1 is checked with CRC-16; even when
    that passes, a host that negotiated v2 refuses it."""
    raw = encode_message(replace(COUNT_1, version=2))
    forged = b"\x01" + raw[1:-4]
    forged += crc16_ccitt(forged).to_bytes(2, "little")  # the luckiest possible corruption
    assert decode_message(forged, accept=(1, 2)).version == 1  # while negotiating: it passes
    with pytest.raises(ProbeLinkError) as refused:
        decode_message(forged, accept=(2,))
    assert refused.value.kind == "other_version"
