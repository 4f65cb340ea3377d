"""ProbeLink false-accept benchmark: how often does a corrupted frame pass as a valid message, in
v1 (CRC-16/CCITT-FALSE) and v2 (CRC-32C)? Prints figures; no pass/fail (the suite's
tests/drivers/test_probelink_false_accept.py runs the same code at a small volume and asserts).

Part 1, analytic, exact from the polynomials: for the codeword lengths of ProbeLink messages, the
syndrome of every single-bit error (the CRC of that error pattern); an error pattern is
undetected exactly when the XOR of its bits' syndromes is 0. From these: the smallest weight of an
undetected error (the Hamming distance, searched up to 6 bits), the number of undetected 4-bit
patterns, and whether every odd-weight error is caught (true when x+1 divides the polynomial:
then every syndrome has odd parity). CRC-32/ISO-HDLC (zlib.crc32) is shown beside CRC-32C, as
the alternative that was not chosen.

Part 2, empirical, on the wire: valid COUNT frames (1-8 windows, realistic fields), COBS-encoded
with their delimiter, are corrupted by one of the MODELS below and fed, between two delimiters,
to a fresh StreamDecoder of the revision (v2 as a host that negotiated v2 accepts it: only v2).
Any message that comes out is a false accept (a wrong message taken as valid). Each false
accept is then shown to the host's plausibility gate (drivers/plausibility.py) as the frame that
follows the sent frame's predecessor, one frame period later on the host clock, with the bounds of
a ProbeLinkDevice that has no INFO (a v1 device: 1e7 cps ceiling): "past the gate" counts those
that would reach the rate processor. Every trial is drawn from its own seeded generator, so a run
is reproducible whatever the number of workers.

Run: python benchmarks/bench_probelink_crc.py [--frames N] [--workers W] [--seed S] [--quick]
[--revisions 1 2]
(default N = 10,000,000 per revision: ~4 CPU-minutes per revision on a 2020s x86 core.)
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe_nav.drivers.crc import crc16_ccitt, crc32c
from probe_nav.drivers.frames import CountFrame, FaultFlag
from probe_nav.drivers.plausibility import PlausibilityGate
from probe_nav.drivers.probelink.codec import StreamDecoder, encode
from probe_nav.drivers.probelink.device import ProbeLinkDevice
from probe_nav.drivers.probelink.messages import Count

REVISIONS = (1, 2)
POOL_SIZE = 4096  # distinct valid frames the trials corrupt
CHUNK_TRIALS = 250_000  # trials per work unit (each unit has its own seed)


# ================================================================ part 2: corruption on the wire


def _flip(buf: bytearray, bit: int) -> None:
    buf[bit >> 3] ^= 1 << (bit & 7)


def flip1(rng: random.Random, wire: bytes) -> bytes:
    """One bit flipped anywhere in the packet, its delimiter included."""
    buf = bytearray(wire)
    _flip(buf, rng.randrange(8 * len(buf)))
    return bytes(buf)


def flips(rng: random.Random, wire: bytes) -> bytes:
    """2 to 8 distinct bits flipped anywhere in the packet (independent bit errors)."""
    buf = bytearray(wire)
    for bit in rng.sample(range(8 * len(buf)), rng.randint(2, 8)):
        _flip(buf, bit)
    return bytes(buf)


def burst(rng: random.Random, wire: bytes) -> bytes:
    """A burst of 2 to 48 bits: its first and last bits flipped, each bit between with p 1/2."""
    buf = bytearray(wire)
    n_bits = 8 * len(buf)
    length = min(rng.randint(2, 48), n_bits)
    start = rng.randrange(n_bits - length + 1)
    pattern = 1 | (1 << (length - 1)) | (rng.getrandbits(length) if length > 2 else 0)
    for i in range(length):
        if pattern >> i & 1:
            _flip(buf, start + i)
    return bytes(buf)


def substitute(rng: random.Random, wire: bytes) -> bytes:
    """1 to 4 bytes replaced by a different random value (0x00 included)."""
    buf = bytearray(wire)
    for pos in rng.sample(range(len(buf)), min(rng.randint(1, 4), len(buf))):
        buf[pos] = (buf[pos] + rng.randrange(1, 256)) & 0xFF
    return bytes(buf)


def slip(rng: random.Random, wire: bytes) -> bytes:
    """One byte lost, or one random byte inserted (a UART overrun or a glitch)."""
    pos = rng.randrange(len(wire))
    if rng.random() < 0.5:
        return wire[:pos] + wire[pos + 1 :]
    return wire[:pos] + bytes([rng.randrange(256)]) + wire[pos:]


MODELS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "flip1": flip1, "flips": flips, "burst": burst, "substitute": substitute, "slip": slip,
}


def frame_pool(version: int, seed: int, size: int = POOL_SIZE) -> list[tuple[Count, bytes]]:
    """`size` valid COUNT frames as a probe sends them: 50 ms, 1-8 windows, counts from a few to
    1e5, rare flags; the same contents for either version (only `version` differs)."""
    rng = random.Random(seed)
    pool = []
    for i in range(size):
        real_us = 50_000
        n = rng.choice((1, 1, 1, 2, 3, 8))
        counts = tuple(int(10 ** rng.uniform(0, 5)) for _ in range(n))
        t_end_us = real_us * (i + 1 + rng.randrange(1 << 16))
        msg = Count(frame_seq=rng.randrange(1 << 20), t_end_us=t_end_us,
                    real_us=real_us, live_us=real_us - rng.randrange(2000), counts=counts,
                    flags=1 if rng.random() < 0.02 else 0, seq=rng.randrange(1 << 16),
                    version=version)
        pool.append((msg, encode(msg)))
    return pool


@dataclass
class Tally:
    """Outcome of corrupted-frame trials of one revision and model."""

    trials: int = 0
    false_accepts: int = 0  # a message came out that is not the frame sent
    wrong_counts: int = 0  # ... a COUNT whose counts, real or live time differ: a wrong number
    past_gate: int = 0  # ... of which the plausibility gate would let through to the processor
    recovered: int = 0  # the frame sent came out intact (the damage hit nothing it needs)
    rejected: dict[str, int] = field(default_factory=dict)  # reject reasons, summed
    examples: list[str] = field(default_factory=list)  # the first few false accepts, in hex

    def add(self, other: Tally) -> None:
        """Accumulate another tally of the same revision and model."""
        self.trials += other.trials
        self.false_accepts += other.false_accepts
        self.wrong_counts += other.wrong_counts
        self.past_gate += other.past_gate
        self.recovered += other.recovered
        for k, v in other.rejected.items():
            self.rejected[k] = self.rejected.get(k, 0) + v
        self.examples += other.examples[: max(0, 5 - len(self.examples))]


def _count_frame(m: Count) -> CountFrame:
    """The CountFrame a ProbeLinkDevice makes of a COUNT (as in its _on_count)."""
    return CountFrame(seq=m.frame_seq, t_s=m.t_end_us / 1e6, real_s=m.real_us / 1e6,
                      live_s=m.live_us / 1e6, counts=tuple(m.counts),
                      flags=FaultFlag(m.flags & 0xFFFF))


def passes_gate(sent: Count, got: Count) -> bool:
    """Whether the host's plausibility gate lets `got` through where `sent` was expected: in a
    stream whose last accepted frame was `sent`'s predecessor, one frame period earlier on the
    host clock, with the bounds of a ProbeLink device that has not described its counter."""
    bounds = ProbeLinkDevice("fake://bench").frame_bounds()
    gate = PlausibilityGate()
    before = replace(sent, frame_seq=max(0, sent.frame_seq - 1),
                     t_end_us=sent.t_end_us - sent.real_us)
    host_s = 1000.0
    if gate.admit(_count_frame(before), bounds, host_s).frame is None:
        raise AssertionError(f"the gate refuses a valid frame: {before}")
    return gate.admit(_count_frame(got), bounds, host_s + sent.real_us / 1e6).frame is not None


def run_trials(version: int, model: str, trials: int, seed: int,
               pool: list[tuple[Count, bytes]] | None = None) -> Tally:
    """`trials` corrupted frames of `version` by `model`, from seed `seed`."""
    rng = random.Random(f"{seed}/{version}/{model}")
    pool = pool if pool is not None else frame_pool(version, seed)
    corrupt = MODELS[model]
    tally = Tally(trials=trials)
    decoder = StreamDecoder(accept=(version,))
    for _ in range(trials):
        msg, wire = pool[rng.randrange(len(pool))]
        out = decoder.feed(b"\x00" + corrupt(rng, wire) + b"\x00")
        for got in out:
            if got == msg:
                tally.recovered += 1
            else:
                tally.false_accepts += 1
                wrong = isinstance(got, Count) and (got.counts, got.real_us, got.live_us) != (
                    msg.counts, msg.real_us, msg.live_us)
                if wrong:
                    tally.wrong_counts += 1
                    tally.past_gate += passes_gate(msg, got)  # type: ignore[arg-type]
                if len(tally.examples) < 5:
                    tally.examples.append(f"{wire.hex(' ')} -> {got}")
    tally.rejected = {k: v for k, v in decoder.stats.rejected().items() if v}
    return tally


def _unit(args: tuple[int, str, int, int]) -> tuple[int, str, Tally]:
    version, model, trials, seed = args
    return version, model, run_trials(version, model, trials, seed)


def run_empirical(frames: int, seed: int, workers: int,
                  versions: Iterable[int] = REVISIONS) -> dict[tuple[int, str], Tally]:
    """`frames` trials per revision, split evenly over the models, in chunks of CHUNK_TRIALS."""
    per_model = frames // len(MODELS)
    units = []
    for version in versions:
        for model in MODELS:
            done, k = 0, 0
            while done < per_model:
                n = min(CHUNK_TRIALS, per_model - done)
                units.append((version, model, n, seed * 1_000_003 + k))
                done, k = done + n, k + 1
    totals: dict[tuple[int, str], Tally] = {}
    if workers > 1:
        with ProcessPoolExecutor(workers) as ex:
            results = list(ex.map(_unit, units, chunksize=1))
    else:
        results = [_unit(u) for u in units]
    for version, model, tally in results:
        totals.setdefault((version, model), Tally()).add(tally)
    return totals


def poisson_interval(k: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) confidence interval of a Poisson mean from k events."""
    from scipy.stats import chi2

    alpha = 1.0 - confidence
    lo = 0.0 if k == 0 else chi2.ppf(alpha / 2, 2 * k) / 2
    hi = chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    return float(lo), float(hi)


