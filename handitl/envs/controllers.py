"""Arm controller: end-effector pose targets -> joint targets by differential IK.

Each control tick solves one damped least-squares step as a box-constrained QP
(MuJoCo's ``mju_boxQP``, ~2 us) so that the step respects both the joint limits and
the joint velocity limits over the tick. A posture term toward the home pose acts
(to first order) only in the Jacobian's null space, so it does not bias the reached pose. mink offers
the same formulation with more task types, but its QP stack costs ~0.3 ms an arm per
call, more than the 10 physics steps of a tick (see bench/README.md).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

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
    """Turns pose targets (+ feed-forward twists) of one frame per arm into arm joint
    targets. All arms are solved in one block-diagonal QP: the Python overhead of a
    tick is paid once, not per arm (the env's step budget is ~0.1 ms)."""

    def __init__(self, model: mujoco.MjModel, arms: Sequence[ArmBinding], sites: Sequence[int],
                 control_dt: float, config: IKConfig | None = None) -> None:  # fmt: skip
        if len(arms) != len(sites) or not arms:
            raise ValueError(f"need one site per arm, got {len(arms)} arms, {len(sites)} sites")
        self._model = model
        self._sites = np.asarray(sites, dtype=np.intp)
        self._dt = control_dt
        self._config = c = config or IKConfig()
        self._n = n = len(arms[0].dof_idx)
        k = len(arms)
        for arm in arms:
            if len(arm.dof_idx) != n or not (np.diff(arm.dof_idx) == 1).all():
                raise ValueError("each arm must be one chain of consecutive hinge joints")
        # (linear rows, angular rows, columns) of each arm's block of the block-diagonal
        # Jacobian, and the arm's dof slice in MuJoCo's (3, nv) Jacobians.
        self._blocks = [(slice(6 * i, 6 * i + 3), slice(6 * i + 3, 6 * i + 6),
                         slice(n * i, n * (i + 1)),
                         slice(int(a.dof_idx[0]), int(a.dof_idx[0]) + n))
                        for i, a in enumerate(arms)]  # fmt: skip
        self._qpos_idx = np.concatenate([a.qpos_idx for a in arms])
        self._home = np.concatenate([a.home_qpos for a in arms])
        self._max_step = np.tile(fr3c.VELOCITY_LIMIT * c.velocity_scale * control_dt, k)
        self._lower = np.concatenate([a.q_lower for a in arms]) + c.limit_margin
        self._upper = np.concatenate([a.q_upper for a in arms]) - c.limit_margin
        self._sqrt_w = np.tile(np.sqrt([1.0, 1.0, 1.0] + [c.orientation_weight] * 3), k)
        self._gains = np.tile([c.position_gain] * 3 + [c.orientation_gain] * 3, k)
        # A position servo tau = kp (q* - q) - kv dq lags a ramp by kv/kp * velocity; a
        # target led by that much cancels it (the joint-impedance law with a desired
        # velocity, K (q_d - q) + D (dq_d - dq), written for MuJoCo's position actuator).
        act = np.concatenate([a.actuator_ids for a in arms])
        self._lead_time = -model.actuator_biasprm[act, 2] / model.actuator_gainprm[act, 0]
        # Preallocated buffers: this runs every control tick.
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._jac = np.zeros((6 * k, n * k))  # block diagonal
        self._error = np.zeros((k, 6))
        self._quat = np.zeros(4)
        self._conj = np.zeros(4)
        self._delta = np.zeros(4)
        self._velocity = np.zeros(n * k)
        self._qp_result = np.zeros(n * k)
        self._qp_factor = np.zeros((n * k, n * k + 7))
        self._qp_index = np.zeros(n * k, dtype=np.int32)
        self._damping_eye = c.damping * np.eye(n * k)

    def joint_targets(self, data: mujoco.MjData, pos_targets: np.ndarray, quat_targets: np.ndarray,
                      twists: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """Joint targets (rad, shape (k, 7)) moving each site toward its target in one tick.

        Args:
            data: state whose kinematics (``mj_kinematics`` + ``mj_comPos``) are current.
            pos_targets: (k, 3) site position targets, world frame, m.
            quat_targets: (k, 4) unit orientation targets (w, x, y, z), world frame.
            twists: optional (k, 6) feed-forward spatial velocities (linear m/s, angular
                rad/s, world frame): added as a displacement of ``twist * control_dt`` and
                as a servo lead, so a target moving at that velocity is tracked closely.
        """
        error = self._error
        np.subtract(pos_targets, data.site_xpos[self._sites], out=error[:, :3])
        for i, site in enumerate(self._sites):
            mujoco.mju_mat2Quat(self._quat, data.site_xmat[site])
            mujoco.mju_negQuat(self._conj, self._quat)
            mujoco.mju_mulQuat(self._delta, quat_targets[i], self._conj)
            mujoco.mju_quat2Vel(error[i, 3:], self._delta, 1.0)
            mujoco.mj_jacSite(self._model, data, self._jacp, self._jacr, site)
            lin_rows, ang_rows, cols, dofs = self._blocks[i]
            self._jac[lin_rows, cols] = self._jacp[:, dofs]
            self._jac[ang_rows, cols] = self._jacr[:, dofs]
        dx = error.ravel() * self._gains
        if twists is not None:
            dx += np.ravel(twists) * self._dt
        q = data.qpos[self._qpos_idx]
        targets = q + self._solve(q, dx)
        if twists is not None:
            targets += self._lead_time * self._joint_velocity(np.ravel(twists))
        return targets.reshape(-1, self._n)

    def _weighted_hessian(self) -> tuple[np.ndarray, np.ndarray]:
        Jw = self._jac * self._sqrt_w[:, None]
        H = Jw.T @ Jw
        H += self._damping_eye
        return Jw, H

    def _joint_velocity(self, twist: np.ndarray) -> np.ndarray:
        """Damped least-squares joint velocities (rad/s) realising the twists."""
        Jw, H = self._weighted_hessian()
        mujoco.mju_cholFactor(H, 0.0)
        mujoco.mju_cholSolve(self._velocity, H, Jw.T @ (self._sqrt_w * twist))
        return self._velocity

    def _solve(self, q: np.ndarray, dx: np.ndarray) -> np.ndarray:
        """min |J dq - dx|_W^2 + damping |dq - p|^2 within the step bounds, where p is a
        small step toward home. In the Jacobian's null space H = J'WJ + damping*I has
        eigenvalue `damping`, so p passes there in full; along the task directions it is
        scaled by damping / sigma^2 (~1e-3), which biases the reached pose by < 0.01 mm.
        This is the null-space posture task without computing a projector."""
        c = self._config
        Jw, H = self._weighted_hessian()
        posture = c.posture_gain * (self._home - q)
        g = -(Jw.T @ (self._sqrt_w * dx)) - c.damping * posture
        upper = np.minimum(self._max_step, self._upper - q)
        # A joint already past its margin may only move back inside.
        lower = np.minimum(np.maximum(-self._max_step, self._lower - q), upper)
        mujoco.mju_boxQP(self._qp_result, self._qp_factor, self._qp_index, H, g, lower, upper)
        return self._qp_result.copy()  # the buffer is reused next tick


def joint_space_targets(q: np.ndarray, q_target: np.ndarray, lower: np.ndarray,
                        upper: np.ndarray, max_step: np.ndarray) -> np.ndarray:  # fmt: skip
    """Joint targets for joint-space actions: within [lower, upper] and at most
    ``max_step`` (v_max * dt) away from the current angles ``q``."""
    target = np.minimum(np.maximum(q_target, lower), upper)
    return q + np.minimum(np.maximum(target - q, -max_step), max_step)
