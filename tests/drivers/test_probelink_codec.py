"""ProbeLink codec: round-trips of every message type and a stream that survives damage."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.drivers.probelink.codec import StreamDecoder, decode, encode
from probe_nav.drivers.probelink.messages import (
    Ack,
    Command,
    Count,
    Info,
    SpectrumChunk,
    Status,
    WindowDef,
)

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
text = st.text(max_size=40).filter(lambda s: len(s.encode()) <= 255)
f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def counts(draw: st.DrawFn) -> Count:
    real = draw(u32)
    return Count(
        frame_seq=draw(u32),
        t_end_us=draw(st.integers(0, 2**64 - 1)),
        real_us=real,
        live_us=draw(st.integers(0, real)),
        counts=tuple(draw(st.lists(u32, min_size=1, max_size=8))),
        flags=draw(u16),
        seq=draw(u16),
    )


@st.composite
def spectra(draw: st.DrawFn) -> SpectrumChunk:
    bins = tuple(draw(st.lists(u32, max_size=256)))
    first = draw(st.integers(0, 4096))
    return SpectrumChunk(draw(u32), first + len(bins) + draw(st.integers(0, 100)), first, bins,
                         draw(u16))


statuses = st.builds(
    Status,
    t_us=st.integers(0, 2**64 - 1),
    battery_pct=st.none() | st.integers(0, 100),
    battery_mv=st.none() | st.integers(0, 0xFFFE),
    temperature_cdeg=st.none() | st.integers(-0x8000, 0x7FFE),
    hv_dv=st.none() | st.integers(0, 0xFFFE),
    faults=u16,
    seq=u16,
)
infos = st.builds(
    Info,
    model=text,
    serial=text,
    firmware=text,
    detector=st.integers(0, 255),
    frame_period_ms=u16,
    n_channels=u16,
    energy_cal=st.lists(f32, max_size=4).map(tuple),
    windows=st.lists(st.builds(WindowDef, f32, f32, text), max_size=8).map(tuple),
    minor=st.integers(0, 255),
    seq=u16,
)
commands = st.builds(Command, cmd=st.integers(0, 255), args=st.binary(max_size=32), seq=u16)
acks = st.builds(Ack, cmd_seq=u16, cmd=st.integers(0, 255), result=st.integers(0, 255), seq=u16)
messages = st.one_of(counts(), spectra(), statuses, infos, commands, acks)


@given(messages)
def test_round_trip(msg) -> None:
    wire = encode(msg)
    assert wire.endswith(b"\x00") and 0 not in wire[:-1]
    assert decode(wire) == msg


@given(st.lists(messages, max_size=20), st.integers(1, 64))
def test_stream_in_arbitrary_chunks(msgs, chunk: int) -> None:
    wire = b"".join(encode(m) for m in msgs)
    decoder = StreamDecoder()
    out = []
    for i in range(0, len(wire), chunk):
        out += decoder.feed(wire[i : i + chunk])
    assert out == msgs
    assert decoder.stats.rejected() == dict.fromkeys(decoder.stats.rejected(), 0)


@given(st.binary(max_size=3000))
def test_garbage_never_raises(garbage: bytes) -> None:
    decoder = StreamDecoder()
    decoder.feed(garbage)
    # whatever the garbage did, the next delimiter resynchronises and a good message gets through
    good = Count(1, 2, 3, 3, (4,))
    assert decoder.feed(b"\x00" + encode(good)) == [good]


def _stream(n: int) -> list[Count]:
    return [Count(i, 50_000 * (i + 1), 50_000, 49_000, (i % 97, 3), 0, i) for i in range(n)]


@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1))
def test_bit_flips_are_caught_and_counted(seed: int) -> None:
    rng = random.Random(seed)
    msgs = _stream(50)
    packets = [bytearray(encode(m)) for m in msgs]
    damaged = set(rng.sample(range(50), 10))
    for i in damaged:
        pos = rng.randrange(len(packets[i]) - 1)  # leave the delimiter alone
        packets[i][pos] ^= 1 << rng.randrange(8)
    decoder = StreamDecoder()
    out = decoder.feed(b"".join(bytes(p) for p in packets))
    # A flip either breaks the packet (counted) or, if it created/removed a zero, may also take a
    # neighbour with it; it never yields a wrong message.
    assert all(m in msgs for m in out)
    assert set(range(50)) - damaged - {m.frame_seq for m in out} <= {i + 1 for i in damaged}
    lost = 50 - len(out)
    assert sum(decoder.stats.rejected().values()) >= 1
    assert lost >= len(damaged) - sum(1 for i in damaged if msgs[i] in out)


def test_truncated_frame_loses_only_itself_and_the_next() -> None:
    msgs = _stream(5)
    wire = encode(msgs[0]) + encode(msgs[1])[:7] + encode(msgs[2]) + encode(msgs[3])
    decoder = StreamDecoder()
    out = decoder.feed(wire)
    assert out == [msgs[0], msgs[3]]
    assert decoder.stats.cobs_errors + decoder.stats.crc_errors == 1


def test_dropped_frames_leave_a_gap_in_frame_seq() -> None:
    msgs = _stream(10)
    kept = [m for m in msgs if m.frame_seq not in (3, 4, 7)]
    out = StreamDecoder().feed(b"".join(encode(m) for m in kept))
    seqs = [m.frame_seq for m in out]
    assert sum(b - a - 1 for a, b in itertools.pairwise(seqs)) == 3


def test_runaway_packet_is_discarded_then_resync() -> None:
    decoder = StreamDecoder()
    good = _stream(1)[0]
    assert decoder.feed(b"\x01" * 5000 + b"\x00" + encode(good)) == [good]
    assert decoder.stats.oversize == 1
    assert decoder.stats.skipped_bytes >= 5000


def test_other_major_version_and_unknown_type_are_skipped() -> None:
    from probe_nav.drivers.cobs import cobs_encode
    from probe_nav.drivers.crc import crc16_ccitt

    def raw_packet(body: bytes) -> bytes:
        crc = crc16_ccitt(body)
        return cobs_encode(body + bytes([crc & 0xFF, crc >> 8])) + b"\x00"

    decoder = StreamDecoder()
    good = _stream(1)[0]
    out = decoder.feed(raw_packet(b"\x02\x01\x00\x00") + raw_packet(b"\x01\x7f\x00\x00xyz")
                       + encode(good))
    assert out == [good]
    assert decoder.stats.bad_version == 1
    assert decoder.stats.unknown_type == 1
