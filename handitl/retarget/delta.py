"""DeltaCmd: ``q_exec(t) = q_rob(t0) + q_tel(t) - q_tel(t0)`` on the absolute backend.

The absolute (DexPilot-style) retargeter runs continuously on the human stream; at
takeover its output is anchored so that only its change since t0 is applied to the
robot's command (paper section 4.1, "DeltaCmd"). The backend is solved to convergence
on the anchor frame, so that a still human leaves its output, and the command, fixed.
Because joint-space deltas ignore how differently the two hands are posed, the same
human motion moves the robot fingertips differently than the human's (the residual
gesture jump the paper measures).
"""

from __future__ import annotations

import numpy as np

from handitl.intervention.streams.frame import HandState
from handitl.retarget.absolute import AbsoluteConfig, AbsoluteRetargeter
from handitl.retarget.base import Alignment, RetargetError, RetargetResult
from handitl.retarget.kinematics import HandKinematics
from handitl.retarget.solver import TIGHT

ANCHOR_PASSES = 200
"""Most backend solves spent on the anchor frame (a takeover event, not a frame budget)."""
ANCHOR_TOLERANCE = 1e-10
"""Joint change (rad) between passes at which the anchor counts as converged."""


class DeltaCmdRetargeter:
    """Joint-space delta of an absolute retargeter, applied from the robot's q0."""

    def __init__(self, kinematics: HandKinematics, alignment: Alignment | None = None,
                 config: AbsoluteConfig | None = None) -> None:  # fmt: skip
        self.kinematics = kinematics
        self.backend = AbsoluteRetargeter(kinematics, alignment, config)
        self._q0: np.ndarray | None = None
        self._q_tel0: np.ndarray | None = None
        self._last: np.ndarray | None = None

    def reset(self, anchor: HandState, q_robot: np.ndarray) -> None:
        self._q0 = self.kinematics.clip(np.asarray(q_robot, dtype=np.float64))
        self.backend.reset(anchor, self._q0)
        self._q_tel0 = self._converge(anchor)
        self._last = self._q0.copy()

    def _converge(self, anchor: HandState) -> np.ndarray:
        """The backend's fixed point on the anchor frame.

        Each backend call regularises toward its previous output, so repeated calls on
        one frame are proximal-point iterations: they converge to a stationary point of
        the unregularised cost, from which a still human's next frames move the backend
        (and the command) by ~0. One call alone stops short of it.
        """
        previous = None
        for _ in range(ANCHOR_PASSES):
            result = self.backend.retarget(anchor, solver=TIGHT)
            if result.held:
                raise RetargetError(f"cannot anchor on this human frame: {result.reason}")
            if previous is not None and np.abs(result.q - previous).max() < ANCHOR_TOLERANCE:
                break
            previous = result.q
        return result.q

    def retarget(self, human: HandState) -> RetargetResult:
        if self._q0 is None or self._q_tel0 is None or self._last is None:
            raise RetargetError("call reset(anchor, q_robot) at takeover before retarget()")
        tel = self.backend.retarget(human)
        if tel.held:
            return RetargetResult(q=self._last.copy(), held=True, reason=tel.reason)
        self._last = self.kinematics.clip(self._q0 + tel.q - self._q_tel0)
        return RetargetResult(q=self._last.copy(), cost=tel.cost, iterations=tel.iterations)
