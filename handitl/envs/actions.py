"""The env's flat action vector: its layout, bounds, validation and decoding.

Layout, for each side in the order (left, right):

* ``ActionMode.EE_POSE``: ``[pos(3), rotvec(3), hand(n)]``
* ``ActionMode.EE_POSE_TWIST``: ``[pos(3), rotvec(3), twist(6), hand(n)]``
* ``ActionMode.JOINT``: ``[arm_q(7), hand(n)]``

``pos`` is the palm-frame (wrist) position target in the world frame, m; ``rotvec``
its orientation target as a world-frame rotation vector (axis * angle, rad); ``twist``
a feed-forward spatial velocity of the palm frame (linear m/s, then angular rad/s,
world frame); ``hand`` the hand joint targets, rad, in the hand description's joint
order; ``arm_q`` the arm joint targets, rad. ``n`` is the hand's joint count (21 for
the procedural hand).

Values outside the Box are clipped to it (documented behaviour: ``info["action_clipped"]``
says when); a wrong shape, NaN or inf raises :class:`ActionError`, so no NaN reaches
MuJoCo.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import mujoco
import numpy as np
from gymnasium import spaces

from handitl.assets import fr3_constants as fr3c
from handitl.assets.hand_description import SIDES
from handitl.envs.errors import ActionError
from handitl.envs.robot import RobotBindings

CLIP_REPORT_TOLERANCE = 1e-6
"""Clipping smaller than this (float32 rounding of the Box bounds) is not reported."""


def _inward_float32(bound: np.ndarray, *, up: bool) -> np.ndarray:
    """``bound`` as float32, rounded toward the inside of the range: an action clipped to
    the Box then never exceeds the exact float64 limit (1.57 in float32 is 1.5700000525,
    which downstream code clamping to 1.57 would see as a 5e-8 rad jump)."""
    out = bound.astype(np.float32)
    outside = out < bound if up else out > bound
    toward = np.float32(np.inf) if up else np.float32(-np.inf)
    out[outside] = np.nextafter(out[outside], toward)
    return out


class ActionMode(str, enum.Enum):
    EE_POSE = "ee_pose"
    EE_POSE_TWIST = "ee_pose_twist"
    JOINT = "joint"


@dataclasses.dataclass(frozen=True)
class ActionBounds:
    """Bounds of the end-effector part of actions (world frame)."""

    position_low: tuple[float, float, float] = (-0.2, -0.8, -0.05)
    """m; the table top is at z = 0."""
    position_high: tuple[float, float, float] = (1.0, 0.8, 0.9)
    max_linear_velocity: float = 1.0
    """m/s, feed-forward twist."""
    max_angular_velocity: float = math.pi
    """rad/s, feed-forward twist."""


@dataclasses.dataclass(frozen=True)
class Command:
    """A decoded action; arrays have the side axis first (left, right). Parts the
    action mode does not use are None."""

    hand_q: np.ndarray
    """(2, n) hand joint targets, rad."""
    pos: np.ndarray | None = None
    """(2, 3) palm position targets, world frame, m."""
    quat: np.ndarray | None = None
    """(2, 4) palm orientation targets (w, x, y, z), world frame."""
    twist: np.ndarray | None = None
    """(2, 6) feed-forward palm twists (m/s, rad/s), world frame."""
    arm_q: np.ndarray | None = None
    """(2, 7) arm joint targets, rad."""


class ActionLayout:
    """Named slices of the flat action vector, and its Box."""

    def __init__(self, mode: ActionMode, robot: RobotBindings,
                 bounds: ActionBounds | None = None) -> None:  # fmt: skip
        self.mode = ActionMode(mode)
        bounds = bounds or ActionBounds()
        self._slices: dict[str, slice] = {}
        low: list[np.ndarray] = []
        high: list[np.ndarray] = []
        offset = 0

        def add(name: str, lo: np.ndarray, hi: np.ndarray) -> None:
            nonlocal offset
            self._slices[name] = slice(offset, offset + len(lo))
            offset += len(lo)
            low.append(np.asarray(lo, dtype=np.float64))
            high.append(np.asarray(hi, dtype=np.float64))

        sizes = {robot.hands[side].num_joints for side in SIDES}
        if len(sizes) != 1:
            raise ValueError(f"both hands must have the same joint count, got {sorted(sizes)}")
        for side in SIDES:
            if self.mode is ActionMode.JOINT:
                add(f"{side.value}/arm_q", fr3c.JOINT_LOWER, fr3c.JOINT_UPPER)
            else:
                add(f"{side.value}/pos", np.array(bounds.position_low),
                    np.array(bounds.position_high))  # fmt: skip
                add(f"{side.value}/rotvec", np.full(3, -math.pi), np.full(3, math.pi))
                if self.mode is ActionMode.EE_POSE_TWIST:
                    v, w = bounds.max_linear_velocity, bounds.max_angular_velocity
                    lim = np.array([v, v, v, w, w, w])
                    add(f"{side.value}/twist", -lim, lim)
            hand = robot.hands[side]
            add(f"{side.value}/hand", hand.q_lower, hand.q_upper)
        self.size = offset
        # Both sides have the same parts, so a (2, size/2) view splits every part at once.
        self._side_parts = {name.split("/")[1]: slice(sl.start, sl.stop)
                            for name, sl in self._slices.items() if name.startswith("left/")}  # fmt: skip
        # Clipping uses the exact float64 limits; the float32 Box can differ by ~1e-7.
        self._low = np.concatenate(low)
        self._high = np.concatenate(high)
        self.space = spaces.Box(_inward_float32(self._low, up=True),
                                _inward_float32(self._high, up=False), dtype=np.float32)  # fmt: skip

    @property
    def names(self) -> tuple[str, ...]:
        """Slice names in vector order, e.g. ``"left/pos"``, ``"right/hand"``."""
        return tuple(self._slices)

    def slice(self, name: str) -> slice:
        """The slice of the named part; raises KeyError naming the valid parts."""
        try:
            return self._slices[name]
        except KeyError:
            raise KeyError(f"no action part {name!r}; parts: {', '.join(self._slices)}") from None

    def validate(self, action: object) -> tuple[np.ndarray, bool]:
        """Checked float64 copy of ``action`` clipped to the Box, and whether it clipped."""
        try:
            arr = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ActionError(f"action is not numeric: {exc}") from None
        if arr.shape != (self.size,):
            raise ActionError(
                f"action has shape {arr.shape}, expected ({self.size},) for mode "
                f"{self.mode.value!r} (parts: {', '.join(self._slices)})"
            )
        # One reduction answers "all finite?" in the common case; a NaN/inf (or an
        # overflowing sum of absurd values) takes the slow path that names the parts.
        if not math.isfinite(float(arr.sum())):
            bad = ~np.isfinite(arr)
            if bad.any():
                parts = sorted({n for n, s in self._slices.items() if bad[s].any()})
                raise ActionError(f"action has NaN/inf in {', '.join(parts)} "
                                  f"(indices {np.flatnonzero(bad).tolist()})")  # fmt: skip
        clipped = np.minimum(np.maximum(arr, self._low), self._high)
        delta = clipped - arr
        return clipped, bool(delta.any() and np.abs(delta).max() > CLIP_REPORT_TOLERANCE)

    def decode(self, action: np.ndarray) -> Command:
        """Split a validated action into both sides' command arrays."""
        per_side = action.reshape(2, -1)
        parts = self._side_parts
        hand_q = per_side[:, parts["hand"]]
        if self.mode is ActionMode.JOINT:
            return Command(hand_q=hand_q, arm_q=per_side[:, parts["arm_q"]])
        quat = np.zeros((2, 4))
        quat[:, 0] = 1.0
        for i, rotvec in enumerate(per_side[:, parts["rotvec"]]):
            mujoco.mju_quatIntegrate(quat[i], rotvec, 1.0)  # exp map of the rotation vector
        twist = per_side[:, parts["twist"]] if "twist" in parts else None
        return Command(hand_q=hand_q, pos=per_side[:, parts["pos"]], quat=quat, twist=twist)
