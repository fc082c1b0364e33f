"""Relative hand retargeting (HandITL paper, section 3.3, Eq. 1-2).

Anchored at takeover time t0 with the human frame and the robot command q0, each step
minimises over q, within the joint limits::

    sum_i beta_i(d_i) H(|dv_rob_i(q) - dv_hum_i|)                       global shaping
  + sum_j omega_j(d_j) H(|u_rob_j(q) - alpha_j(d_j) u_tgt_j|)           precision grasping
  + gamma sum_pairs max(0, d_safe_pair - D_pair(q))^2                    structural safety
  + lambda H(|q - q_prev|)                                               temporal regularisation

with dv = v(t) - v(t0) for the wrist-to-fingertip vectors v_i, u_j the thumb-to-
fingertip opposition vectors (robot: pad to pad), u_tgt_j = u_rob_j(q0) + du_hum_j,
d the human thumb-finger distances (human metres) and H the Huber function.

Two terms are defined relative to the anchor, so that **no human motion gives no robot
motion** (the method's key property; the literal terms break it, see
``shared/docs/retarget_notes.md``):

* pinch activation: ``alpha_j = min(1, a(d_j) / a(d_j(t0)))`` with ``a`` a smoothstep
  from 0 (at ``pinch_distance``) to 1 (at ``pinch_release``); ``alpha_j = 1`` when the
  human was already fully pinching at t0. So alpha is exactly 1 until the human closes
  further than at t0, and reaches 0 (a compact pad-to-pad pinch) as d_j -> pinch_distance.
* safety margin: each pair's threshold is ``min(d_safe, D_pair(q0))``, so a hand that is
  already closer than d_safe at t0 is not pushed apart, but cannot get any closer.

Pairs between the thumb's distal link and another finger's distal link are left out of
the safety term by default: their contact is the pinch the grasping term asks for.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from handitl.intervention.streams.frame import HandState
from handitl.retarget.base import Alignment, KeyVectorExtractor, RetargetError, RetargetResult
from handitl.retarget.kinematics import HandKinematics
from handitl.retarget.solver import BoxLeastSquares, Evaluation, Hinge, LazyEvaluation, SolverConfig


def _smooth(x: float) -> float:
    """Scalar :func:`smoothstep`."""
    x = 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)
    return x * x * (3.0 - 2.0 * x)


def smoothstep(x: np.ndarray | float) -> np.ndarray:
    """0 below 0, 1 above 1, 3x^2 - 2x^3 between (C1-continuous gates)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


@dataclasses.dataclass(frozen=True)
class RelativeConfig:
    """Parameters of Eq. 2. Gate and pinch distances are the HUMAN's thumb-finger
    distances (m): gestures are judged on the human hand whatever the robot's size."""

    opposing: tuple[str, ...] = ("index", "middle")
    """F_opp: fingers paired with the thumb in the precision-grasping term."""
    huber_delta: float = 0.01
    """Huber threshold of the shaping and grasping residual norms, m."""
    shape_weight: float = 1.0
    """beta_i on an open hand."""
    shape_weight_pinch: float = 0.2
    """beta_i when finger i is pinching (gated down so the pinch term leads)."""
    gate_close: float = 0.02
    """Thumb-finger distance where the gates are fully in their pinch state."""
    gate_open: float = 0.06
    """Thumb-finger distance where the gates are fully in their open state."""
    grasp_weight_open: float = 0.3
    """omega_j on an open hand."""
    grasp_weight_pinch: float = 3.0
    """omega_j when pinching."""
    pinch_distance: float = 0.015
    """Human thumb-finger distance at which the pinch activation a(d) reaches 0."""
    pinch_release: float = 0.045
    """Distance above which a(d) = 1 (no compaction)."""
    safety_weight: float = 2e4
    """gamma of the squared safety hinge (residual in m)."""
    safety_distance: float = 0.004
    """d_safe between collision-pair proxies, m."""
    exclude_pinch_pairs: bool = True
    """Drop thumb-distal vs finger-distal pairs from the safety term (see module doc)."""
    regularization: float = 2e-4
    """lambda of the temporal regularisation (residual in rad)."""
    regularization_huber: float = 0.1
    """Huber threshold of |q - q_prev|, rad."""
    solver: SolverConfig = SolverConfig()
    """Iterations and tolerances of the box-constrained LM solver."""


