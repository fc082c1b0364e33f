"""The retargeter protocol, human-to-robot alignment and human key vectors.

Human keypoints arrive in the human wrist frame (``HandState.keypoints``, MediaPipe
order, m). The robot palm frame has the same axis convention, so the alignment is a
rotation close to identity (calibratable) and a per-operator scale (robot hand size /
human hand size). Key vectors (paper section 3.3):

* ``v_i``: wrist-to-fingertip vectors, one per finger the robot has;
* ``u_j``: thumb-to-fingertip opposition vectors, one per opposing finger.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np

from handitl.assets.hand_description import FINGERS, KEYPOINT_NAMES
from handitl.intervention.streams.frame import HandState
from handitl.retarget.kinematics import HandKinematics

TIP_INDEX = {f: KEYPOINT_NAMES.index(f"{f}_tip") for f in FINGERS}
MIDDLE_MCP = KEYPOINT_NAMES.index("middle_mcp")


class RetargetError(ValueError):
    """A retargeter was used wrongly (e.g. ``retarget`` before ``reset``)."""


@dataclasses.dataclass(frozen=True)
class Alignment:
    """Maps human wrist-frame vectors into the robot palm frame: ``x_rob = scale * R @ x``."""

    rotation: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))
    """(3, 3) rotation from the human wrist frame to the robot palm frame."""
    scale: float = 1.0
    """Robot hand size / human hand size."""

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """(..., 3) human vectors -> robot palm frame."""
        return self.scale * (vectors @ self.rotation.T)


def hand_length(keypoints: np.ndarray) -> float:
    """Wrist-to-middle-MCP plus MCP-to-tip chain length (m) of a keypoint set (21, 3)."""
    chain = keypoints[[0, 9, 10, 11, 12]]
    return float(np.linalg.norm(np.diff(chain, axis=0), axis=1).sum())


def calibrate_alignment(human_open: np.ndarray, kinematics: HandKinematics) -> Alignment:
    """Alignment from one open-hand human frame (21, 3) and the robot's open (zero) pose.

    The scale is the ratio of the wrist-to-middle-tip chain lengths; the rotation is
    the Kabsch fit of the human's wrist-to-fingertip directions onto the robot's, so a
    tracking glove mounted slightly askew is corrected.
    """
    if not np.isfinite(human_open[[0, *TIP_INDEX.values(), 9, 10, 11]]).all():
        raise RetargetError("calibration needs a fully tracked open hand")
    kinematics.set_q(np.clip(np.zeros(kinematics.nq), kinematics.q_lower, kinematics.q_upper))
    robot_kp = kinematics.keypoints()
    scale = hand_length(robot_kp) / hand_length(human_open)
    tips = [TIP_INDEX[f] for f in kinematics.fingers]
    H = (human_open[tips] - human_open[0]).T @ (robot_kp[tips] - robot_kp[0])
    U, _, Vt = np.linalg.svd(H)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    return Alignment(rotation=Vt.T @ D @ U.T, scale=float(scale))


@dataclasses.dataclass(frozen=True)
class HumanKeyVectors:
    """Human key vectors in the robot palm frame (aligned and scaled), m.

    Attributes:
        tips: (f, 3) wrist-to-fingertip vectors v_i for the robot's fingers.
        opposition: (o, 3) thumb-to-fingertip vectors u_j for the opposing fingers.
        thumb_distance: (o,) the human's thumb-finger distances d_j in HUMAN metres
            (gestures are judged on the human hand, whatever the robot's size).
    """

    tips: np.ndarray
    opposition: np.ndarray
    thumb_distance: np.ndarray


@dataclasses.dataclass(frozen=True)
class RetargetResult:
    """One retargeted hand command.

    Attributes:
        q: (nq,) joint targets, rad, within the joint limits.
        held: True if the input was unusable and the last command was repeated.
        reason: why it was held (None otherwise).
        cost: the objective value reached (NaN when held).
        iterations: solver iterations used.
    """

    q: np.ndarray
    held: bool = False
    reason: str | None = None
    cost: float = float("nan")
    iterations: int = 0


@runtime_checkable
class Retargeter(Protocol):
    """Human hand state -> robot hand joint targets."""

    kinematics: HandKinematics

    def reset(self, anchor: HandState, q_robot: np.ndarray) -> None:
        """Anchor at takeover time t0: the human frame and the robot's command then."""

    def retarget(self, human: HandState) -> RetargetResult:
        """The command for this human frame (after :meth:`reset`)."""


class KeyVectorExtractor:
    """Checks a human frame and computes its key vectors for one robot hand."""

    def __init__(self, kinematics: HandKinematics, alignment: Alignment,
                 opposing: tuple[str, ...]) -> None:  # fmt: skip
        self.fingers = kinematics.fingers
        if "thumb" not in self.fingers:
            raise RetargetError("retargeting needs a thumb")
        self.opposing = tuple(f for f in opposing if f in self.fingers and f != "thumb")
        self.alignment = alignment
        self._tips = np.array([TIP_INDEX[f] for f in self.fingers], dtype=np.intp)
        self._opp = np.array([TIP_INDEX[f] for f in self.opposing], dtype=np.intp)
        self._required = np.array([0, *self._tips])

    def problem(self, human: HandState) -> str | None:
        """Why this frame cannot be used (None if it can)."""
        if not human.valid[self._required].all():
            missing = [KEYPOINT_NAMES[k] for k in self._required if not human.valid[k]]
            return f"keypoints not tracked: {', '.join(missing)}"
        if not np.isfinite(human.keypoints[self._required]).all():
            return "non-finite keypoints"
        return None

    def extract(self, human: HandState) -> HumanKeyVectors:
        kp = self.alignment.apply(human.keypoints - human.keypoints[0])
        tips = kp[self._tips]
        opposition = kp[self._opp] - kp[TIP_INDEX["thumb"]]
        distance = np.linalg.norm(opposition, axis=1) / self.alignment.scale
        return HumanKeyVectors(tips, opposition, distance)
