"""Measuring an operator's imperfection in real recordings: tremor and per-tick noise.

The simulated operators' tremor and tracking noise (:mod:`.profiles`) are set from these
figures, measured on real hand recordings (``scripts/measure_operator_noise.py`` on the
streams in ``../shared/data/human_streams/``):

* **Tremor**: the 6-14 Hz band of a marker's position, whole recording. Voluntary hand
  movement carries little power above ~5 Hz and physiological tremor lies at 8-12 Hz, so
  the band holds the tremor (and the top of voluntary motion, which makes the figure an
  upper bound). RMS of the 3D norm; centre frequency and spread are the band's spectral
  centroid and standard deviation (Welch spectrum).
* **Per-tick noise** of a tracker: what changes from frame to frame that no hand can do.
  At a high rate (mocap, 100 Hz) the band above 25 Hz; at a video rate, where tremor and
  voluntary motion fill the band, the second difference of the quietest frames
  (``quiet_fraction`` of them, by speed): white noise of RMS s per axis gives a second
  difference of variance 6 s^2, and slow motion adds little to it.
* **Drift** (postural sway, 0.05-0.4 Hz) needs the hand held still for tens of seconds,
  which neither recording has (the mocap's longest still stretch, palm slower than 2 cm/s,
  lasts 1 s), so it is not measured: the profiles keep plausible values, and say so.
"""

from __future__ import annotations

import dataclasses

import numpy as np

TREMOR_BAND = (6.0, 14.0)
"""Hz: the band taken as tremor."""
TICK_NOISE_CUTOFF = 25.0
"""Hz: above this, motion in a high-rate recording is tracking noise."""


@dataclasses.dataclass(frozen=True)
class Tremor:
    """Tremor of one marker."""

    rms: float
    """RMS of the 3D norm of the band-passed position, m."""
    frequency: float
    """Spectral centroid of the band, Hz."""
    bandwidth: float
    """Spectral standard deviation around the centroid, Hz."""


def _finite_rows(positions: np.ndarray) -> np.ndarray:
    """(T, 3) positions with lost samples (NaN rows) filled by linear interpolation."""
    x = np.array(positions, dtype=float)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"positions must be (T, 3), got {x.shape}")
    ok = np.isfinite(x).all(axis=1)
    if ok.sum() < 2:
        raise ValueError("fewer than two finite samples")
    idx = np.arange(len(x))
    for axis in range(3):
        x[~ok, axis] = np.interp(idx[~ok], idx[ok], x[ok, axis])
    return x


def measure_tremor(positions: np.ndarray, rate_hz: float) -> Tremor:
    """Tremor of a (T, 3) marker track (m) sampled at ``rate_hz`` (> 2 x 14 Hz)."""
    from scipy import signal

    lo, hi = TREMOR_BAND
    if rate_hz <= 2.0 * hi:
        raise ValueError(f"tremor needs a rate above {2 * hi:g} Hz, got {rate_hz:g}")
    x = _finite_rows(positions)
    sos = signal.butter(4, [lo, hi], btype="band", fs=rate_hz, output="sos")
    band = signal.sosfiltfilt(sos, x, axis=0)
    f, power = signal.welch(x, fs=rate_hz, nperseg=min(len(x), int(5 * rate_hz)), axis=0)
    power = power.sum(axis=1)
    inside = (f >= lo) & (f <= hi)
    weights = power[inside] / power[inside].sum()
    centre = float(f[inside] @ weights)
    spread = float(np.sqrt(((f[inside] - centre) ** 2) @ weights))
    return Tremor(rms=float(np.sqrt((band**2).sum(axis=1).mean())), frequency=centre, bandwidth=spread)


def high_rate_tick_noise(positions: np.ndarray, rate_hz: float) -> float:
    """Per-axis RMS of a (T, 3) track's content above ``TICK_NOISE_CUTOFF``, m: the tracker's
    frame-to-frame noise at a rate that resolves every motion a hand makes."""
    from scipy import signal

    if rate_hz <= 2.0 * TICK_NOISE_CUTOFF:
        raise ValueError(f"needs a rate above {2 * TICK_NOISE_CUTOFF:g} Hz, got {rate_hz:g}")
    x = _finite_rows(positions)
    sos = signal.butter(4, TICK_NOISE_CUTOFF, btype="high", fs=rate_hz, output="sos")
    high = signal.sosfiltfilt(sos, x, axis=0)
    # The band is the top (1 - 2 cutoff / rate) of white noise's spectrum: scale back up.
    kept = 1.0 - 2.0 * TICK_NOISE_CUTOFF / rate_hz
    return float(np.sqrt((high**2).mean() / kept))


def video_rate_tick_noise(points: np.ndarray, quiet_fraction: float = 0.3) -> float:
    """Per-axis RMS frame noise of (T, P, 3) tracked points (m) at a video rate, from the
    second differences of the quietest ``quiet_fraction`` of frames (by mean speed)."""
    x = np.asarray(points, dtype=float)
    if x.ndim != 3 or x.shape[-1] != 3 or len(x) < 4:
        raise ValueError(f"points must be (T >= 4, P, 3), got {x.shape}")
    if not 0.0 < quiet_fraction <= 1.0:
        raise ValueError(f"quiet_fraction must be in (0, 1], got {quiet_fraction}")
    second = x[2:] - 2.0 * x[1:-1] + x[:-2]
    speed = np.linalg.norm(x[2:] - x[:-2], axis=-1).mean(axis=1)
    quiet = speed <= np.quantile(speed, quiet_fraction)
    return float(np.sqrt((second[quiet] ** 2).mean() / 6.0))


__all__ = [
    "TICK_NOISE_CUTOFF",
    "TREMOR_BAND",
    "Tremor",
    "high_rate_tick_noise",
    "measure_tremor",
    "video_rate_tick_noise",
]
