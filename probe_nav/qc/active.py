"""The active calibration of a probe: the newest stored energy, sensitivity and dead-time records
of that very probe (model and serial), applied to what the device reports about itself."""

from __future__ import annotations

from dataclasses import dataclass, replace

from probe_nav.drivers.frames import DeviceInfo
from probe_nav.qc.store import CALIBRATION, Probe, QcStore

ENERGY = "energy"
SENSITIVITY = "sensitivity"
DEAD_TIME = "deadtime"


@dataclass(frozen=True, slots=True)
class ActiveCalibration:
    """What is calibrated for one probe; None where nothing is stored. Record ids for tracing."""

    probe: Probe | None
    energy_coefficients: tuple[float, ...] | None = None
    energy_record: int | None = None
    cps_per_mbq: float | None = None
    sensitivity_record: int | None = None
    dead_time_s: float | None = None
    dead_time_model: str | None = None
    dead_time_record: int | None = None

    def apply(self, info: DeviceInfo) -> DeviceInfo:
        """The device's identity with the stored energy calibration in place of its own."""
        if self.energy_coefficients is None:
            return info
        return replace(info, energy_calibration=tuple(self.energy_coefficients))


def active_calibration(store: QcStore, model: str, serial: str) -> ActiveCalibration:
    """The newest calibration of each kind for the probe (TamperedRecord if one is bad)."""
    probe = store.find_probe(model, serial)
    if probe is None:
        return ActiveCalibration(None)
    values: dict[str, object] = {}
    energy = store.latest(probe, CALIBRATION, ENERGY)
    if energy is not None:
        values["energy_coefficients"] = tuple(float(c) for c in energy.result["coefficients"])
        values["energy_record"] = energy.id
    sens = store.latest(probe, CALIBRATION, SENSITIVITY)
    if sens is not None:
        values["cps_per_mbq"] = float(sens.result["cps_per_mbq"])
        values["sensitivity_record"] = sens.id
    dead = store.latest(probe, CALIBRATION, DEAD_TIME)
    if dead is not None:
        values["dead_time_s"] = float(dead.result["dead_time_s"])
        values["dead_time_model"] = str(dead.result.get("model", ""))
        values["dead_time_record"] = dead.id
    return ActiveCalibration(probe, **values)  # type: ignore[arg-type]


def calibrated_info(store: QcStore, info: DeviceInfo) -> tuple[DeviceInfo, ActiveCalibration]:
    """The device's identity with its active calibration applied, and that calibration."""
    active = active_calibration(store, info.model, info.serial)
    return active.apply(info), active