# ================================================================ part 1: the polynomials


def crc32_iso(data: bytes) -> int:
    """CRC-32/ISO-HDLC (zlib, Ethernet): the 32-bit alternative to CRC-32C."""
    return zlib.crc32(data)


CHOSEN = ("CRC-16/CCITT-FALSE (v1)", "CRC-32C (v2)")
CRCS: dict[str, tuple[Callable[[bytes], int], int]] = {
    "CRC-16/CCITT-FALSE (v1)": (crc16_ccitt, 16),
    "CRC-32C (v2)": (crc32c, 32),
    "CRC-32/ISO-HDLC": (crc32_iso, 32),
}


def syndromes(check: Callable[[bytes], int], width: int, body_bytes: int) -> np.ndarray:
    """The syndrome of every single-bit error in a codeword of `body_bytes` bytes of header and
    payload followed by the `width`-bit check: body bits first, then the check's bits.

    A CRC is affine in its input, so check(body ^ e) ^ check(body) = check(e) ^ check(0...0) for
    every body: the syndrome of an error depends on the error only. An error in the check field
    itself flips that bit of the received check.
    """
    zero = bytes(body_bytes)
    base = check(zero)
    out = np.empty(8 * body_bytes + width, dtype=np.uint32)
    buf = bytearray(body_bytes)
    for i in range(8 * body_bytes):
        buf[i >> 3] = 1 << (i & 7)
        out[i] = check(bytes(buf)) ^ base
        buf[i >> 3] = 0
    out[8 * body_bytes :] = [1 << k for k in range(width)]
    return out


