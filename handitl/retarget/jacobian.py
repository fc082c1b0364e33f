"""Jacobian retargeting: human fingertip displacements -> joint steps through the hand
Jacobian, each frame (paper section 4.1, "Jacobian" baseline).

Each frame solves the damped least-squares step

    min_dq  sum_i |J_i(q) dq - s R (v_i(t) - v_i(t-1))|^2 + damping |dq|^2

within the joint limits and integrates ``q += dq``. No human motion gives dq = 0
exactly; but the linearisation error accumulates with motion (drift), and fingertips
cannot be brought together for a pinch on purpose.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from handitl.intervention.streams.frame import HandState
from handitl.retarget.base import Alignment, KeyVectorExtractor, RetargetError, RetargetResult
from handitl.retarget.kinematics import HandKinematics


@dataclasses.dataclass(frozen=True)
class JacobianConfig:
    damping: float = 1e-5
    """Levenberg damping of the step (m^2 per rad^2): bounds steps near singularities."""


class JacobianRetargeter:
    """Integrates damped-least-squares joint steps of fingertip displacements."""

    def __init__(self, kinematics: HandKinematics, alignment: Alignment | None = None,
                 config: JacobianConfig | None = None) -> None:  # fmt: skip
        self.kinematics = kinematics
        self.config = config or JacobianConfig()
        self.keys = KeyVectorExtractor(kinematics, alignment or Alignment(), ())
        n = kinematics.nq
        self._q: np.ndarray | None = None
        self._tips_prev: np.ndarray | None = None
        self._result = np.zeros(n)
        self._factor = np.zeros((n, n + 7))
        self._index = np.zeros(n, dtype=np.int32)

    def reset(self, anchor: HandState, q_robot: np.ndarray) -> None:
        problem = self.keys.problem(anchor)
        if problem is not None:
            raise RetargetError(f"cannot anchor on this human frame: {problem}")
        self._q = self.kinematics.clip(np.asarray(q_robot, dtype=np.float64))
        self._tips_prev = self.keys.extract(anchor).tips

    def retarget(self, human: HandState) -> RetargetResult:
        if self._q is None or self._tips_prev is None:
            raise RetargetError("call reset(anchor, q_robot) at takeover before retarget()")
        problem = self.keys.problem(human)
        if problem is not None:
            return RetargetResult(q=self._q.copy(), held=True, reason=problem)
        tips = self.keys.extract(human).tips
        displacement = tips - self._tips_prev
        self._tips_prev = tips
        if not displacement.any():
            return RetargetResult(q=self._q.copy(), cost=0.0)
        k = self.kinematics
        k.set_q(self._q)
        J = k.site_jacobians("tips").reshape(-1, k.nq)
        H = J.T @ J
        H.flat[:: k.nq + 1] += self.config.damping
        g = -(J.T @ displacement.ravel())
        mujoco.mju_boxQP(self._result, self._factor, self._index, H, g,
                         k.q_lower - self._q, k.q_upper - self._q)  # fmt: skip
        self._q = k.clip(self._q + self._result)
        residual = J @ self._result - displacement.ravel()
        return RetargetResult(q=self._q.copy(), cost=0.5 * float(residual @ residual), iterations=1)
