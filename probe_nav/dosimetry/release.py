"""When the dose rate at 1 m from the patient falls to a release limit (I-131 therapy): the
dose rate is the calibration factor (uSv/h at 1 m per net cps in the series' geometry) times the
fitted net rate, which decreases monotonically, so the time is unique."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from probe_nav.dosimetry.fit import RetentionFit


def release_time_h(fit: RetentionFit, usv_h_per_cps: float, limit_usv_h: float,
                   usv_h_per_cps_sd: float = 0.0) -> tuple[float, float]:
    """(t_h, sd_h): hours after administration when usv_h_per_cps x fit.rate_cps(t) reaches
    limit_usv_h; (0, 0) if the fitted curve is at or below the limit from administration on.
    The sd is the delta method through the fit's covariance (implicit function: dt = -dm/m'),
    plus the calibration factor's own sd when given. ValueError for a factor or limit that is
    not a finite number > 0."""
    for name, value in (("usv_h_per_cps", usv_h_per_cps), ("limit_usv_h", limit_usv_h)):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {value}")
    if not math.isfinite(usv_h_per_cps_sd) or usv_h_per_cps_sd < 0:
        raise ValueError(f"usv_h_per_cps_sd must be a finite number >= 0, got {usv_h_per_cps_sd}")
    target_cps = limit_usv_h / usv_h_per_cps
    a0_cps = float(fit.rate_cps(0.0)[0])
    if a0_cps <= target_cps:
        return 0.0, 0.0
    k_slowest = min(fit.theta[1:3]) if fit.model == "bi" else fit.theta[1]
    t_upper = math.log(a0_cps / target_cps) / k_slowest  # every component is <= A0 e^-k_min t
    if fit.model == "mono":
        t_h = t_upper
    else:
        t_h = brentq(lambda t: math.log(float(fit.rate_cps(t)[0]) / target_cps), 0.0, t_upper,
                     xtol=1e-12, rtol=1e-14)
    slope_cps_per_h = _slope(fit, t_h)  # < 0
    dt_dtheta = -fit.rate_gradient(t_h)[0] / slope_cps_per_h
    var_h2 = float(fit.sd_of(dt_dtheta)[0]) ** 2
    # m(t) = limit / K: d t / d ln K = -m / m'
    dt_dlnk = -target_cps / slope_cps_per_h
    var_h2 += (dt_dlnk * usv_h_per_cps_sd / usv_h_per_cps) ** 2
    return float(t_h), math.sqrt(var_h2)


def _slope(fit: RetentionFit, t_h: float) -> float:
    """d rate / dt of the fitted curve at t_h, cps per hour."""
    theta = np.array(fit.theta)
    a0 = math.exp(theta[0])
    if fit.model == "mono":
        return float(-theta[1] * a0 * math.exp(-theta[1] * t_h))
    _, k1, k2, f = theta
    return float(-a0 * (f * k1 * math.exp(-k1 * t_h) + (1 - f) * k2 * math.exp(-k2 * t_h)))
