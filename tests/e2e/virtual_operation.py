"""A virtual sentinel-node biopsy on the console, run as its own process on a real X display with
sound (tests/e2e/test_virtual_operation.py starts it; `make soak` runs it for 10 minutes):

  the probe starts over the node (no background set: no hot decision) -> on normal tissue, B ->
  a scan across the breast -> timed counts of three nodes and the wound bed, each recorded into
  the case -> the probe unplugged and plugged back -> (--soak-s) scanning on until the time is up.

Then it writes what it saw to --out (JSON) and waits, painting, until it is stopped (SIGTERM from
the test, handled by the product's own stop path: exit 143, the session recording finished).

Everything waits on the simulator's own clock or on the console's state, never on wall time;
time-outs only bound a hang.

Run: python -m tests.e2e.virtual_operation --out result.json [--soak-s 600] [--speed 2]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

SCENARIO = "breast-shine-through"
BACKGROUND_POSE = (150.0, 150.0)  # normal tissue: ~7 cps, the scenario's room and body background
# (name, kind, pose): SLN 1 ~47 cps (hot), SLN 2 ~9 cps (faint: counted, not judged), node 3 on
# background (cold), the wound bed on background (cold)
COUNTS = (("SLN 1", "in_vivo", (70.0, 0.0)), ("SLN 2", "in_vivo", (95.0, 25.0)),
          ("node 3", "in_vivo", (120.0, -80.0)), ("bed", "bed", (150.0, 150.0)))
SETTLE_S = 6.0  # device seconds held before judging HOT (the adaptive meter settles in ~2 s)
COUNT_S = 5.0
STEP_HANG_S = 120.0  # a bound on one step's hang
RSS_EVERY_S = 10.0


def rss_mb() -> float:
    """Resident set size of this process (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


class Operation:
    """The scripted operation as a generator of wait conditions, advanced by a QTimer."""

    def __init__(self, window, sim, soak_s: float, out: Path) -> None:
        self.window, self.sim, self.soak_s, self.out = window, sim, soak_s, out
        self.log: dict = {"judged": [], "recorded": [], "events": [], "rss_mb": [],
                          "errors": []}
        self._steps = self.steps()
        self._until: Callable[[], bool] | None = None
        self._since = time.monotonic()
        self.done = False

    # ------------------------------------------------------------ helpers

    def device_t(self) -> float:
        return self.sim.device_t_s

    def state(self) -> str | None:
        ds = self.window.last_display
        return None if ds is None else str(ds.state)

    def hold(self, pose: tuple[float, float]) -> None:
        self.sim.hold(*pose)

    def wait_device_s(self, seconds: float) -> Callable[[], bool]:
        end = self.device_t() + seconds
        return lambda: self.device_t() >= end

    def live(self) -> bool:
        ds = self.window.last_display
        return ds is not None and ds.live

    def note(self, what: str, **data) -> None:
        self.log["events"].append({"what": what, "host_s": time.monotonic(),
                                   "device_t_s": self.device_t(), **data})

    # ------------------------------------------------------------ the operation

    def steps(self) -> Iterator[Callable[[], bool]]:
        w = self.window
        self.hold(COUNTS[0][2])  # the probe starts over the node
        yield self.live
        yield self.wait_device_s(SETTLE_S)
        self.log["before_background"] = {"state": self.state(),
                                         "background": w.last_display.background_text}
        self.hold(BACKGROUND_POSE)
        yield self.wait_device_s(2.0)
        w.start_background()
        yield lambda: "started case" in w.readout.notice_label.text()  # shown, and it stays
        yield self.wait_device_s(0.5)
        self.note("B", notice=w.readout.notice_label.text())
        yield lambda: w.last_snapshot is not None and w.last_snapshot.background is not None
        bg = w.last_snapshot.background
        self.log["background"] = {"rate_cps": bg.rate_cps, "sd_cps": bg.sd_cps,
                                  "truth_cps": self.sim.sim.rate_at(self.sim.sim.t_s),
                                  "case_id": w.cases.case_id}
        for x in range(-100, 141, 20):  # a scan across the breast, 1 s per 20 mm
            self.hold((float(x), 0.0))
            yield self.wait_device_s(1.0)
        for name, kind, pose in COUNTS:
            self.hold(pose)
            yield self.wait_device_s(SETTLE_S)
            self.log["judged"].append({"node": name, "state": self.state(),
                                       "truth_cps": self.sim.sim.rate_at(self.sim.sim.t_s)})
            w.start_timed_count(COUNT_S)
            yield lambda: w.cases.pending is not None
            w.cases.node_name.setText(name)
            w.cases.select_kind(kind)
            w.cases.record_last()
            self.log["recorded"].append({"node": name, "kind": kind,
                                         "message": w.cases.pending_label.text()})
        self.note("unplug")
        self.sim.inject("unplug", duration_s=3.0)
        yield lambda: not self.live()
        self.note("no signal", state=self.state())
        yield self.live
        self.note("back")
        end = time.monotonic() + self.soak_s
        x = -100
        while time.monotonic() < end:  # the soak: scanning on, painting, sampling memory
            x = -100 if x >= 140 else x + 20
            self.hold((float(x), 0.0))
            yield self.wait_device_s(1.0)
        self.log["case_id"] = w.cases.case_id
        self.log["recording"] = str(w.session.recorder.directory) if w.session.recorder else None
        self.log["device_t_s"] = self.device_t()

    def tick(self) -> None:
        """Advance when the current condition holds; sample memory every RSS_EVERY_S."""
        now = time.monotonic()
        samples = self.log["rss_mb"]
        if not samples or now - samples[-1][0] >= RSS_EVERY_S:
            samples.append((now, rss_mb()))
        if self.done:
            return
        try:
            if self._until is not None and not self._until():
                if now - self._since > STEP_HANG_S:
                    raise TimeoutError(f"a step hung for {STEP_HANG_S:g} s")
                return
            self._until = next(self._steps)
            self._since = now
        except StopIteration:
            self.finish()
        except Exception as exc:  # reported in the result, the console keeps running
            self.log["errors"].append(f"{type(exc).__name__}: {exc}")
            self.finish()

    def finish(self) -> None:
        self.done = True
        output = getattr(getattr(self.window.audio, "_start", None), "output", None)
        self.log["audio"] = {"available": self.window.audio.available,
                             "status": self.window.audio.status_text,
                             "underruns": output.underruns if output else None,
                             "underrun_gap_s": output.underrun_gap_s if output else None}
        self.window.grab().save(str(self.out.with_suffix(".png")), "PNG")  # to look at
        tmp = self.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.log, indent=1))
        tmp.rename(self.out)  # the test waits for this file


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--soak-s", type=float, default=0.0)
    p.add_argument("--speed", type=float, default=2.0)
    p.add_argument("--cases", type=Path, required=True)
    args = p.parse_args(argv)

    from PySide6.QtCore import QTimer

    from probe_nav.gui.app import _exec
    from probe_nav.gui.settings import GuiSettings
    from probe_nav.gui.stops import StopSignals
    from probe_nav.gui.training_sim import TrainingSim
    from probe_nav.gui.window import ConsoleWindow
    from probe_nav.qt_app import ensure_qt_app

    with StopSignals() as stops:
        app = ensure_qt_app()
        sim = TrainingSim(SCENARIO, seed=3, speed=args.speed)
        window = ConsoleWindow(GuiSettings(scenario=SCENARIO, background_s=5.0), training=sim,
                               case_store_path=str(args.cases))
        operation = Operation(window, sim, args.soak_s, args.out)
        timer = QTimer(window)
        timer.setInterval(100)
        timer.timeout.connect(operation.tick)
        timer.start()
        return _exec(app, window, None, stops)


if __name__ == "__main__":
    raise SystemExit(main())
