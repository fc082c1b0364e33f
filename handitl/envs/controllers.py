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
from collections.abc import Sequence

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


@dataclasses.dataclass
class _ArmBuffers:
    """Preallocated per-arm arrays: the solve runs every control tick, and MuJoCo's
    ``mju_*`` routines on fixed buffers cost ~0.5 us a call where numpy temporaries
    cost ~2 us (the env's whole step budget is ~0.15 ms)."""

    site: int
    qpos: slice
    dofs: slice
    home: np.ndarray
    jac: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((6, 7)))
    """W^(1/2) J: orientation rows scaled by sqrt(orientation_weight)."""
    error: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(6))
    hessian: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((7, 7)))
    gradient: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(7))
    scratch: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(7))
    result: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(7))
    factor: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((7, 14)))
    index: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(7, dtype=np.int32))


class DifferentialIK:
    """Turns pose targets (+ feed-forward twists) of one frame per arm into arm joint
    targets, one damped least-squares QP per arm::

        min_dq |W^(1/2) (J dq - gain * e - twist * dt)|^2 + damping |dq - p|^2
        s.t.   max(-v_max dt, q_lo - q) <= dq <= min(v_max dt, q_hi - q)

    where e is the pose error (position m, rotation vector rad, world frame) and p a
    small step toward the home pose (see :meth:`_solve` for why it stays in the null
    space).
    """

    def __init__(self, model: mujoco.MjModel, arms: Sequence[ArmBinding], sites: Sequence[int],
                 control_dt: float, config: IKConfig | None = None) -> None:  # fmt: skip
        if len(arms) != len(sites) or not arms:
            raise ValueError(f"need one site per arm, got {len(arms)} arms, {len(sites)} sites")
        self._model = model
        self._config = c = config or IKConfig()
        for arm in arms:
            if len(arm.dof_idx) != 7 or not (np.diff(arm.dof_idx) == 1).all():
                raise ValueError("each arm must be one chain of 7 consecutive hinge joints")
        self._arms = [
            _ArmBuffers(site=int(site),
                        qpos=slice(int(a.qpos_idx[0]), int(a.qpos_idx[0]) + 7),
                        dofs=slice(int(a.dof_idx[0]), int(a.dof_idx[0]) + 7),
                        home=a.home_qpos.copy())
            for a, site in zip(arms, sites)
        ]  # fmt: skip
        k = len(arms)
        self._qpos_idx = np.concatenate([a.qpos_idx for a in arms])
        self._max_step = np.tile(fr3c.VELOCITY_LIMIT * c.velocity_scale * control_dt, k)
        self._lower = np.concatenate([a.q_lower for a in arms]) + c.limit_margin
        self._upper = np.concatenate([a.q_upper for a in arms]) - c.limit_margin
        sqrt_w = np.sqrt([1.0, 1.0, 1.0] + [c.orientation_weight] * 3)
        self._sqrt_w = sqrt_w
        self._sqrt_w_rot = float(sqrt_w[3])
        self._weighted_gains = sqrt_w * ([c.position_gain] * 3 + [c.orientation_gain] * 3)
        self._weighted_dt = sqrt_w * control_dt
        self._damping_eye = (c.damping * np.eye(7)).ravel()
        self._posture_scale = c.damping * c.posture_gain
        # A position servo tau = kp (q* - q) - kv dq lags a ramp by kv/kp * velocity; a
        # target led by that much cancels it (the joint-impedance law with a desired
        # velocity, K (q_d - q) + D (dq_d - dq), written for MuJoCo's position actuator).
        act = np.concatenate([a.actuator_ids for a in arms])
        self._lead_time = (-model.actuator_biasprm[act, 2] / model.actuator_gainprm[act, 0])
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._quat = np.zeros(4)
        self._conj = np.zeros(4)
        self._delta = np.zeros(4)
        self._rhs = np.zeros(7)

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
        q_all = data.qpos[self._qpos_idx]
        upper = np.minimum(self._max_step, self._upper - q_all)
        # A joint already past its margin may only move back inside.
        lower = np.minimum(np.maximum(-self._max_step, self._lower - q_all), upper)
        targets = np.empty((len(self._arms), 7))
        for i, arm in enumerate(self._arms):
            q = q_all[7 * i: 7 * i + 7]
            self._pose_error(data, arm, pos_targets[i], quat_targets[i])
            if twists is not None:
                arm.error += twists[i] * self._weighted_dt
            self._weighted_jacobian(data, arm)
            np.add(q, self._solve(arm, q, lower[7 * i: 7 * i + 7], upper[7 * i: 7 * i + 7]),
                   out=targets[i])  # fmt: skip
            if twists is not None:
                targets[i] += self._lead_time[7 * i: 7 * i + 7] * self._joint_velocity(arm, twists[i])
        return targets

    def reset(self) -> None:
        """Forget the box QPs' warm starts (``mju_boxQP`` starts from the last solution it
        wrote): called at each episode's reset, so an episode depends only on its seed and
        not on the episodes run before it."""
        for arm in self._arms:
            arm.result[:] = 0.0

    def _pose_error(self, data: mujoco.MjData, arm: _ArmBuffers, pos: np.ndarray,
                    quat: np.ndarray) -> None:  # fmt: skip
        """arm.error = W^(1/2) * gain * (position error m, rotation-vector error rad)."""
        error = arm.error
        mujoco.mju_sub3(error[:3], pos, data.site_xpos[arm.site])
        mujoco.mju_mat2Quat(self._quat, data.site_xmat[arm.site])
        mujoco.mju_negQuat(self._conj, self._quat)
        mujoco.mju_mulQuat(self._delta, quat, self._conj)
        mujoco.mju_quat2Vel(error[3:], self._delta, 1.0)
        error *= self._weighted_gains

    def _weighted_jacobian(self, data: mujoco.MjData, arm: _ArmBuffers) -> None:
        mujoco.mj_jacSite(self._model, data, self._jacp, self._jacr, arm.site)
        arm.jac[:3] = self._jacp[:, arm.dofs]
        np.multiply(self._jacr[:, arm.dofs], self._sqrt_w_rot, out=arm.jac[3:])

    def _solve(self, arm: _ArmBuffers, q: np.ndarray, lower: np.ndarray,
               upper: np.ndarray) -> np.ndarray:  # fmt: skip
        """The box-constrained step dq (rad, 7).

        H = J'WJ + damping*I has eigenvalue `damping` on the Jacobian's null space, so the
        posture step p passes there in full, while along task directions it is scaled by
        damping / sigma^2 (~1e-3), biasing the reached pose by < 0.01 mm: a null-space
        posture task without computing a projector.
        """
        H = arm.hessian.ravel()
        mujoco.mju_mulMatTMat(arm.hessian, arm.jac, arm.jac)
        mujoco.mju_addTo(H, self._damping_eye)
        # gradient = -(W^(1/2) J)' W^(1/2) dx - damping * posture_gain * (home - q)
        mujoco.mju_mulMatTVec(arm.gradient, arm.jac, arm.error)
        mujoco.mju_sub(arm.scratch, q, arm.home)
        mujoco.mju_scl(arm.gradient, arm.gradient, -1.0)
        mujoco.mju_addToScl(arm.gradient, arm.scratch, self._posture_scale)
        mujoco.mju_boxQP(arm.result, arm.factor, arm.index, arm.hessian, arm.gradient, lower, upper)
        return arm.result

    def _joint_velocity(self, arm: _ArmBuffers, twist: np.ndarray) -> np.ndarray:
        """Damped least-squares joint velocities (rad/s) realising a twist."""
        mujoco.mju_cholFactor(arm.hessian, 0.0)  # the Hessian is not needed again this tick
        mujoco.mju_mulMatTVec(self._rhs, arm.jac, self._sqrt_w * twist)
        velocity = np.zeros(7)
        mujoco.mju_cholSolve(velocity, arm.hessian, self._rhs)
        return velocity


def joint_space_targets(q: np.ndarray, q_target: np.ndarray, lower: np.ndarray,
                        upper: np.ndarray, max_step: np.ndarray) -> np.ndarray:  # fmt: skip
    """Joint targets for joint-space actions: within [lower, upper] and at most
    ``max_step`` (v_max * dt) away from the current angles ``q``."""
    target = np.minimum(np.maximum(q_target, lower), upper)
    return q + np.minimum(np.maximum(target - q, -max_step), max_step)
