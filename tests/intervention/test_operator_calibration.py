"""Tremor and tracker-noise measurement (operators.calibration), and the profiles set from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handitl.intervention.streams.operators.calibration import (
    high_rate_tick_noise,
    measure_tremor,
    video_rate_tick_noise,
)
from handitl.intervention.streams.operators.profiles import OPERATOR_A, OPERATOR_B

REPO = Path(__file__).resolve().parents[2]
STREAMS = REPO.parent / "shared" / "data" / "human_streams"


def _synthetic(rate: float, seconds: float, tremor_hz: float, tremor_amp: float, noise: float,
               seed: int = 0) -> np.ndarray:  # fmt: skip
    """A hand moving slowly (0.3 Hz, 5 cm) with a tremor sinusoid per axis and white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, seconds, 1.0 / rate)
    phases = rng.uniform(0.0, 2.0 * np.pi, 3)
    tremor = tremor_amp * np.sin(2.0 * np.pi * tremor_hz * t[:, None] + phases)
    sway = 0.05 * np.sin(2.0 * np.pi * 0.3 * t)[:, None] * np.array([1.0, 0.5, -0.3])
    return sway + tremor + rng.normal(0.0, noise, (len(t), 3))


def test_tremor_and_noise_are_recovered_from_a_known_signal() -> None:
    """A 9 Hz tremor of 0.3 mm per axis (0.367 mm RMS in 3D) and 0.05 mm of white noise on a
    slow 5 cm sway, at 100 Hz: tremor RMS within 5%, centre within 0.3 Hz, noise within 10%;
    a lost stretch (NaN) is bridged; rates too low for the bands are refused."""
    x = _synthetic(100.0, 60.0, 9.0, 3e-4, 5e-5)
    x[1000:1010] = np.nan
    tremor = measure_tremor(x, 100.0)
    assert tremor.rms == pytest.approx(np.sqrt(3.0 / 2.0) * 3e-4, rel=0.05)
    assert tremor.frequency == pytest.approx(9.0, abs=0.3) and tremor.bandwidth < 1.0
    assert high_rate_tick_noise(x, 100.0) == pytest.approx(5e-5, rel=0.1)
    with pytest.raises(ValueError, match="rate"):
        measure_tremor(x, 25.0)
    with pytest.raises(ValueError, match="rate"):
        high_rate_tick_noise(x, 40.0)


def test_video_rate_noise_from_the_quiet_frames() -> None:
    """30 fps points that hold still for half the time and move for the rest, with 0.5 mm
    of white noise per axis: the quiet frames' second differences give 0.5 mm within 10%."""
    rng = np.random.default_rng(1)
    t = np.arange(600) / 30.0
    move = np.where(t[:, None] > 10.0, 0.1 * np.sin(2.0 * np.pi * 0.5 * t)[:, None], 0.0)
    points = np.repeat((move * np.array([1.0, 0.2, 0.0]))[:, None], 5, axis=1)
    points = points + rng.normal(0.0, 5e-4, points.shape)
    assert video_rate_tick_noise(points) == pytest.approx(5e-4, rel=0.1)
    with pytest.raises(ValueError, match="quiet_fraction"):
        video_rate_tick_noise(points, quiet_fraction=0.0)


def test_profiles_carry_the_measured_figures() -> None:
    """On the shared real recordings (skipped without ../shared): operator_a's fingertip
    and wrist tremor, tremor centre and spread, and tracker noise are the mocap's medians
    within 10%; operator_b's tracker noise is the MediaPipe stream's."""
    if not (STREAMS / "qualisys_hand_markers_100hz.tsv").is_file():
        pytest.skip(f"real human stream recordings not found at {STREAMS} (needs the ../shared checkout)")
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "measure_operator_noise.py"), "--json"],
                         capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    figures = json.loads(out.stdout)
    tips = figures["fingertips_median"]
    assert 1e3 * OPERATOR_A.tremor_rms == pytest.approx(tips["tremor_mm"], rel=0.1)
    assert 1e3 * OPERATOR_A.wrist_tremor_rms == pytest.approx(figures["wrist_tremor_mm"], rel=0.1)
    assert OPERATOR_A.tremor_frequency == pytest.approx(tips["tremor_hz"], rel=0.1)
    assert OPERATOR_A.tremor_bandwidth == pytest.approx(tips["spread_hz"], rel=0.1)
    assert 1e3 * OPERATOR_A.tracking_noise_rms == pytest.approx(tips["tick_noise_mm"], rel=0.1)
    assert 1e3 * OPERATOR_B.tracking_noise_rms == pytest.approx(figures["mediapipe_tick_noise_mm"], rel=0.1)
