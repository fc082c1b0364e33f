"""Operator profiles: who the simulated human is (hand size, neutral pose, tremor, delay, reach).

Operator world frame (the play space): right-handed, +z up, +x forward from the
operator's chest, +y to the operator's left, origin on the floor below the sternum.
Profile positions are given for the RIGHT arm; the left arm is the mirror image (y
negated). Wrist orientations follow the wrist frame convention of
:mod:`handitl.intervention.streams.frame`.

The two profiles stand in for the paper's two operators (HandITL §4: results are
reported per operator). Tremor and tracking noise are measured on real recordings
(:mod:`.calibration`, ``scripts/measure_operator_noise.py``: a 100 Hz marker mocap of a
hand and a MediaPipe video stream); the rest are plausible adult values, not
measurements: drift (no recording holds the hand still long enough), visuo-motor
reaction times to a seen change (~150-300 ms), a comfortable (not maximal) reach of the
wrist from the shoulder (~60-75% of arm length, the ergonomic "normal working area").
"""

from __future__ import annotations

import dataclasses
import math
from types import MappingProxyType

import numpy as np

from handitl.assets.hand_description import Side
from handitl.intervention.streams.human_hand import JOINT_LOWER, JOINT_UPPER, NUM_JOINTS

_MIRROR = np.array([1.0, -1.0, 1.0])

HOME_WRIST_QUAT = (math.sqrt(0.5), 0.0, math.sqrt(0.5), 0.0)
"""Wrist orientation at home (w, x, y, z): fingers forward (+z_wrist = +x_world), palm down
(+x_wrist = -z_world): +90 deg about world y. The same for both hands (M R M = R for
the y-reflection M), and +y_wrist = +y_world is toward a right thumb, away from a left one."""


class ProfileError(ValueError):
    """An operator profile is malformed or unknown."""


@dataclasses.dataclass(frozen=True)
class ArmWorkspace:
    """Where an operator's wrist can comfortably go: a sphere around the shoulder.

    Positions are for the right arm in the operator world frame, m; :meth:`shoulder` and
    :meth:`home` mirror them for the left arm.
    """

    shoulder: tuple[float, float, float]
    """Right shoulder joint centre, m."""
    reach: float
    """Comfortable wrist distance from the shoulder, m (the sphere's radius)."""
    home: tuple[float, float, float]
    """Right wrist rest position (inside the sphere), m: where resets return to."""

    def __post_init__(self) -> None:
        dist = float(np.linalg.norm(np.subtract(self.home, self.shoulder)))
        if not 0.0 < dist < self.reach:
            raise ProfileError(f"home must lie strictly inside the reach sphere, got {self}")

    def shoulder_pos(self, side: Side) -> np.ndarray:
        """(3,) shoulder of ``side`` in the operator world, m."""
        p = np.asarray(self.shoulder, dtype=float)
        return p if side is Side.RIGHT else p * _MIRROR

    def home_pos(self, side: Side) -> np.ndarray:
        """(3,) wrist rest position of ``side`` in the operator world, m."""
        p = np.asarray(self.home, dtype=float)
        return p if side is Side.RIGHT else p * _MIRROR

    def excess(self, pos: np.ndarray, side: Side) -> np.ndarray:
        """How far (..., 3) wrist positions lie outside the sphere, m (<= 0 inside)."""
        return np.linalg.norm(np.asarray(pos) - self.shoulder_pos(side), axis=-1) - self.reach


@dataclasses.dataclass(frozen=True)
class OperatorProfile:
    """A simulated person. Lengths in m, times in s, angles in rad."""

    name: str
    """Registry id, e.g. ``"operator_a"``."""
    hand_scale: float
    """Hand size relative to the average adult male hand (``HumanHandModel.scale``)."""
    neutral_pose: tuple[float, ...]
    """(21,) relaxed joint vector (``human_hand.JOINT_NAMES`` order): their "relaxed" gesture."""
    tremor_rms: float
    """Physiological tremor: RMS displacement of each fingertip, m."""
    wrist_tremor_rms: float
    """Physiological tremor: RMS displacement of the wrist, m."""
    tremor_frequency: float
    """Centre frequency of the tremor, Hz (physiological: 8-12)."""
    tremor_bandwidth: float
    """Spread (std) of the tremor's component frequencies around the centre, Hz."""
    drift_rms: float
    """Slow wander of the wrist position (0.05-0.4 Hz), RMS per axis-norm, m."""
    finger_drift_rms: float
    """Slow wander of each finger joint angle, RMS, rad."""
    reaction_delay: float
    """Time from a change in what they see to the start of their response, s."""
    workspace: ArmWorkspace
    """Comfortable arm workspace."""
    tracking_noise_rms: float = 0.0
    """Per-frame noise of their hand tracker on the wrist and every keypoint, m per axis
    (white: frame to frame independent; measured, see :mod:`.calibration`)."""
    perception_rms: float = 0.0
    """Error of where they believe an object is, m per axis (one offset per episode: a
    headset's stereo view misjudges depth by a few millimetres)."""
    max_wrist_speed: float = 0.5
    """Bound on the wrist's intended linear speed, m/s."""
    max_wrist_angular_speed: float = 3.0
    """Bound on the wrist's intended angular speed, rad/s."""
    max_finger_speed: float = 3.0
    """Bound on each finger joint's intended speed, rad/s."""

    def __post_init__(self) -> None:
        if len(self.neutral_pose) != NUM_JOINTS:
            raise ProfileError(f"{self.name}: neutral_pose needs {NUM_JOINTS} angles")
        q = np.asarray(self.neutral_pose)
        if ((q < JOINT_LOWER) | (q > JOINT_UPPER)).any():
            raise ProfileError(f"{self.name}: neutral_pose lies outside the joint limits")
        positive = (self.hand_scale, self.tremor_frequency, self.max_wrist_speed,
                    self.max_wrist_angular_speed, self.max_finger_speed)  # fmt: skip
        nonneg = (self.tremor_rms, self.wrist_tremor_rms, self.tremor_bandwidth, self.drift_rms,
                  self.finger_drift_rms, self.reaction_delay, self.perception_rms,
                  self.tracking_noise_rms)  # fmt: skip
        if min(positive) <= 0.0 or min(nonneg) < 0.0 or not all(map(math.isfinite, positive + nonneg)):
            raise ProfileError(f"{self.name}: scales, rates and amplitudes must be >= 0 (speeds > 0)")

    @property
    def neutral(self) -> np.ndarray:
        """(21,) neutral joint vector, rad."""
        return np.asarray(self.neutral_pose, dtype=float)

    def still(self) -> OperatorProfile:
        """The same person without tremor or drift (for tests and clean references)."""
        return dataclasses.replace(self, tremor_rms=0.0, wrist_tremor_rms=0.0, drift_rms=0.0,
                                   finger_drift_rms=0.0, tracking_noise_rms=0.0)  # fmt: skip


