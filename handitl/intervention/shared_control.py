"""Arm shared control: the human wrist corrects the policy's palm pose (paper section 3.4).

Velocity-based residuals (Eq. 3-5), used in copilot mode: the human wrist twist is
estimated over a window of k control ticks (k = 2, dT = 0.04 s at 50 Hz), smoothed by
an EMA, and integrated into position and rotation offsets that are added to the
policy's target pose. The offsets decay with time constant ``decay_time`` whenever the
operator is still (twist below ``still_speed``), so a correction fades without the
operator returning to a centre and nothing drifts persistently.

Anchored relative mapping (DexHiL Eq. 3), used in full takeover: at engage the robot palm
pose T_rob(t0) and the human wrist pose T_hum(t0) are stored, and the target is the
robot anchor moved by the human's motion since t0, mapped into the robot world by a fixed
rotation (operator world -> robot world; identity when both are +z up and face the
same way). Translations and rotations are applied in the world frame, so moving the hand
forward moves the robot hand forward whatever the two hands' orientations.

Poses are (position m, quaternion w, x, y, z), world frames.
"""

from __future__ import annotations

import collections
import math
import dataclasses

import numpy as np

from handitl.envs.rotations import mat_from_quat, quat_from_rotvec, rotvec_from_quat

IDENTITY_QUAT = np.array([1.0, 0.0, 0.0, 0.0])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of (w, x, y, z) quaternions."""
    # Python floats: the same IEEE products and sums as on numpy scalars, at a third of
    # the cost (several products per control tick and arm).
    w1, x1, y1, z1 = map(float, a)
    w2, x2, y2, z2 = map(float, b)
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
                     w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
                     w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])  # fmt: skip


def quat_conj(q: np.ndarray) -> np.ndarray:
    return np.array([q[0], -q[1], -q[2], -q[3]])


def _norm(v: np.ndarray) -> float:
    return math.sqrt(float(v @ v))


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector v by unit quaternion q."""
    return quat_mul(quat_mul(q, np.array([0.0, *v])), quat_conj(q))[1:]


@dataclasses.dataclass(frozen=True)
class SharedControlConfig:
    """Settings of both arm mappings (units: s, m, rad)."""

    window_ticks: int = 2
    """k: control ticks over which the wrist twist is differenced (paper: 2 VR ticks)."""
    ema_alpha: float = 0.5
    """EMA weight of the newest twist estimate (1 = no smoothing)."""
    decay_time: float = 0.2
    """Time constant with which offsets fade while the operator is still."""
    still_speed: float = 0.01
    """Operator wrist speeds below this (m/s) count as still."""
    still_rate: float = 0.05
    """Operator wrist angular speeds below this (rad/s) count as still."""
    max_offset: float = 0.25
    """Largest position offset the copilot may add, m (safety bound)."""
    authority: float = 1.0
    """beta_a: weight of the human residual in copilot mode (0: policy only)."""
    operator_to_robot: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    """Rotation (w, x, y, z) from the operator's world frame to the robot's."""


