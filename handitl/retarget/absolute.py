"""Absolute (DexPilot-style) vector retargeting: the "Teleop" / direct-switching method.

Each frame matches the robot's key vectors to the human's, scaled into the robot palm
frame (Handa et al., DexPilot, ICRA 2020, the vector cost with distance switching)::

    sum_i w_tip |tip_i(q) - s R v_i|^2                          wrist-to-fingertip vectors
  + sum_j w_j |u_j(q) - target_j|^2                             thumb-to-finger vectors
  + sum_k w_k |f_k(q) - target_k|^2                             neighbouring-finger vectors
  + lambda |q - q_prev|^2

``target_j = s R u_j`` while the human's thumb-finger distance d_j (human metres) is
above ``pinch_distance``; below it the target switches to a vector of length
``pinch_gap`` along the human direction with weight ``pinch_weight`` (the robot closes
the pinch fully although human and robot fingertips differ in size). Neighbouring
fingers closer than ``separation_distance`` get a target of that length instead (they
stay apart). Robot opposition vectors run pad to pad.

It jumps to the operator's current hand pose: at a takeover from a different robot
pose the command changes at once (the gesture jump the relative method removes).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from handitl.intervention.streams.frame import HandState
from handitl.retarget.base import Alignment, KeyVectorExtractor, RetargetError, RetargetResult
from handitl.retarget.kinematics import HandKinematics
from handitl.retarget.solver import Block, BoxLeastSquares, SolverConfig

NEIGHBOURS = (("index", "middle"), ("middle", "ring"), ("ring", "little"))


@dataclasses.dataclass(frozen=True)
class AbsoluteConfig:
    """Weights and switching distances (m, robot units after scaling)."""

    tip_weight: float = 1.0
    """Weight of each wrist-to-fingertip vector."""
    opposition_weight: float = 1.0
    """Weight of each thumb-to-finger vector in the open state."""
    pinch_weight: float = 20.0
    """Weight of a thumb-to-finger vector once switched to pinching."""
    pinch_distance: float = 0.015
    """Human thumb-finger distance (human m) below which the pinch target applies."""
    pinch_gap: float = 0.0
    """Robot pad-to-pad distance targeted in a pinch."""
    separation_weight: float = 2.0
    """Weight of a neighbouring-finger vector once switched to keeping apart."""
    separation_distance: float = 0.018
    """Neighbouring fingertips closer than this (robot m) are kept this far apart."""
    regularization: float = 1e-4
    """lambda of |q - q_prev|^2 (rad^2): damps jitter; small, so the pose stays absolute."""
    solver: SolverConfig = SolverConfig()
    """Iterations and tolerances of the box-constrained LM solver."""


class AbsoluteRetargeter:
    """DexPilot-style absolute retargeting; ``reset`` only sets the warm start."""

    def __init__(self, kinematics: HandKinematics, alignment: Alignment | None = None,
                 config: AbsoluteConfig | None = None) -> None:  # fmt: skip
        self.kinematics = kinematics
        self.config = c = config or AbsoluteConfig()
        non_thumb = tuple(f for f in kinematics.fingers if f != "thumb")
        self.keys = KeyVectorExtractor(kinematics, alignment or Alignment(), non_thumb)
        fingers = kinematics.fingers
        self._thumb = fingers.index("thumb")
        self._opp_rows = np.array([fingers.index(f) for f in self.keys.opposing])
        self._neighbours = [(fingers.index(a), fingers.index(b)) for a, b in NEIGHBOURS
                            if a in fingers and b in fingers]  # fmt: skip
        self._solver = BoxLeastSquares(kinematics.q_lower, kinematics.q_upper, c.solver)
        self._q_prev: np.ndarray | None = None

    def reset(self, anchor: HandState, q_robot: np.ndarray) -> None:
        """Warm-start from the robot's command; the absolute map ignores the anchor."""
        self._q_prev = self.kinematics.clip(np.asarray(q_robot, dtype=np.float64))

    def retarget(self, human: HandState, solver: SolverConfig | None = None) -> RetargetResult:
        """The command for this frame; ``solver`` overrides the real-time settings
        (e.g. :data:`handitl.retarget.solver.TIGHT` to converge fully)."""
        if self._q_prev is None:
            raise RetargetError("call reset(anchor, q_robot) before retarget()")
        problem = self.keys.problem(human)
        if problem is not None:
            return RetargetResult(q=self._q_prev.copy(), held=True, reason=problem)
        targets = self._targets(self.keys.extract(human))
        result = self._solver.solve(lambda q: self._blocks(q, targets), self._q_prev, config=solver)
        self._q_prev = result.q
        return RetargetResult(q=result.q.copy(), cost=result.cost, iterations=result.iterations)

    def snapshot(self) -> np.ndarray:
        """The per-frame state (the previous command), to replay a frame (benchmarks)."""
        assert self._q_prev is not None
        return self._q_prev.copy()

    def restore(self, snapshot: np.ndarray) -> None:
        self._q_prev = snapshot.copy()

    def _targets(self, human) -> _Targets:
        c = self.config
        opposition = human.opposition.copy()
        weight = np.full(len(opposition), c.opposition_weight)
        pinched = human.thumb_distance < c.pinch_distance
        # Switched pairs aim at a pad gap of `pinch_gap` along the human's direction.
        length = np.linalg.norm(opposition[pinched], axis=1)
        opposition[pinched] *= (c.pinch_gap / np.maximum(length, 1e-9))[:, None]
        weight[pinched] = c.pinch_weight
        pairs = np.array(self._neighbours, dtype=np.intp).reshape(-1, 2)
        spread = human.tips[pairs[:, 1]] - human.tips[pairs[:, 0]]
        d = np.linalg.norm(spread, axis=1)
        close = d < c.separation_distance
        return _Targets(tips=human.tips, opposition=opposition, opposition_weight=weight,
                        pairs=pairs[close],
                        spread=c.separation_distance * spread[close] / np.maximum(d[close], 1e-9)[:, None])

    def _blocks(self, q: np.ndarray, t: _Targets) -> list[Block]:
        c, k = self.config, self.kinematics
        k.set_q(q)
        tips, pads, J_tips, J_pads = k.tips_and_pads()
        opp, thumb = self._opp_rows, self._thumb
        blocks = [
            Block(tips - t.tips, J_tips, c.tip_weight),
            Block(pads[opp] - pads[thumb] - t.opposition, J_pads[opp] - J_pads[thumb],
                  t.opposition_weight),
        ]  # fmt: skip
        if len(t.pairs):
            a, b = t.pairs[:, 0], t.pairs[:, 1]
            blocks.append(Block(tips[b] - tips[a] - t.spread, J_tips[b] - J_tips[a],
                                c.separation_weight))  # fmt: skip
        assert self._q_prev is not None
        blocks.append(Block(q - self._q_prev, None, c.regularization))
        return blocks


@dataclasses.dataclass(frozen=True)
class _Targets:
    tips: np.ndarray
    opposition: np.ndarray
    opposition_weight: np.ndarray
    pairs: np.ndarray
    spread: np.ndarray
