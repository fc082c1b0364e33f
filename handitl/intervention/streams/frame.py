"""``HumanFrame``: one instant of a human operator's hands, wrists and pedals.

Conventions (also in ``docs/conventions.md``):

* Units: metres, seconds, radians. Quaternions are (w, x, y, z), unit norm, w >= 0 is
  NOT enforced (both covers are valid; compare rotations, not quaternions).
* Operator world frame: right-handed, +z up, fixed for a recording (e.g. the VR play
  space or the mocap lab frame). Wrist poses are given in it.
* Wrist frame (per hand), the human twin of the robot palm frame: origin at the wrist
  keypoint; +z from the wrist toward the middle-finger MCP; +x the palmar normal (out of
  the palm); +y = z x x, toward the thumb on a right hand and away from it on a left hand.
  Keypoints are expressed in this frame, so a left hand is the mirror image (y negated)
  of a right hand making the same gesture.
* Keypoints: the 21 MediaPipe landmarks in MediaPipe order
  (:data:`handitl.assets.hand_description.KEYPOINT_NAMES`); keypoint 0 (wrist) is the
  origin of the wrist frame.
* Validity: ``valid[k]`` False means "not observed"; the coordinates of an invalid
  keypoint are NaN, never invented. A hand that is not tracked at all is ``None``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from handitl.assets.hand_description import KEYPOINT_NAMES, SIDES, Side

NUM_KEYPOINTS = len(KEYPOINT_NAMES)


class FrameError(ValueError):
    """A human frame's content is malformed (shape, dtype, non-finite valid data)."""


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


@dataclasses.dataclass(frozen=True)
class HandState:
    """One hand at one instant.

    Attributes:
        wrist_pos: (3,) wrist position in the operator world frame, m (NaN if untracked).
        wrist_quat: (4,) wrist-frame orientation in the operator world frame (w, x, y, z).
        wrist_valid: whether the wrist pose was observed.
        keypoints: (21, 3) keypoints in the wrist frame, m, MediaPipe order; NaN where invalid.
        valid: (21,) bool, whether each keypoint was observed.
        confidence: (21,) float in [0, 1]; 0 where invalid.
    """

    wrist_pos: np.ndarray
    wrist_quat: np.ndarray
    wrist_valid: bool
    keypoints: np.ndarray
    valid: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        # Copies made read-only: a frame handed to several consumers cannot be edited.
        for name, shape, dtype in (("wrist_pos", (3,), np.float64), ("wrist_quat", (4,), np.float64),
                                   ("keypoints", (NUM_KEYPOINTS, 3), np.float64),
                                   ("valid", (NUM_KEYPOINTS,), np.bool_),
                                   ("confidence", (NUM_KEYPOINTS,), np.float64)):  # fmt: skip
            value = np.asarray(getattr(self, name))
            if value.shape != shape:
                raise FrameError(f"HandState.{name} has shape {value.shape}, expected {shape}")
            if dtype is np.bool_ and value.dtype != np.bool_:
                raise FrameError(f"HandState.{name} must be bool, got {value.dtype}")
            object.__setattr__(self, name, _frozen(value.astype(dtype, copy=False)))
        if self.wrist_valid:
            if not (np.isfinite(self.wrist_pos).all() and np.isfinite(self.wrist_quat).all()):
                raise FrameError("HandState: wrist_valid but the wrist pose is not finite")
            norm = float(np.linalg.norm(self.wrist_quat))
            if not math.isclose(norm, 1.0, abs_tol=1e-6):
                raise FrameError(f"HandState.wrist_quat must be unit norm, got |q| = {norm:.6g}")
        if not np.isfinite(self.keypoints[self.valid]).all():
            raise FrameError("HandState: a keypoint marked valid is not finite")
        if ((self.confidence < 0) | (self.confidence > 1)).any():
            raise FrameError("HandState.confidence must lie in [0, 1]")

    @classmethod
    def trusted(cls, wrist_pos: np.ndarray, wrist_quat: np.ndarray, wrist_valid: bool,
                keypoints: np.ndarray, valid: np.ndarray, confidence: np.ndarray) -> HandState:  # fmt: skip
        """A hand state from float64/bool arrays of the right shapes already known to hold
        the invariants checked in ``__post_init__`` - e.g. interpolated between samples of
        a validated recording (finite where valid, unit quaternion, confidence in [0, 1]).
        Skips the checks (half of a resampled stream read's time), still freezes copies."""
        state = object.__new__(cls)
        for name, value in (("wrist_pos", wrist_pos), ("wrist_quat", wrist_quat), ("keypoints", keypoints),
                            ("valid", valid), ("confidence", confidence)):  # fmt: skip
            object.__setattr__(state, name, _frozen(value))
        object.__setattr__(state, "wrist_valid", bool(wrist_valid))
        return state

    @property
    def num_valid(self) -> int:
        return int(self.valid.sum())


@dataclasses.dataclass(frozen=True)
class PedalState:
    """Foot pedals / buttons; True = pressed."""

    takeover: bool = False
    """Full-takeover pedal."""
    copilot: bool = False
    """Copilot (shared-authority) pedal."""


@dataclasses.dataclass(frozen=True)
class HumanFrame:
    """Both hands and the pedals at time ``t`` (s, on the stream's own clock)."""

    t: float
    hands: Mapping[Side, HandState | None]
    pedals: PedalState = PedalState()

    def __post_init__(self) -> None:
        if not math.isfinite(self.t):
            raise FrameError(f"HumanFrame.t must be finite, got {self.t}")
        unknown = set(self.hands) - set(SIDES)
        if unknown:
            raise FrameError(f"HumanFrame.hands has unknown sides {unknown}; use Side.LEFT/RIGHT")
        full = {side: self.hands.get(side) for side in SIDES}
        object.__setattr__(self, "hands", MappingProxyType(full))

    def hand(self, side: Side) -> HandState | None:
        return self.hands[side]


def untracked_hand() -> HandState:
    """A hand that was not observed at all (every value invalid, coordinates NaN)."""
    return HandState(
        wrist_pos=np.full(3, np.nan),
        wrist_quat=np.full(4, np.nan),
        wrist_valid=False,
        keypoints=np.full((NUM_KEYPOINTS, 3), np.nan),
        valid=np.zeros(NUM_KEYPOINTS, dtype=bool),
        confidence=np.zeros(NUM_KEYPOINTS),
    )