def _pair_xors(s: np.ndarray) -> np.ndarray:
    """s[a] ^ s[b] for every a < b (in that order)."""
    return np.concatenate([s[a] ^ s[a + 1 :] for a in range(len(s) - 1)])


def undetected_weights(s: np.ndarray, max_weight: int = 6) -> dict[int, int]:
    """Number of undetected error patterns of weight 2, 4 (and 6 when no lighter one exists);
    odd weights are reported only when some syndrome has even parity (no x+1 factor)."""
    out: dict[int, int] = {}
    out[2] = int(len(s) - len(np.unique(s)))
    pairs = _pair_xors(s)
    pairs.sort()
    odd_safe = all(bin(int(v)).count("1") % 2 == 1 for v in s)
    if not odd_safe:
        out[3] = int(np.isin(s, pairs).sum())  # s_c == s_a ^ s_b (counts c, not sets: > 0 test)
    same = pairs[1:] == pairs[:-1]
    # each undetected 4-set {a,b,c,d} splits into 3 pairs of pairs with equal XORs
    run_ends = np.flatnonzero(np.diff(np.concatenate(([0], same.astype(np.int8), [0]))))
    runs = (run_ends[1::2] - run_ends[::2]) + 1
    out[4] = int((runs * (runs - 1) // 2).sum() // 3) if out[2] == 0 else -1
    if max_weight >= 5 and not odd_safe and out[2] == 0 and out.get(3) == 0 and out[4] == 0:
        out[5] = _triples_hit(s, pairs)
    if max_weight >= 6 and out[2] == 0 and out[4] == 0 and out.get(5, 0) == 0:
        out[6] = _six_patterns(s)
    return out


def _triples(s: np.ndarray) -> Iterable[np.ndarray]:
    """s[a] ^ s[b] ^ s[c] for every a < b < c, one array per a."""
    for a in range(len(s) - 2):
        yield s[a] ^ _pair_xors(s[a + 1 :])


def _triples_hit(s: np.ndarray, pairs_sorted: np.ndarray) -> int:
    """Whether some 3 syndromes XOR to the XOR of 2 others (a weight-5 undetected error): the
    number of such triple/pair coincidences found (0 = none)."""
    hits = 0
    for t in _triples(s):
        pos = np.searchsorted(pairs_sorted, t)
        pos[pos == len(pairs_sorted)] = 0
        hits += int((pairs_sorted[pos] == t).sum())
    return hits


def _six_patterns(s: np.ndarray) -> int:
    """Number of undetected weight-6 patterns (each splits into 10 pairs of triples)."""
    allt = np.sort(np.concatenate(list(_triples(s))))
    same = allt[1:] == allt[:-1]
    edges = np.flatnonzero(np.diff(np.concatenate(([0], same.astype(np.int8), [0]))))
    runs = (edges[1::2] - edges[::2]) + 1
    return int((runs * (runs - 1) // 2).sum() // 10)


def analytic(body_lengths: dict[str, int], max_weight: int) -> None:
    """Print the undetected-pattern census for every CRC and message length."""
    print("Part 1: undetected error patterns, exact (weight: number of patterns; 'all odd "
          "caught' = x+1 divides the polynomial)")
    for crc_name, (check, width) in CRCS.items():
        for what, body in body_lengths.items():
            if crc_name not in CHOSEN and body > 600:
                continue  # the alternative is compared on COUNT lengths only (it is slow here)
            t0 = time.perf_counter()
            s = syndromes(check, width, body)
            n = len(s)
            census = undetected_weights(s, max_weight if n <= 600 else 4)
            odd = all(bin(int(v)).count("1") % 2 == 1 for v in s)
            hd = next((w for w in sorted(census) if census[w] > 0), None)
            a4 = census.get(4, 0)
            frac4 = a4 / math.comb(n, 4) if a4 > 0 else 0.0
            hd_text = f"HD {hd}" if hd else f"HD > {max(census)}"
            print(f"  {crc_name:<24} {what:<26} n={n:>5} bits  {hd_text:<8} "
                  f"all odd caught: {'yes' if odd else 'no ':<3}  "
                  f"{ {w: c for w, c in census.items()} }  undetected 4-bit share {frac4:.3g}  "
                  f"({time.perf_counter() - t0:.1f} s)")


# ================================================================ report


def report_empirical(totals: dict[tuple[int, str], Tally]) -> None:
    """Print per revision and model, and per revision overall, with 95 % intervals."""
    print("Part 2: corrupted COUNT frames on the wire (false accept = any message decoded from a "
          "corrupted frame that differs from the one sent)")
    for version in sorted({v for v, _ in totals}):
        overall = Tally()
        for model in MODELS:
            t = totals.get((version, model))
            if t is None:
                continue
            overall.add(t)
            lo, hi = poisson_interval(t.false_accepts)
            rate = t.false_accepts / t.trials
            print(f"  v{version} {model:<10} {t.trials:>10,} frames  false accepts "
                  f"{t.false_accepts:>4} (wrong COUNT {t.wrong_counts:>4}, past the gate "
                  f"{t.past_gate:>4})  rate {rate:.3g}  "
                  f"95% [{lo / t.trials:.2g}, {hi / t.trials:.2g}]  recovered {t.recovered}  "
                  f"rejects {t.rejected}")
        lo, hi = poisson_interval(overall.false_accepts)
        k, n = overall.false_accepts, overall.trials
        one_in = f"1 in {n / k:,.0f}" if k else f"0 in {n:,}"
        print(f"  v{version} ALL        {n:>10,} frames  false accepts {k:>4} "
              f"(wrong COUNT {overall.wrong_counts}, past the gate {overall.past_gate})  "
              f"{one_in}  rate {k / n:.3g}  "
              f"95% [{lo / n:.2g}, {hi / n:.2g}]")
        for ex in overall.examples[:3]:
            print(f"      e.g. {ex}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000_000,
                        help="corrupted frames per revision (default 1e7)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--quick", action="store_true",
                        help="2e5 frames per revision, analytic part up to weight 4")
    parser.add_argument("--revisions", type=int, nargs="+", default=list(REVISIONS),
                        choices=REVISIONS, help="protocol revisions to corrupt (default 1 2)")
    parser.add_argument("--skip-analytic", action="store_true")
    parser.add_argument("--skip-empirical", action="store_true")
    args = parser.parse_args(argv)
    frames = 200_000 if args.quick else args.frames
    if not args.skip_analytic:
        lengths = {"COUNT, 1 window (31 B)": 31, "COUNT, 8 windows (59 B)": 59,
                   "SPECTRUM, 256 channels (1038 B)": 1038}
        analytic(lengths if not args.quick else dict(list(lengths.items())[:2]),
                 4 if args.quick else 6)
    if not args.skip_empirical:
        t0 = time.perf_counter()
        totals = run_empirical(frames, args.seed, args.workers, args.revisions)
        report_empirical(totals)
        print(f"  ({time.perf_counter() - t0:.0f} s, {args.workers} worker(s), seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
