"""The console's main window: banners, readout, trend, controls, case panel, spectrum and (in
training mode) the simulated patient. A QTimer polls the LiveSession; widgets render its
DisplayState. Nothing here computes a rate."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QTabWidget

from probe_nav.calibration.nuclides import NUCLIDES
from probe_nav.core.rate import METER_NAMES
from probe_nav.core.timed import TIMED_PRESETS_S
from probe_nav.drivers.frames import LinkState
from probe_nav.gui import style
from probe_nav.gui.audio_bridge import AudioBridge
from probe_nav.gui.background_step import STATE_FILE, BackgroundStep
from probe_nav.gui.case_panel import CasePanel
from probe_nav.gui.controls import ControlPanel
from probe_nav.gui.department_link import ConsoleCaseDb
from probe_nav.gui.display_state import DisplayState, display_state
from probe_nav.gui.dosimetry_panel import DosimetryPanel
from probe_nav.gui.dual_link import ConsoleDual
from probe_nav.gui.dual_view import DualPanel
from probe_nav.gui.fit import WindowFit, resize_to_screen
from probe_nav.gui.navigation_link import ConsoleNavigation
from probe_nav.gui.navigation_panel import NavigationPanel
from probe_nav.gui.plots import SpectrumPlot, TrendPlot
from probe_nav.gui.readout import BannerBar, ReadoutPanel
from probe_nav.gui.session_open import open_session
from probe_nav.gui.settings import GuiSettings, config_dir, save_settings
from probe_nav.gui.sync_banner import SyncBanner
from probe_nav.gui.training import TrainingPanel
from probe_nav.gui.training_sim import TrainingSim
from probe_nav.gui.window_keys import SoundAndKeys
from probe_nav.live import LiveSession, LiveSnapshot

POLL_MS = 33  # display refresh (30 Hz); every frame is processed whatever the refresh
TREND_EVERY = 6  # trend, spectrum and map redrawn every 6th refresh (5 Hz)

# (url, protocol, settings) -> an opened LiveSession; raises probe_nav.drivers.errors.DriverError
SessionFactory = Callable[[str, str, GuiSettings], LiveSession]
__all__ = ["ConsoleWindow", "SessionFactory", "open_session"]


class ConsoleWindow(SoundAndKeys, QMainWindow):
    """The surgeon's console. `training` adds the simulated patient (probe-nav demo)."""

    def __init__(self, settings: GuiSettings, *, audio: AudioBridge | None = None,
                 training: TrainingSim | None = None, persist: bool = True,
                 case_store_path: str | None = None,
                 case_db: ConsoleCaseDb | None = None) -> None:
        super().__init__()
        # the case database; on a department server, the local copy and its syncer
        self.case_db = case_db if case_db is not None else ConsoleCaseDb(case_store_path)
        self.settings = settings
        self.persist = persist
        self.muted = False  # every launch starts unmuted: mute is not a saved setting
        self.audio = audio or AudioBridge(settings.audio_mode, settings.volume)
        self.session: LiveSession | None = None
        self.training_sim: TrainingSim | None = None
        self.last_snapshot: LiveSnapshot | None = None
        self.last_display: DisplayState | None = None
        self._ticks = 0
        self.setWindowTitle("probe-nav — surgeon's console")
        self.setStyleSheet(style.STYLE_SHEET)

        from probe_nav.drivers.ports import list_serial_ports
        from probe_nav.drivers.registry import protocol_names
        from probe_nav.simulator.scenario import builtin_names

        self.banners = BannerBar()
        self.readout = ReadoutPanel()
        self.trend = TrendPlot(settings.trend_window_s)
        self.controls = ControlPanel(protocol_names(), [p.device for p in list_serial_ports()])
        self.cases = CasePanel(settings.procedure, store_path=self.case_db.path,
                               nuclide=settings.isotope, queue=self.case_db.queue,
                               on_written=self.case_db.written)
        self.spectrum = SpectrumPlot()
        self.training = TrainingPanel(builtin_names())
        self.tabs = QTabWidget()
        self.tabs.addTab(self.cases, "Case")
        self.tabs.addTab(self.spectrum, "Spectrum")
        self.navigate = NavigationPanel()
        self.tabs.addTab(self.navigate, "Navigate")
        self.dosimetry = DosimetryPanel(self.case_db.path)
        self.dosimetry.cases.queue = self.case_db.queue
        self.dosimetry.cases.on_written = self.case_db.written
        self.tabs.addTab(self.dosimetry, "Dosimetry")
        self.navigation = ConsoleNavigation(self.navigate, self.audio)
        self.dual = ConsoleDual(DualPanel(), self.readout, self.audio, trend=self.trend)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.training.setVisible(training is not None)
        # the layout and its fit to the screen (compact density, trend tab, controls collapse)
        self.fit = WindowFit(self, banners=self.banners, readout=self.readout, trend=self.trend,
                             tabs=self.tabs, training=self.training, controls=self.controls)
        self.fit.column.insertWidget(2, self.dual.panel)
        self.fit.also_fit.append(self.dual.panel)
        self.sync_banner = SyncBanner(lambda: (self.case_db.status(),
                                               self.case_db.last_write_unix_s))
        # last in the banners' own column (the fitter moves the others by their index)
        self.banners.layout().addWidget(self.sync_banner)
        resize_to_screen(self, 1600, 1000)

        self.controls.select(meter=settings.meter, preset_s=settings.timed_preset_s,
                             isotope=settings.isotope, mode=settings.audio_mode,
                             volume=settings.volume, muted=self.muted)
        self.training.set_map_hidden(not settings.show_map)
        self.controls.protocol.setCurrentText(settings.protocol)
        if settings.device_url:
            self.controls.port.setCurrentText(settings.device_url)
        self._wire()
        self._pending_notice = ""
        self.background_step = BackgroundStep(
            config_dir() / STATE_FILE if persist else None)
        source = (f"sim:{training.scenario_name}" if training is not None
                  else f"{settings.protocol} {settings.device_url}")
        saved_case = self.background_step.load(source)
        if saved_case is not None and self.cases.reopen_case(saved_case):
            self.say(f"case {saved_case} reopened with its backgrounds (carried over)")
        else:
            self.background_step.case_opened(None, source)
        self.cases.on_case_opened = self._case_opened
        if training is not None:
            self.use_training(training)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        if self.case_db.on_server:
            self.case_db.start()
            self.sync_banner.start()

    # ------------------------------------------------------------ wiring

    def _wire(self) -> None:
        c = self.controls
        c.meter_changed.connect(self.set_meter)
        c.preset_changed.connect(lambda p: self._remember(timed_preset_s=p))
        c.timed_requested.connect(self.start_timed_count)
        c.background_requested.connect(self.start_background)
        c.isotope_changed.connect(self.set_isotope)
        c.audio_changed.connect(self.set_audio)
        c.connect_requested.connect(self.connect_device)
        c.simulator_requested.connect(lambda: self.switch_scenario(self.settings.scenario))
        self.training.scenario_chosen.connect(self.switch_scenario)
        self.training.map_button.toggled.connect(lambda h: self._remember(show_map=not h))
        self.cases.procedure.currentTextChanged.connect(lambda p: self._remember(procedure=p))
        keys: dict[str, Callable[[], None]] = {
            "Space": lambda: self.start_timed_count(c.preset_s),
            "B": self.start_background,
            "Shift+B": self.enter_background,
            "N": self.cases.record_last,
            "M": lambda: self._toggle_mute(),
            "+": lambda: self._nudge_volume(0.1), "=": lambda: self._nudge_volume(0.1),
            "-": lambda: self._nudge_volume(-0.1),
            "A": lambda: self._cycle_audio_mode(),
            "R": lambda: self._cycle(METER_NAMES, self.settings.meter, self.set_meter),
            "I": lambda: self._cycle(tuple(NUCLIDES), self.settings.isotope, self.set_isotope),
            "Esc": self._escape,
            "O": self._clear_over_range,
            "H": lambda: self.training.map_button.toggle(),
            "S": lambda: self.training.scan_button.toggle(),
            "G": self.navigate.select_next,
            "W": lambda: self.say(self.dual.switch()),
            "Ctrl+Q": self.close,
        }
        for preset, key in zip(TIMED_PRESETS_S, ("1", "2", "5", "0"), strict=True):
            keys[key] = lambda p=preset: self._select_preset(p)
        self.shortcuts = {}
        for key, action in keys.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.activated.connect(action)
            self.shortcuts[key] = shortcut

    def _remember(self, **changes: object) -> None:
        self.settings = self.settings.updated(**changes)
        if self.persist:
            try:
                save_settings(self.settings)
            except OSError as exc:  # e.g. a read-only home: the console goes on, unsaved
                logging.getLogger(__name__).warning("settings not saved: %s", exc)
                self.persist = False  # said once

    # ------------------------------------------------------------ sources of frames

    def use_session(self, session: LiveSession) -> None:
        """Show this session (the previous one is closed); it gets the background kept for this
        case and window, or none (BACKGROUND NOT SET)."""
        if self.session is not None:
            self.session.close()
        self.session = session
        self.background_step.apply(session, self.settings.isotope)
        if self._pending_notice:
            session.notify(self._pending_notice)
            self._pending_notice = ""
        self.cases.set_session(session)
        if session.navigator is not None:
            self.navigation.record_into(session.recorder)
        self._tab_changed(self.tabs.currentIndex())

    def use_training(self, sim: TrainingSim) -> None:
        """Training mode on this simulation (the previous one is stopped)."""
        if self.training_sim is not None and self.training_sim is not sim:
            self.training_sim.stop()
        self.training_sim = sim
        self.training.attach(sim)
        self.training.show()
        navigator = self.navigation.start_training(sim)
        self.use_session(open_session(sim.url, "probelink", self.settings, navigator))

    def switch_scenario(self, name: str) -> None:
        """Start a fresh simulated patient."""
        speed = self.training_sim.server.speed if self.training_sim is not None else 1.0
        if self.session is not None:
            self.session.close()
            self.session = None
        self.navigation.stop()
        if self.training_sim is not None:
            self.training_sim.stop()
            self.training_sim = None
        self._remember(scenario=name)
        self.background_step.case_opened(None, f"sim:{name}")  # another patient: none carried
        self.cases.close_case()
        self.use_training(TrainingSim(name, speed=speed))

    def connect_device(self, url: str, protocol: str) -> None:
        """Leave training (if on) and connect to a real device."""
        from probe_nav.drivers.errors import DriverError
        from probe_nav.errors import UserError

        if not url:
            self.say("type or choose a port first")
            return
        try:
            session = open_session(url, protocol, self.settings)
        except (DriverError, UserError) as exc:
            self.say(str(exc))
            return
        self.navigation.stop()  # the simulator's tracker goes with it
        if self.training_sim is not None:
            self.training_sim.stop()
            self.training_sim = None
        self.training.hide()
        self._remember(device_url=url, protocol=protocol)
        # another probe: its counts, its background (the case stays open)
        self.background_step.case_opened(self.cases.case_id, f"{protocol} {url}")
        self.use_session(session)

    # ------------------------------------------------------------ actions

    def set_meter(self, name: str) -> None:
        """Change the rate meter."""
        if self.session is not None:
            self.session.set_meter(name)
        self.controls.select(meter=name)
        self._remember(meter=name)

    def set_isotope(self, name: str) -> None:
        """Isotope preset: the device's window 0 where supported, and the case's nuclide."""
        window = NUCLIDES[name].window
        if self.session is not None and not self.session.set_window(
                window.lo_kev, window.hi_kev, name):
            self.say(f"{name}: this device's window cannot be set")
        elif self.session is not None and name != self.settings.isotope:
            self.background_step.apply(self.session, name)  # another window, its background
        self.controls.select(isotope=name)
        self.cases.nuclide = name
        self._remember(isotope=name)

    def start_timed_count(self, preset_s: float) -> None:
        """Timed count with this preset."""
        if self.session is not None:
            self.session.start_timed_count(preset_s)

    def start_background(self) -> None:
        """B: measure the background (asks once before replacing one; opens a case if none is
        open, and says so: the background belongs to a case)."""
        if self.session is None:
            return
        press = self.background_step.press(self.session, self.settings.background_s)
        message = press.message
        if press.started:
            self.dual.start_background(self.settings.background_s)
        if press.started and self.cases.case_id is None:
            opened = self.cases.new_case()
            message = (f"no case was open: started case {opened}. {message}" if opened else
                       f"{message} (NOT RECORDED in a case: {self.cases.pending_label.text()})")
        self.say(message)

    def say(self, message: str) -> None:
        """A message for the user under the readout (through the session's notice, which every
        refresh shows, so it is not overwritten at the next refresh)."""
        if self.session is not None:
            self.session.notify(message)
        else:
            self.readout.notice_label.setText(message)
            self._pending_notice = message  # handed to the next session

    def _case_opened(self, case_id: str) -> None:
        """Another case is open: its own backgrounds (a new case has none yet)."""
        self.dosimetry.follow_case(case_id)
        if case_id != self.background_step.book.case_id:
            self.background_step.case_opened(case_id)
            if self.session is not None:
                self.background_step.apply(self.session, self.settings.isotope)

    def enter_background(self) -> None:
        """Shift+B: type a background rate (from an earlier measurement or the protocol)."""
        from PySide6.QtWidgets import QInputDialog

        if self.session is None:
            return
        current = self.session.background
        value, ok = QInputDialog.getDouble(
            self, "Background", "Background rate (cps):",
            current.rate_cps if current is not None else 0.0, 0.0, 1e7, 2)
        if ok and self.session is not None:
            entry = self.background_step.enter(self.session, value, self.settings.isotope)
            self.say(f"background entered: {entry.background.rate_cps:g} cps")

    def _tab_changed(self, index: int) -> None:
        if self.session is not None:
            self.session.enable_spectrum(self.tabs.widget(index) is self.spectrum)

    # ------------------------------------------------------------ the refresh

    def tick(self) -> None:
        """Poll the session, feed the sound, render."""
        if self.session is None:
            return
        snap = self.session.poll()
        if not self.dual.feed(snap):  # dual-isotope feeds the sound from the selected window
            for reading, frame in snap.frames:
                self.audio.update(reading, LinkState.CONNECTED, counts=frame.total_window0,
                                  live_s=frame.live_s, battery_low=snap.battery_low)
        if not snap.live:
            self.audio.update(None, snap.link, battery_low=snap.battery_low)
        ds = display_state(snap, self.audio.available, self.audio.status_text, muted=self.muted,
                           recording=self.session.recorder is not None)
        self.banners.show_banners(ds.banners)
        self.readout.show_state(ds)
        self.controls.show_progress(snap.timed_progress, snap.background_progress)
        if snap.new_timed is not None:
            self.cases.offer(snap.new_timed)
            self.dosimetry.offer(snap.new_timed, snap.background)
        if snap.new_background_count is not None:
            self.cases.offer_background(snap.new_background_count)
        if snap.new_background is not None:  # B finished: kept for this case and window
            entry = self.background_step.measured(snap.new_background, self.settings.isotope)
            self.session.set_background(entry)
            bg = snap.new_background  # the instruction to hold still is over: say so
            self.say(f"background measured: {bg.rate_cps:.3g} ± {bg.sd_cps:.2g} cps "
                     f"({bg.counts} counts in {bg.live_s:.3g} s)")
        self._ticks += 1
        redraw = self._ticks % TREND_EVERY == 0
        self.navigation.tick(redraw and self.tabs.currentWidget() is self.navigate, ds.live)
        if redraw:
            t, rate, sd = self.session.trend(self.trend.window_s)
            bg = snap.background.rate_cps if snap.background is not None else None
            self.trend.show_trend(t, rate, sd, bg, ds.live)
            if self.tabs.currentWidget() is self.spectrum:
                self.spectrum.show_spectrum(snap.spectrum, snap.info)
            if self.training.isVisible():
                self.training.refresh()
        self.last_snapshot, self.last_display = snap, ds

    def closeEvent(self, event: object) -> None:
        self.shutdown()
        super().closeEvent(event)  # type: ignore[arg-type]

    def shutdown(self) -> None:
        """Stop the timer, the sound, the device and the simulator."""
        self.timer.stop()
        self.audio.stop()
        if self.session is not None:
            self.session.close()
            self.session = None
        self.navigation.close()
        if self.training_sim is not None:
            self.training_sim.stop()
            self.training_sim = None
        self.cases.close_store()
        self.sync_banner.stop()
        self.case_db.close()
