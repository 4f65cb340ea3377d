"""Driver fuzzing at full volume (issue 14's acceptance): >= 10^6 bytes of each kind (random bytes,
bit-flipped valid frames, truncated frames, oversize frames) into every driver's data path, in
process (tests/drivers/fuzzing.py: the real decoder and plausibility gate, chunks of random
sizes, a fake host clock). Prints per driver and kind the bytes fed, the frames that reached the
consumer, the frames rejected (and by the plausibility gate), the valid frames recovered after
garbage, and every problem: an exception escaping, an implausible frame, a valid frame lost.
Exit status 1 if there was any problem.

With --pty: the same volume per protocol family over a real pty into a running
`probe-nav monitor --json` (tests/e2e/test_fuzz_monitor.py: the kinds in turn, between an emulator's
frames), checking that the monitor survives, never shows a rate above what the device can count,
counts the garbage as bad frames and shows the device again afterwards.

Run: python benchmarks/fuzz_drivers.py [--bytes N] [--seed S] [--only NAME ...] [--pty]
The suite runs the same at 10^5 bytes per driver and kind in process
(tests/drivers/test_fuzz_drivers.py) and 4 x 10^4 bytes per family over a pty.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.drivers.fuzz_targets import TARGETS
from tests.drivers.fuzzing import KINDS, RECOVERY, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bytes", type=int, default=1_000_000, help="per driver and kind")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--only", nargs="*", choices=sorted(TARGETS), default=None)
    parser.add_argument("--reasons", action="store_true",
                        help="print the rejects by reason under each line")
    parser.add_argument("--pty", action="store_true",
                        help="fuzz over a pty into the running monitor (per protocol family)")
    args = parser.parse_args()
    if args.pty:
        return fuzz_over_pty(args.bytes, args.seed, args.only)
    logging.disable(logging.CRITICAL)  # millions of rejects: the counters say it all
    print(f"{'driver':14} {'kind':9} {'bytes':>9} {'frames':>8} {'rejected':>8} "
          f"{'by gate':>8} {'recovered':>11} {'extra':>5} {'cpu s':>6}  problems")
    failed = 0
    for name in args.only or sorted(TARGETS):
        for kind in KINDS:
            started = time.process_time()
            try:
                r = run(TARGETS[name], kind, args.bytes, args.seed)
            except Exception:  # an exception escaping a driver is the finding
                failed += 1
                print(f"{name:14} {kind:9} EXCEPTION\n{traceback.format_exc()}")
                continue
            lag = TARGETS[name](args.seed).lag  # type: ignore[attr-defined]
            due = r.rounds * (RECOVERY - lag)
            failed += bool(r.problems) or r.recovered != due
            print(f"{name:14} {kind:9} {r.bytes_fed:9d} {r.frames_out:8d} {r.bad_frames:8d} "
                  f"{r.implausible:8d} {r.recovered:5d}/{due:<5d} {r.extra_frames:5d} "
                  f"{time.process_time() - started:6.1f}  {len(r.problems)}", flush=True)
            if args.reasons:
                print(f"    gate: {r.gate_reasons}\n    device: {r.reasons}")
            for problem in r.problems[:5]:
                print(f"    {problem}")
    print("no problem" if not failed else f"{failed} driver/kind pairs with problems")
    return 1 if failed else 0


def fuzz_over_pty(n_bytes: int, seed: int, only: list[str] | None) -> int:
    """Fuzz the running monitor over a pty, one protocol family after another."""
    from tests.e2e.test_fuzz_monitor import FAMILIES, fuzz_monitor

    print(f"{'protocol':10} {'bytes':>9} {'bursts':>6} {'frames':>7} {'rejected':>8} "
          f"{'dropped':>7} {'max cps':>9} {'bound':>7} {'exit':>4} {'fuzz s':>6} {'back s':>6}  "
          "problems")
    failed = 0
    for protocol in only or sorted(FAMILIES):
        if protocol not in FAMILIES:
            continue
        started = time.monotonic()
        try:
            r = fuzz_monitor(protocol, n_bytes, seed)
        except Exception:  # a hang (the wait's bound) or the monitor exiting is the finding
            failed += 1
            print(f"{protocol:10} FAILED after {time.monotonic() - started:.0f} s\n"
                  f"{traceback.format_exc()}")
            continue
        bound = FAMILIES[protocol][1]
        top = max(r.rates, default=float("nan"))
        problems = []
        if r.exit_code != 0 or "Traceback" in r.stderr:
            problems.append(f"exit {r.exit_code}: {r.stderr[-500:]}")
        if not r.rates or top > bound:
            problems.append(f"rate {top:.4g} cps shown, bound {bound:.4g}")
        if r.last.get("bad_frames", 0) <= 0:
            problems.append("no bad frame counted")
        failed += bool(problems)
        print(f"{protocol:10} {r.bytes_sent:9d} {r.bursts:6d} {r.last.get('frames', 0):7d} "
              f"{r.last.get('bad_frames', 0):8d} {r.dropped_bytes:7d} {top:9.4g} {bound:7.2g} "
              f"{r.exit_code:4d} {r.fuzz_s:6.1f} {r.recover_s:6.1f}  {len(problems)}", flush=True)
        for problem in problems:
            print(f"    {problem}")
    print("no problem" if not failed else f"{failed} protocols with problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
