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
    posture_gain: float = 0.01
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
        n = len(arm.dof_idx)
        if not (np.diff(arm.dof_idx) == 1).all() or not (np.diff(arm.qpos_idx) == 1).all():
            raise ValueError("arm joints must be consecutive hinges (one kinematic chain)")
        # Slices instead of index arrays: views cost ~0.5 us, fancy indexing ~3 us.
        self._dofs = slice(int(arm.dof_idx[0]), int(arm.dof_idx[0]) + n)
        self._qpos = slice(int(arm.qpos_idx[0]), int(arm.qpos_idx[0]) + n)
        self._max_step = fr3c.VELOCITY_LIMIT * c.velocity_scale * control_dt
        self._lower = arm.q_lower + c.limit_margin
        self._upper = arm.q_upper - c.limit_margin
        self._weights = np.array([1.0, 1.0, 1.0] + [c.orientation_weight] * 3)
        # A position servo tau = kp (q* - q) - kv dq lags a ramp by kv/kp * velocity; a
        # target led by that much cancels it (the joint-impedance law with a desired
        # velocity, K (q_d - q) + D (dq_d - dq), written for MuJoCo's position actuator).
        kp = model.actuator_gainprm[arm.actuator_ids, 0]
        kv = -model.actuator_biasprm[arm.actuator_ids, 2]
        self._lead_time = kv / kp
        self._gains = np.array([c.position_gain] * 3 + [c.orientation_gain] * 3)
        self._diag_n = np.diag_indices(n)
        self._diag_6 = np.diag_indices(6)
        # Preallocated buffers: this runs every control tick for each arm.
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._jac = np.zeros((6, n))
        self._error = np.zeros(6)
        self._quat = np.zeros(4)
        self._conj = np.zeros(4)
        self._delta = np.zeros(4)
        self._chol_rhs = np.zeros(6)
        self._qp_result = np.zeros(n)
        self._qp_factor = np.zeros((n, n + 7))
        self._qp_index = np.zeros(n, dtype=np.int32)

    def joint_targets(self, data: mujoco.MjData, pos_target: np.ndarray, quat_target: np.ndarray,
                      twist: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """Joint targets (rad, 7) that move the site toward the target pose in one tick.

        Args:
            data: state whose kinematics (``mj_kinematics`` + ``mj_comPos``) are current.
            pos_target: (3,) site position target, world frame, m.
            quat_target: (4,) unit site orientation target (w, x, y, z), world frame.
            twist: optional (6,) feed-forward spatial velocity (linear m/s, angular rad/s),
                world frame; added as a displacement of ``twist * control_dt``.
        """
        error = self._error
        np.subtract(pos_target, data.site_xpos[self._site], out=error[:3])
        mujoco.mju_mat2Quat(self._quat, data.site_xmat[self._site])
        mujoco.mju_negQuat(self._conj, self._quat)
        mujoco.mju_mulQuat(self._delta, quat_target, self._conj)
        mujoco.mju_quat2Vel(error[3:], self._delta, 1.0)
        error *= self._gains
        if twist is not None:
            error += twist * self._dt
        mujoco.mj_jacSite(self._model, data, self._jacp, self._jacr, self._site)
        self._jac[:3] = self._jacp[:, self._dofs]
        self._jac[3:] = self._jacr[:, self._dofs]
        q = data.qpos[self._qpos].copy()
        target = q + self._solve(q, self._jac, error)
        if twist is not None:
            target += self._lead_time * self._joint_velocity(self._jac, twist)
        return target

    def _joint_velocity(self, J: np.ndarray, twist: np.ndarray) -> np.ndarray:
        """Damped least-squares joint velocity (rad/s) realising a twist."""
        JW = J.T * self._weights
        H = JW @ J
        H[self._diag_n] += self._config.damping
        mujoco.mju_cholFactor(H, 0.0)
        velocity = np.zeros(len(H))
        mujoco.mju_cholSolve(velocity, H, JW @ twist)
        return velocity

    def _solve(self, q: np.ndarray, J: np.ndarray, dx: np.ndarray) -> np.ndarray:
        c = self._config
        JW = J.T * self._weights
        H = JW @ J
        H[self._diag_n] += c.damping
        posture = c.posture_gain * (self._arm.home_qpos - q)
        # Keep the posture step in the null space of the task Jacobian so that it never
        # biases the reached pose: p -= J^T (J J^T)^-1 J p (Cholesky in C, ~2 us).
        JJt = J @ J.T
        JJt[self._diag_6] += 1e-6
        mujoco.mju_cholFactor(JJt, 0.0)
        mujoco.mju_cholSolve(self._chol_rhs, JJt, J @ posture)
        posture -= J.T @ self._chol_rhs
        g = -(JW @ dx + c.damping * posture)
        upper = np.minimum(self._max_step, self._upper - q)
        # A joint already past its margin may only move back inside.
        lower = np.minimum(np.maximum(-self._max_step, self._lower - q), upper)
        mujoco.mju_boxQP(self._qp_result, self._qp_factor, self._qp_index, H, g, lower, upper)
        return self._qp_result.copy()  # the buffer is reused next tick


def joint_space_targets(arm: ArmBinding, q: np.ndarray, q_target: np.ndarray, control_dt: float,
                        velocity_scale: float = 1.0) -> np.ndarray:  # fmt: skip
    """Joint targets for joint-space actions: within limits, moving at most v_max * dt."""
    step = fr3c.VELOCITY_LIMIT * velocity_scale * control_dt
    target = np.clip(q_target, arm.q_lower, arm.q_upper)
    return q + np.clip(target - q, -step, step)