def _neutral(thumb: tuple[float, ...], *fingers: tuple[float, float, float, float]) -> tuple[float, ...]:
    return (*thumb, *(v for f in fingers for v in f))


OPERATOR_A = OperatorProfile(
    name="operator_a",
    hand_scale=1.05,
    # Nearly the model's "relaxed" pose: a loose hand, fingers slightly flexed.
    neutral_pose=_neutral((0.45, 0.15, 0.0, 0.15, 0.10), (0.05, 0.20, 0.30, 0.15),
                          (0.0, 0.25, 0.35, 0.15), (0.05, 0.30, 0.40, 0.20),
                          (0.10, 0.35, 0.45, 0.20)),  # fmt: skip
    # Tremor and tracking noise measured (scripts/measure_operator_noise.py) on the mocap
    # recording, medians over the markers: fingertips 0.35 mm (0.33-0.61), back of the
    # hand 0.11 mm, centred on 8.3 Hz with a 1.9 Hz spread; marker noise above 25 Hz
    # 0.07 mm per axis. Drift is not measurable there (no still stretch): kept.
    tremor_rms=0.00035,
    wrist_tremor_rms=0.00011,
    tremor_frequency=8.3,
    tremor_bandwidth=1.9,
    tracking_noise_rms=0.00007,
    drift_rms=0.0015,
    finger_drift_rms=0.01,
    reaction_delay=0.15,
    perception_rms=0.0015,
    # Taller person (shoulder at 1.45 m); home (elbow bent, forearm forward and down) is
    # 0.30 m from the shoulder, leaving ~0.19 m of comfortable reach straight ahead.
    workspace=ArmWorkspace(shoulder=(0.0, -0.19, 1.45), reach=0.45, home=(0.20, -0.21, 1.23)),
)
"""Larger hand, loose neutral pose, low tremor, quick reactions, long comfortable reach."""

OPERATOR_B = OperatorProfile(
    name="operator_b",
    hand_scale=0.92,
    # A more curled rest: fingers and thumb more flexed, stronger ulnar cascade.
    neutral_pose=_neutral((0.70, 0.35, 0.0, 0.35, 0.30), (0.0, 0.45, 0.55, 0.30),
                          (0.0, 0.50, 0.60, 0.30), (0.05, 0.60, 0.70, 0.35),
                          (0.15, 0.70, 0.80, 0.40)),  # fmt: skip
    # Half again operator_a's measured tremor (a less steady hand: an assumption, one
    # subject was recorded), and the per-frame noise measured on the MediaPipe recording
    # (0.48 mm per axis: camera hand tracking, scripts/measure_operator_noise.py).
    tremor_rms=0.0005,
    wrist_tremor_rms=0.00016,
    tremor_frequency=8.8,
    tremor_bandwidth=1.9,
    tracking_noise_rms=0.00048,
    drift_rms=0.0025,
    finger_drift_rms=0.015,
    reaction_delay=0.25,
    perception_rms=0.0025,
    max_wrist_speed=0.4,
    # Shorter person (shoulder at 1.33 m); home is 0.23 m from the shoulder, ~0.15 m of
    # comfortable reach straight ahead.
    workspace=ArmWorkspace(shoulder=(0.0, -0.17, 1.33), reach=0.35, home=(0.15, -0.19, 1.16)),
)
"""Smaller hand, more flexed neutral pose, more tremor, slower reactions, shorter reach."""

PROFILES = MappingProxyType({p.name: p for p in (OPERATOR_A, OPERATOR_B)})
"""Named profiles (read-only)."""


def get_profile(name: str) -> OperatorProfile:
    """The profile registered as ``name``; raises :class:`ProfileError` naming the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(f"unknown operator {name!r}; known: {', '.join(PROFILES)}") from None
