"""The console's dual-isotope mode: the Qt-free DualIsotope, its panel and the sound, wired.

On: the dual panel replaces the single readout (whose window-0 gross rate would count the other
isotope's spill), each poll's frames go through both windows, and the sound follows the selected
isotope - its corrected rate, its hot decision, its own timbre (live.dual.TIMBRES). W switches.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QWidget

from probe_nav.calibration.crosstalk import SpillError, SpillMatrix
from probe_nav.drivers.frames import DeviceInfo, LinkState
from probe_nav.errors import UserError
from probe_nav.gui.audio_bridge import AudioBridge
from probe_nav.gui.dual_view import DualPanel
from probe_nav.live.dual import TIMBRES, DualError, DualIsotope
from probe_nav.live.snapshot import LiveSnapshot
from probe_nav.storage import StoreError
from probe_nav.storage.urls import DatabaseUrl, Dialect, database_url

log = logging.getLogger(__name__)

# device info -> (its crosstalk calibration over all its windows, where it came from), or None
SpillLookup = Callable[[DeviceInfo], tuple[SpillMatrix, str] | None]


def qc_records_url() -> DatabaseUrl:
    """Where the console's QC records are: $PROBE_NAV_DATABASE_URL (a department's server),
    else the default file."""
    from probe_nav.qc.store import default_db_path

    return database_url(None, default_db_path())


def qc_spill(info: DeviceInfo) -> tuple[SpillMatrix, str] | None:
    """The probe's newest crosstalk calibration in the QC records (probe-nav calibrate
    crosstalk); None when they have none for it."""
    from probe_nav.qc.crosstalk import active_spill
    from probe_nav.qc.store import QcStore

    with QcStore(qc_records_url()) as store:
        probe = store.find_probe(info.model, info.serial)
        matrix = active_spill(store, probe, len(info.windows), info.windows)
        if matrix is None or probe is None:
            return None
        record = store.latest(probe, "calibration", "crosstalk")
        return matrix, f"calibration record {record.id if record else '?'} of {probe.label}"


class ConsoleDual:
    """Dual-isotope counting in the console (off until `enable`)."""

    def __init__(self, panel: DualPanel, single_readout: QWidget, audio: AudioBridge,
                 spill_lookup: SpillLookup | None = None, trend: Any = None) -> None:
        self.panel, self.single_readout, self.audio = panel, single_readout, audio
        self.trend = trend  # its axis says which window it plots while dual is on
        self.dual: DualIsotope | None = None
        self.spill_lookup = spill_lookup or qc_spill
        # QC records on a department server are looked up on a thread: the GUI thread never
        # waits on the network (a server away would freeze the live display for its time-out)
        self.lookup_in_background = spill_lookup is None and _on_server()
        self._lookup: _Lookup | None = None
        self._looked_up = False
        self.calibration_note = ""
        self.panel.hide()

    @property
    def on(self) -> bool:
        """True while dual-isotope counting is on."""
        return self.dual is not None

    def enable(self, preset: str, spill: SpillMatrix | None) -> None:
        """Count the pair `preset` with this crosstalk calibration (None: not corrected)."""
        self.dual = DualIsotope(preset, spill)
        self._looked_up = spill is not None  # entered: no lookup; else the probe's, once known
        self.calibration_note = "entered (--spill)" if spill is not None else ""
        self.panel.show()
        self.single_readout.hide()
        if self.trend is not None:
            self.trend.setLabel("left", "device window 0, gross", units="cps")
        self._apply_timbre()
        log.info("dual-isotope %s, crosstalk %s", preset,
                 spill.texts() if spill is not None else "not corrected")

    def disable(self) -> None:
        """Back to one window."""
        self.dual = None
        self.panel.hide()
        self.single_readout.show()
        if self.trend is not None:
            self.trend.setLabel("left", "rate", units="cps")
        self.audio.set_timbre("sine")

    def switch(self) -> str:
        """The sound follows the other isotope; returns a line for the user."""
        if self.dual is None:
            return "dual-isotope counting is off"
        k = self.dual.switch()
        self._apply_timbre()
        return f"the sound follows {self.dual.nuclides[k]}"

    def start_background(self, duration_s: float) -> None:
        """B was pressed: measure both windows over the same live seconds."""
        if self.dual is not None:
            self.dual.start_background(duration_s)

    def feed(self, snap: LiveSnapshot) -> bool:
        """This poll to the dual view and the sound; False when off (the caller feeds the
        sound from window 0 then)."""
        if self.dual is None:
            return False
        try:
            state = self.dual.feed(snap)
            if not self._looked_up and snap.info is not None and self.dual.indices is not None:
                self._looked_up = True
                self._use_calibration(snap.info)
            if self._lookup is not None and self._lookup.done.is_set():
                lookup, self._lookup = self._lookup, None
                self._apply(lookup.result)
        except DualError as exc:  # the device has no such pair of windows: say so, go single
            self.disable()
            snap_notice = f"dual-isotope off: {exc}"
            log.warning(snap_notice)
            self.panel.footer.setText(snap_notice)
            return False
        frames = [f for _, f in snap.frames]
        readings = self.dual.readings() if snap.live else []
        if len(readings) == len(frames):
            for reading, frame in zip(readings, frames, strict=True):
                self.audio.update(reading, LinkState.CONNECTED,
                                  counts=self.dual.selected_counts(frame), live_s=frame.live_s,
                                  battery_low=snap.battery_low)
        self.panel.calibration_note = self.calibration_note
        self.panel.show_state(state)
        return True

    def _use_calibration(self, info: DeviceInfo) -> None:
        """The probe's crosstalk calibration (QC store) for the pair's windows, if it has one
        (from a server: on a thread, applied by a later feed)."""
        assert self.dual is not None and self.dual.indices is not None
        if self.lookup_in_background:
            self._lookup = _Lookup(self.spill_lookup, info)
            self.calibration_note = "looking up the probe's calibration in the QC records"
            return
        self._apply(_lookup_result(self.spill_lookup, info))

    def _apply(self, result: tuple[SpillMatrix, str] | Exception | None) -> None:
        """Use what the lookup found (an Exception: it failed; say so, stay uncorrected)."""
        if self.dual is None or self.dual.indices is None:
            return
        if isinstance(result, Exception):
            self.calibration_note = f"calibration not used: {result}"
            log.warning("dual-isotope: %s", self.calibration_note)
            return
        found = result
        if found is None:
            self.calibration_note = ""
            return
        matrix, label = found
        self.dual.set_spill(matrix.subset(self.dual.indices))
        self.calibration_note = label
        log.info("dual-isotope crosstalk from %s: %s", label, " ".join(matrix.texts()))

    def _apply_timbre(self) -> None:
        if self.dual is not None:
            self.audio.set_timbre(TIMBRES[self.dual.selected])


def _on_server() -> bool:
    try:
        return qc_records_url().dialect is Dialect.POSTGRESQL
    except UserError:  # a bad URL: the lookup itself says so
        return False


LookupResult = tuple[SpillMatrix, str] | Exception | None  # found, failed, or none kept


def _lookup_result(lookup: SpillLookup, info: DeviceInfo) -> LookupResult:
    """lookup(info), or the error that makes the calibration unusable."""
    try:
        return lookup(info)
    except (SpillError, StoreError, OSError) as exc:
        return exc


class _Lookup:
    """One lookup on a daemon thread; `done` is set when `result` holds its answer."""

    def __init__(self, lookup: SpillLookup, info: DeviceInfo) -> None:
        self.result: tuple[SpillMatrix, str] | Exception | None = None
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(lookup, info), name="probe-nav-qc-lookup",
                         daemon=True).start()

    def _run(self, lookup: SpillLookup, info: DeviceInfo) -> None:
        try:
            self.result = _lookup_result(lookup, info)
        finally:
            self.done.set()