class RelativeRetargeter:
    """Eq. 2 solved per frame by box-constrained IRLS Levenberg-Marquardt."""

    def __init__(self, kinematics: HandKinematics, alignment: Alignment | None = None,
                 config: RelativeConfig | None = None) -> None:  # fmt: skip
        self.kinematics = kinematics
        self.config = c = config or RelativeConfig()
        self.keys = KeyVectorExtractor(kinematics, alignment or Alignment(), c.opposing)
        fingers = kinematics.fingers
        self._opp_rows = np.array([fingers.index(f) for f in self.keys.opposing])
        self._thumb_row = fingers.index("thumb")
        # d_i per robot finger: the thumb uses its closest opposing finger.
        self._distance_rows = np.array([fingers.index(f) for f in fingers if f != "thumb"])
        self._distance_list = self._distance_rows.tolist()
        self._solver = BoxLeastSquares(kinematics.q_lower, kinematics.q_upper, c.solver)
        self._safety_pairs = self._select_safety_pairs()
        # Sites of the cost: every fingertip, then the pads of the thumb and the opposing
        # fingers; residual rows = select @ site rows (tips, then pad_j - pad_thumb).
        self._sites = kinematics.site_set(fingers, ("thumb", *self.keys.opposing))
        nf, no = len(fingers), len(self._opp_rows)
        self._select = np.zeros((nf + no, nf + 1 + no))
        self._select[:nf, :nf] = np.eye(nf)
        self._select[nf:, nf] = -1.0
        self._select[nf:, nf + 1:] = np.eye(no)
        self._identity = np.eye(kinematics.nq)
        self._anchor: _Anchor | None = None
        self._q_prev = np.zeros(kinematics.nq)

    def _select_safety_pairs(self) -> np.ndarray:
        """Boolean mask over the kinematics' collision pairs used by the safety term."""
        k = self.kinematics
        mask = np.ones(len(k.collision_pairs), dtype=bool)
        if not self.config.exclude_pinch_pairs:
            return mask
        m = k.model
        distal = {f: m.site_bodyid[m.site(s).id] for f, s in
                  zip(("thumb", "index", "middle", "ring", "little"), k.description.fingertip_sites)
                  if s is not None}  # fmt: skip
        thumb = distal["thumb"]
        others = {b for f, b in distal.items() if f != "thumb"}
        for n, (a, b) in enumerate(k.collision_pairs):
            ba, bb = m.geom_bodyid[m.geom(a).id], m.geom_bodyid[m.geom(b).id]
            if (ba == thumb and bb in others) or (bb == thumb and ba in others):
                mask[n] = False
        return mask

    # --- protocol ------------------------------------------------------------------------

    def reset(self, anchor: HandState, q_robot: np.ndarray) -> None:
        problem = self.keys.problem(anchor)
        if problem is not None:
            raise RetargetError(f"cannot anchor on this human frame: {problem}")
        k = self.kinematics
        q0 = k.clip(np.asarray(q_robot, dtype=np.float64))
        human = self.keys.extract(anchor)
        k.set_q(q0)
        tips0, pads0 = k.fingertips(), k.pads()
        pairs = k.pair_distances()
        thresholds = np.full(len(k.collision_pairs), self.config.safety_distance)
        np.minimum.at(thresholds, pairs.pair_index, pairs.distance)
        opposition0 = pads0[self._opp_rows] - pads0[self._thumb_row]
        offset = np.concatenate([tips0 - human.tips, opposition0 - human.opposition])
        # Per collision pair: its hinge threshold, or -inf where the safety term skips it
        # (so the cost needs no mask: max(0, -inf - d) = 0).
        hinge_threshold = np.where(self._safety_pairs, thresholds, -np.inf)
        self._anchor = _Anchor(q0=q0, human=human, robot_tips=tips0, robot_opposition=opposition0,
                               activation=smoothstep(self._pinch_progress(human.thumb_distance)),
                               safety_threshold=thresholds, offset=offset,
                               hinge_threshold=hinge_threshold)  # fmt: skip
        self._q_prev = q0.copy()

    def retarget(self, human: HandState, solver: SolverConfig | None = None) -> RetargetResult:
        """The command for this frame; ``solver`` overrides the real-time settings
        (e.g. :data:`handitl.retarget.solver.TIGHT` for a converged reference)."""
        if self._anchor is None:
            raise RetargetError("call reset(anchor, q_robot) at takeover before retarget()")
        problem = self.keys.problem(human)
        if problem is not None:
            return RetargetResult(q=self._q_prev.copy(), held=True, reason=problem)
        targets = self._targets(self.keys.extract(human))
        result = self._solver.solve(lambda q: self._blocks(q, targets), self._q_prev, config=solver)
        self._q_prev = result.q
        return RetargetResult(q=result.q.copy(), cost=result.cost, iterations=result.iterations)

    def snapshot(self) -> np.ndarray:
        """The per-frame state (the previous command), to replay a frame (benchmarks)."""
        return self._q_prev.copy()

    def restore(self, snapshot: np.ndarray) -> None:
        self._q_prev = snapshot.copy()

    # --- the cost --------------------------------------------------------------------------

    def _pinch_progress(self, distance: np.ndarray) -> np.ndarray:
        c = self.config
        return (distance - c.pinch_distance) / (c.pinch_release - c.pinch_distance)

    def _targets(self, human) -> _Targets:
        a, c = self._anchor, self.config
        assert a is not None
        # Gates from the human's thumb-finger distances (human metres). The vectors have
        # 2-5 entries: plain Python floats beat numpy's per-call overhead here.
        scale, span = self.keys.alignment.scale, c.gate_open - c.gate_close
        gap = human.tips[self._distance_rows] - human.tips[self._thumb_row]
        finger_d = (np.sqrt(np.einsum("ij,ij->i", gap, gap)) / scale).tolist()
        beta = [0.0] * len(human.tips)
        for row, d in zip(self._distance_list, finger_d):
            openness = _smooth((d - c.gate_close) / span)
            beta[row] = c.shape_weight_pinch + (c.shape_weight - c.shape_weight_pinch) * openness
        beta[self._thumb_row] = min(beta[r] for r in self._distance_list)
        omega, alpha = [], []
        pinch_span = c.pinch_release - c.pinch_distance
        for d, anchored in zip(human.thumb_distance.tolist(), a.activation.tolist()):
            omega.append(c.grasp_weight_pinch + (c.grasp_weight_open - c.grasp_weight_pinch)
                         * _smooth((d - c.gate_close) / span))  # fmt: skip
            activation = _smooth((d - c.pinch_distance) / pinch_span)
            alpha.append(min(1.0, activation / anchored) if anchored > 0.0 else 1.0)
        # Anchor pose + the human's change since t0; opposition rows scaled by alpha.
        target = np.concatenate([human.tips, human.opposition])
        target += a.offset
        target[len(human.tips):] *= np.array(alpha)[:, None]
        return _Targets(target=target, weights=np.array(beta + omega))

    def _blocks(self, q: np.ndarray, t: _Targets) -> LazyEvaluation:
        """Eq. 2 at q: the cost now, its Gauss-Newton model on demand (the hot path: no
        per-term objects; the same sums as :class:`Block` / :class:`Hinge`)."""
        a, c, k = self._anchor, self.config, self.kinematics
        assert a is not None
        k.set_q(q)
        # Shaping and grasping residuals are all 3-vectors with one Huber threshold; one
        # constant matrix maps the site positions to them (tips, then pad differences).
        r = self._select @ self._sites.positions()
        r -= t.target
        norm = np.sqrt(np.einsum("ij,ij->i", r, r))
        delta = c.huber_delta
        quadratic = norm <= delta
        cost = float(t.weights @ np.where(quadratic, 0.5 * norm * norm, delta * (norm - 0.5 * delta)))
        # Temporal regularisation lambda H(|q - q_prev|): identity Jacobian, diagonal.
        d = q - self._q_prev
        nd = math.sqrt(d @ d)
        dr = c.regularization_huber
        cost += c.regularization * (0.5 * nd * nd if nd <= dr else dr * (nd - 0.5 * dr))
        pair_index, distance = k.near_pairs()
        threshold = a.hinge_threshold[pair_index]
        violation = np.maximum(threshold - distance, 0.0)
        cost += 0.5 * c.safety_weight * float(violation @ violation)

        def model() -> Evaluation:
            w = t.weights * np.where(quadratic, 1.0, delta / np.maximum(norm, 1e-300))
            J = (self._select @ self._sites.jacobians().reshape(len(self._sites.ids), -1)).reshape(-1, k.nq)
            Jw = J * np.repeat(np.sqrt(w), 3)[:, None]
            H = Jw.T @ Jw
            g = J.T @ (r * w[:, None]).ravel()
            wr = c.regularization * (1.0 if nd <= dr else dr / nd)
            H += wr * self._identity
            g += wr * d
            hinges = []
            used = threshold > -np.inf
            if used.any():
                hinges.append(Hinge(distance[used], k.near_pair_jacobian()[used], threshold[used],
                                    c.safety_weight))  # fmt: skip
            return Evaluation(cost, H, g, hinges)

        return LazyEvaluation(cost, model)


@dataclasses.dataclass(frozen=True)
class _Anchor:
    q0: np.ndarray
    human: object
    robot_tips: np.ndarray
    robot_opposition: np.ndarray
    activation: np.ndarray
    safety_threshold: np.ndarray
    offset: np.ndarray
    """(f + o, 3) robot anchor tips and oppositions minus the human's (target offset)."""
    hinge_threshold: np.ndarray
    """Per collision pair: the safety threshold, -inf for pairs the term leaves out."""


@dataclasses.dataclass(frozen=True)
class _Targets:
    target: np.ndarray
    """(f + o, 3) robot fingertip targets (anchor position + the human's displacement),
    then the pad-to-pad opposition targets (anchor vector + the human's change, scaled
    by the pinch activation), palm frame, m."""
    weights: np.ndarray
    """beta_i for the fingertip rows, then omega_j for the opposition rows."""
