"""Arm controller: end-effector pose targets -> joint targets by differential IK.

Each control tick solves one damped least-squares step as a box-constrained QP
(MuJoCo's ``mju_boxQP``, ~2 us) so that the step respects both the joint limits and
the joint velocity limits over the tick. A posture term toward the home pose acts
only in the Jacobian's null space, so it never biases the reached pose. mink offers
the same formulation with more task types, but its QP stack costs ~0.3 ms an arm per
call, more than the 10 physics steps of a tick (see bench/README.md).
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from handitl.assets import fr3_constants as fr3c
from handitl.envs.robot import ArmBinding
from handitl.envs.rotations import orientation_error, quat_from_mat


@dataclasses.dataclass(frozen=True)
class IKConfig:
    """Differential-IK settings (units: m, rad, s)."""

    position_gain: float = 1.0
    """Fraction of the position error corrected per tick (1 = all, if limits allow)."""
    orientation_gain: float = 1.0
    """Fraction of the orientation error corrected per tick."""
    orientation_weight: float = 0.3
    """QP weight of orientation error (rad) relative to position error (m)."""
    damping: float = 1e-4
    """Levenberg damping of the least-squares step, near singularities."""
    posture_gain: float = 0.05
    """Fraction of the distance to the home pose closed per tick, in the null space."""
    limit_margin: float = 0.02
    """Joint targets stay this far inside the joint limits, rad."""
    velocity_scale: float = 1.0
    """Fraction of the FR3 velocity limits a tick may use."""


class DifferentialIK:
    """Turns a pose target (+ feed-forward twist) of one frame into arm joint targets."""

    def __init__(self, model: mujoco.MjModel, arm: ArmBinding, site_id: int,
                 control_dt: float, config: IKConfig | None = None) -> None:  # fmt: skip
        self._model = model
        self._arm = arm
        self._site = site_id
        self._dt = control_dt
        self._config = config or IKConfig()
        c = self._config
        self._max_step = fr3c.VELOCITY_LIMIT * c.velocity_scale * control_dt
        self._lower = arm.q_lower + c.limit_margin
        self._upper = arm.q_upper - c.limit_margin
        self._weights = np.array([1.0, 1.0, 1.0] + [c.orientation_weight] * 3)
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        n = len(arm.dof_idx)
        self._qp_result = np.zeros(n)
        self._qp_factor = np.zeros((n, n + 7))
        self._qp_index = np.zeros(n, dtype=np.int32)

    def joint_targets(self, data: mujoco.MjData, pos_target: np.ndarray, quat_target: np.ndarray,
                      twist: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """Joint targets (rad, 7) that move the site toward the target pose in one tick.

        Args:
            data: state whose kinematics (``mj_kinematics`` + ``mj_comPos``) are current.
            pos_target: (3,) site position target, world frame, m.
            quat_target: (4,) site orientation target (w, x, y, z), world frame.
            twist: optional (6,) feed-forward spatial velocity (linear m/s, angular rad/s),
                world frame; added as a displacement of ``twist * control_dt``.
        """
        c = self._config
        q = data.qpos[self._arm.qpos_idx]
        error = np.empty(6)
        error[:3] = c.position_gain * (pos_target - data.site_xpos[self._site])
        quat = quat_from_mat(data.site_xmat[self._site])
        error[3:] = c.orientation_gain * orientation_error(quat_target, quat)
        if twist is not None:
            error += twist * self._dt
        mujoco.mj_jacSite(self._model, data, self._jacp, self._jacr, self._site)
        J = np.vstack((self._jacp[:, self._arm.dof_idx], self._jacr[:, self._arm.dof_idx]))
        return q + self._solve(q, J, error)

    def _solve(self, q: np.ndarray, J: np.ndarray, dx: np.ndarray) -> np.ndarray:
        c = self._config
        JW = J.T * self._weights
        H = JW @ J + c.damping * np.eye(len(q))
        posture = c.posture_gain * (self._arm.home_qpos - q)
        # Project the posture step onto the null space of the task Jacobian.
        posture -= J.T @ np.linalg.solve(J @ J.T + 1e-6 * np.eye(6), J @ posture)
        g = -(JW @ dx + c.damping * posture)
        lower = np.maximum(-self._max_step, self._lower - q)
        upper = np.minimum(self._max_step, self._upper - q)
        lower = np.minimum(lower, upper)  # a joint already past its margin may only return
        mujoco.mju_boxQP(self._qp_result, self._qp_factor, self._qp_index, H, g, lower, upper)
        return self._qp_result.copy()  # the buffer is reused next tick


def joint_space_targets(arm: ArmBinding, q: np.ndarray, q_target: np.ndarray, control_dt: float,
                        velocity_scale: float = 1.0) -> np.ndarray:  # fmt: skip
    """Joint targets for joint-space actions: within limits, moving at most v_max * dt."""
    step = fr3c.VELOCITY_LIMIT * velocity_scale * control_dt
    target = np.clip(q_target, arm.q_lower, arm.q_upper)
    return q + np.clip(target - q, -step, step)