class VelocityResidual:
    """Eq. 3-5 for one arm: wrist twist -> EMA -> integrated, decaying pose offset."""

    def __init__(self, control_dt: float, config: SharedControlConfig | None = None) -> None:
        self.config = config or SharedControlConfig()
        self.dt = control_dt
        self._history: collections.deque[tuple[np.ndarray, np.ndarray]] = collections.deque(
            maxlen=self.config.window_ticks + 1)
        self._R = mat_from_quat(np.asarray(self.config.operator_to_robot, dtype=float))
        self.reset()

    def reset(self) -> None:
        """Forget the wrist history and zero the offsets (at engage and episode start)."""
        self._history.clear()
        self.velocity = np.zeros(3)
        self.angular_velocity = np.zeros(3)
        self.offset_pos = np.zeros(3)
        self.offset_quat = IDENTITY_QUAT.copy()

    def update(self, wrist_pos: np.ndarray | None, wrist_quat: np.ndarray | None) -> None:
        """Advance one control tick with the operator's wrist pose (operator world), or
        None when it is not tracked (the residual then only decays)."""
        c = self.config
        if wrist_pos is not None and wrist_quat is not None:
            self._history.append((np.asarray(wrist_pos, float), np.asarray(wrist_quat, float)))
        if len(self._history) == self._history.maxlen:
            (p0, q0), (p1, q1) = self._history[0], self._history[-1]
            span = c.window_ticks * self.dt
            v = self._R @ ((p1 - p0) / span)
            # log(R0^-1 R1) is a body-frame rotation; express it in the world frame.
            w_body = rotvec_from_quat(quat_mul(quat_conj(q0), q1)) / span
            w = self._R @ (mat_from_quat(q0) @ w_body)
            a = c.ema_alpha
            self.velocity = a * v + (1.0 - a) * self.velocity
            self.angular_velocity = a * w + (1.0 - a) * self.angular_velocity
        else:
            self.velocity = (1.0 - c.ema_alpha) * self.velocity
            self.angular_velocity = (1.0 - c.ema_alpha) * self.angular_velocity
        self.offset_pos = self.offset_pos + self.velocity * self.dt
        self.offset_quat = quat_mul(quat_from_rotvec(self.angular_velocity * self.dt), self.offset_quat)
        still = _norm(self.velocity) < c.still_speed and _norm(self.angular_velocity) < c.still_rate
        if still:
            keep = math.exp(-self.dt / c.decay_time)
            self.offset_pos = keep * self.offset_pos
            self.offset_quat = quat_from_rotvec(keep * rotvec_from_quat(self.offset_quat))
        norm = _norm(self.offset_pos)
        if norm > c.max_offset:
            self.offset_pos *= c.max_offset / norm

    def apply(self, pos: np.ndarray, quat: np.ndarray, authority: float | None = None
              ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The policy's target pose corrected by beta_a times the current offset."""
        beta = self.config.authority if authority is None else authority
        # Full authority (the default) needs no scaling of the rotation.
        offset_q = self.offset_quat if beta == 1.0 else quat_from_rotvec(beta * rotvec_from_quat(self.offset_quat))
        return pos + beta * self.offset_pos, quat_mul(offset_q, quat)

    @property
    def twist(self) -> np.ndarray:
        """(6,) the smoothed residual twist (m/s, rad/s), robot world frame."""
        return np.concatenate([self.velocity, self.angular_velocity])


class AnchoredWristMapping:
    """DexHiL Eq. 3 in the world frame: robot palm = anchor moved as the human wrist moved."""

    def __init__(self, config: SharedControlConfig | None = None) -> None:
        self.config = config or SharedControlConfig()
        self._R = np.asarray(self.config.operator_to_robot, dtype=float)
        self._R_matrix = mat_from_quat(self._R)
        # Operator and robot frames usually coincide (the default): skip the conjugation.
        self._aligned = bool(np.array_equal(self._R, IDENTITY_QUAT))
        self._anchor: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def reset(self, robot_pos: np.ndarray, robot_quat: np.ndarray, human_pos: np.ndarray,
              human_quat: np.ndarray) -> None:  # fmt: skip
        """Anchor at engage time: the robot palm pose and the human wrist pose then."""
        self._anchor = (np.array(robot_pos, float), np.array(robot_quat, float),
                        np.array(human_pos, float), np.array(human_quat, float))  # fmt: skip

    @property
    def anchored(self) -> bool:
        return self._anchor is not None

    def target(self, human_pos: np.ndarray, human_quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The robot palm target for the human wrist pose now."""
        if self._anchor is None:
            raise RuntimeError("AnchoredWristMapping.target before reset()")
        robot_p0, robot_q0, human_p0, human_q0 = self._anchor
        dp = self._R_matrix @ (np.asarray(human_pos) - human_p0)
        dq_world = quat_mul(np.asarray(human_quat), quat_conj(human_q0))
        dq_robot = dq_world if self._aligned else quat_mul(quat_mul(self._R, dq_world), quat_conj(self._R))
        return robot_p0 + dp, quat_mul(dq_robot, robot_q0)
