"""A small box-constrained Levenberg-Marquardt solver for retargeting costs.

Costs are sums of weighted residual blocks, ``sum_b w_b * rho_b(||r_b(q)||)`` with rho
either 0.5 x^2 or the Huber function. Huber blocks are handled by iteratively
reweighted least squares (IRLS: weight delta/||r|| outside the quadratic zone), which
``shared/docs/retarget_notes.md`` measured as the fast, stable choice; each step is a
box-constrained QP (``mju_boxQP``) so joint limits hold exactly without clipping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import mujoco
import numpy as np


class Block:
    """A group of g residual blocks of equal size m, evaluated together.

    Cost: ``sum_k weight_k * rho(|residual_k|)`` with rho = 0.5 x^2, or the Huber
    function when ``huber`` is set. Grouping keeps the per-iteration Python overhead
    flat in the number of fingers (one einsum instead of a loop); a plain class with
    slots because several are built per solver iteration.

    Args:
        residual: (g, m) residual vectors, or (m,) for one block.
        jacobian: (g, m, n) (or (m, n)) d(residual)/dq, or None for the identity (m == n).
        weight: (g,) weights >= 0, or one scalar for all.
        huber: Huber threshold delta on each |residual_k| (None: quadratic).
    """

    __slots__ = ("residual", "jacobian", "weight", "huber", "_norm")

    def __init__(self, residual: np.ndarray, jacobian: np.ndarray | None,
                 weight: np.ndarray | float = 1.0, huber: float | None = None) -> None:  # fmt: skip
        if residual.ndim == 1:
            residual = residual[None]
            jacobian = None if jacobian is None else jacobian[None]
        self.residual = residual
        self.jacobian = jacobian
        self.weight = weight if isinstance(weight, np.ndarray) else np.full(len(residual), weight)
        self.huber = huber
        self._norm = np.sqrt(np.einsum("ij,ij->i", residual, residual))

    def cost(self) -> float:
        n = self._norm
        if self.huber is None:
            return float(self.weight @ (0.5 * n * n))
        rho = np.where(n <= self.huber, 0.5 * n * n, self.huber * (n - 0.5 * self.huber))
        return float(self.weight @ rho)

    def irls_weight(self) -> np.ndarray:
        """Per-block weights that make 0.5 w |r|^2 match each block's slope at r."""
        if self.huber is None:
            return self.weight
        return self.weight * np.minimum(1.0, self.huber / np.maximum(self._norm, 1e-300))

    def accumulate(self, H: np.ndarray, g: np.ndarray) -> None:
        """Add this group's Gauss-Newton Hessian and gradient (IRLS-weighted)."""
        w = self.irls_weight()
        if self.jacobian is None:  # identity Jacobian: a diagonal contribution
            H.flat[:: H.shape[0] + 1] += w[0]
            g += w[0] * self.residual[0]
            return
        Jw = self.jacobian * np.sqrt(w)[:, None, None]
        flat = Jw.reshape(-1, Jw.shape[-1])
        H += flat.T @ flat
        g += np.einsum("gmi,gm->i", self.jacobian, self.residual * w[:, None])


@dataclasses.dataclass
class Hinge:
    """One-sided penalties ``0.5 * weight * max(0, threshold - value)^2`` on a set of
    distances, e.g. link-pair clearances.

    All candidates near their threshold are passed, violated or not: the solver's step
    minimises their one-sided linearisation (see ``BoxLeastSquares._step``), so a step
    cannot jump into a collision the current point does not yet see
    (``shared/docs/retarget_notes.md``: otherwise 35-42% of frames end > 1%
    suboptimal).

    Attributes:
        value: (c,) current distances.
        jacobian: (c, n) d(value)/dq.
        threshold: (c,) per-candidate thresholds.
        weight: the penalty weight.
    """

    value: np.ndarray
    jacobian: np.ndarray
    threshold: np.ndarray
    weight: float

    def cost(self) -> float:
        violation = np.maximum(self.threshold - self.value, 0.0)
        return 0.5 * self.weight * float(violation @ violation)


@dataclasses.dataclass
class Evaluation:
    """A cost evaluated at q, already reduced to its Gauss-Newton model.

    Attributes:
        cost: the full cost at q (hinge penalties included).
        H: (n, n) IRLS-weighted Gauss-Newton Hessian of the non-hinge terms.
        g: (n,) their gradient.
        hinges: hinge candidate sets (the solver's step minimises their one-sided model).
    """

    cost: float
    H: np.ndarray
    g: np.ndarray
    hinges: list[Hinge]

    @classmethod
    def of(cls, terms: list[Block | Hinge], n: int) -> Evaluation:
        """Reduce a list of blocks and hinges."""
        H, g, hinges, cost = np.zeros((n, n)), np.zeros(n), [], 0.0
        for term in terms:
            cost += term.cost()
            if isinstance(term, Hinge):
                hinges.append(term)
            else:
                term.accumulate(H, g)
        return cls(cost, H, g, hinges)


@dataclasses.dataclass(frozen=True)
class LazyEvaluation:
    """A cost evaluated at q whose Gauss-Newton model is built only when the solver needs
    it: trial points that are rejected, or that end the solve (about half of them on
    operator streams), never pay for Jacobians.

    The solver calls ``model`` right after accepting q, before it evaluates anywhere else,
    so ``model`` may read state the evaluation left behind (the kinematics at q).

    Attributes:
        cost: the full cost at q (hinge penalties included).
        model: builds the :class:`Evaluation` at the same q (with the same cost).
    """

    cost: float
    model: Callable[[], Evaluation]


BlockFunction = Callable[[np.ndarray], "list[Block | Hinge] | Evaluation | LazyEvaluation"]
"""Evaluates the cost at a joint vector: a list of blocks and hinges, or (fast paths,
for hot retargeters) an :class:`Evaluation` computed directly or a :class:`LazyEvaluation`."""


@dataclasses.dataclass(frozen=True)
class SolverConfig:
    """Iteration limits and tolerances of :func:`solve`."""

    max_iterations: int = 10
    """Gauss-Newton/LM iterations per call (early stop usually after ~3)."""
    step_tolerance: float = 1e-6
    """Stop when the step's largest joint change (rad) falls below this."""
    cost_tolerance: float = 1e-3
    """Stop when a step changes the cost by less than this fraction of it (1e-3: 0.63 ms
    median on the 21-DoF hand, 1e-4: 0.93 ms, equal quality; bench/README.md)."""
    initial_damping: float = 1e-3
    """Marquardt damping: this fraction of the Hessian's diagonal is added to it."""


TIGHT = SolverConfig(max_iterations=500, step_tolerance=1e-12, cost_tolerance=0.0)
"""Solve to a stationary point (anchors, references), not in real time."""


@dataclasses.dataclass(frozen=True)
class SolveResult:
    q: np.ndarray
    cost: float
    iterations: int
    converged: bool


class BoxLeastSquares:
    """Minimise a block cost within joint bounds, starting from a given q."""

    def __init__(self, lower: np.ndarray, upper: np.ndarray, config: SolverConfig | None = None) -> None:
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)
        self.config = config or SolverConfig()
        n = len(self.lower)
        self._result = np.zeros(n)
        self._factor = np.zeros((n, n + 7))
        self._index = np.zeros(n, dtype=np.int32)
        self._chol = np.zeros((n, n))
        self._chol_step = np.zeros(n)

    def solve(self, blocks: BlockFunction, q0: np.ndarray, max_iterations: int | None = None,
              config: SolverConfig | None = None) -> SolveResult:  # fmt: skip
        """Minimise from ``q0``; ``config``/``max_iterations`` override the defaults."""
        c = config or self.config
        q = np.minimum(np.maximum(np.asarray(q0, dtype=np.float64), self.lower), self.upper)
        n = len(q)
        # mju_boxQP warm-starts from this buffer: cleared so that a solve depends only on
        # its inputs, not on what this solver solved before (e.g. a reference solve a
        # benchmark ran in between), down to the last bit.
        self._result[:] = 0.0

        def evaluate(x: np.ndarray) -> Evaluation | LazyEvaluation:
            result = blocks(x)
            return result if isinstance(result, (Evaluation, LazyEvaluation)) else Evaluation.of(result, n)

        current = evaluate(q)
        cost = current.cost
        damping = c.initial_damping
        iterations = max_iterations if max_iterations is not None else c.max_iterations
        for it in range(1, iterations + 1):
            if isinstance(current, LazyEvaluation):
                current = current.model()  # q was the last point evaluated (see LazyEvaluation)
            H, g = current.H.copy(), current.g
            hinges = [h for h in current.hinges if h.weight > 0.0]  # weight 0: no term
            # Marquardt damping: scaled by the curvature already there, so one factor
            # of 10 always matters whatever the cost's units.
            diagonal = H.flat[:: n + 1]
            H.flat[:: n + 1] = diagonal * (1.0 + damping) + damping * 1e-9
            active = [h.value < h.threshold for h in hinges]
            if not g.any() and not any(a.any() for a in active):
                return SolveResult(q, cost, it - 1, True)  # exactly stationary (no human motion)
            self._step(q, H, g, hinges, active)
            step = self._result.copy()
            trial_q = np.minimum(np.maximum(q + step, self.lower), self.upper)
            trial = evaluate(trial_q)
            trial_cost = trial.cost
            flat = abs(cost - trial_cost) <= c.cost_tolerance * max(cost, 1e-30)
            if trial_cost <= cost:
                q, current, cost = trial_q, trial, trial_cost
                damping = max(damping * 0.3, 1e-9)
                if flat or np.abs(step).max() < c.step_tolerance:
                    return SolveResult(q, cost, it, True)
            elif flat:
                # A flat valley (redundant joints): moving on changes nothing measurable.
                return SolveResult(q, cost, it, True)
            else:
                damping *= 10.0
                if damping > 1e4:
                    return SolveResult(q, cost, it, True)  # no descent direction left
        return SolveResult(q, cost, iterations, False)

    def _step(self, q: np.ndarray, H: np.ndarray, g: np.ndarray, hinges: list[Hinge],
              active: list[np.ndarray]) -> None:
        """Box-constrained step into ``self._result`` on the linearised hinge model.

        The model's hinge terms are one-sided, ``0.5 w max(0, t - v - J s)^2``. First the
        step with the currently violated candidates as plain quadratics; if it leaves
        exactly those below their thresholds, it is the model's minimiser. Otherwise the
        whole model is solved as one box QP (:meth:`_hinge_step`). Growing the set by
        hand instead kept quadratics on candidates the step clears, pulling those pairs
        toward their thresholds (0.5-1.5 rad steps, rejected until the iteration cap on
        14% of operator frames), and a semismooth active-set loop cycles on candidates
        that hold each other at their thresholds."""
        lower, upper = self.lower - q, self.upper - q
        Ha, ga = H, g
        if any(on.any() for on in active):
            Ha, ga = H.copy(), g.copy()
            for h, on in zip(hinges, active):
                if on.any():
                    J = h.jacobian[on]
                    Ha += h.weight * (J.T @ J)
                    ga -= h.weight * (J.T @ (h.threshold[on] - h.value[on]))
        self._bounded_newton_step(Ha, ga, lower, upper)
        if not hinges:
            return
        J = np.concatenate([h.jacobian for h in hinges])
        a0 = np.concatenate([h.threshold - h.value for h in hinges])
        on = np.concatenate(active)
        predicted = J @ self._result < a0  # below threshold after the step
        if (predicted == on).all():
            return
        w = np.concatenate([np.full(len(h.value), h.weight) for h in hinges])
        self._hinge_step(H, g, J, w, a0, predicted | on, lower, upper)

    def _hinge_step(self, H: np.ndarray, g: np.ndarray, J: np.ndarray, w: np.ndarray, a0: np.ndarray,
                    include: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:  # fmt: skip
        """The one-sided hinge model ``0.5 w max(0, a)^2``, a = a0 - J s, solved as a box QP
        over (s, y) via ``0.5 w max(0, a)^2 = min_{y >= 0} 0.5 w (a + y)^2``: convex
        (positive definite, as H is), so ``mju_boxQP`` finds the minimiser. Only the
        ``include``d candidates get a slack; any other that the result violates is added
        and the QP solved again, so the result minimises the whole model (a candidate
        left out is inactive there: no cost, no gradient), with a QP of ~n + 3 instead of
        n + 15-25 variables."""
        while True:
            self._hinge_qp(H, g, J[include], w[include], a0[include], lower, upper)
            missing = (J @ self._result < a0) & ~include
            if not missing.any():
                return
            include = include | missing

    def _hinge_qp(self, H: np.ndarray, g: np.ndarray, J: np.ndarray, w: np.ndarray, a0: np.ndarray,
                  lower: np.ndarray, upper: np.ndarray) -> None:  # fmt: skip
        """One box QP over (s, y) into ``self._result``, warm-started at the last step
        with y = max(0, -a)."""
        n = len(g)
        m = n + len(w)
        wJ = w[:, None] * J
        Hx = np.empty((m, m))
        Hx[:n, :n] = H + J.T @ wJ
        Hx[n:, :n] = -wJ
        Hx[:n, n:] = -wJ.T
        Hx[n:, n:] = np.diag(w)
        gx = np.concatenate([g - wJ.T @ a0, w * a0])
        lo = np.concatenate([lower, np.zeros(len(w))])
        hi = np.concatenate([upper, np.full(len(w), 1e3)])
        x = np.concatenate([self._result, np.maximum(0.0, J @ self._result - a0)])
        # Jacobi scaling: the hinge weight makes the raw problem's diagonal span ~1e8,
        # where mju_boxQP's relative stopping test leaves a visible projected gradient.
        d = 1.0 / np.sqrt(Hx.diagonal())
        Hs = Hx * d[:, None] * d[None, :]
        xs = x / d
        mujoco.mju_boxQP(xs, np.zeros((m, m + 7)), None, Hs, gx * d, lo / d, hi / d)
        self._result[:] = xs[:n] * d[:n]

    def _bounded_newton_step(self, H: np.ndarray, g: np.ndarray, lower: np.ndarray,
                             upper: np.ndarray) -> None:  # fmt: skip
        """argmin 0.5 x'Hx + g'x within [lower, upper] into ``self._result``: a plain
        Cholesky solve (~2 us) when its step is inside the box, else ``mju_boxQP``
        (~30 us at 21 DoF with active bounds)."""
        self._chol[:] = H
        if mujoco.mju_cholFactor(self._chol, 0.0) == len(g):
            mujoco.mju_cholSolve(self._chol_step, self._chol, -g)
            if (self._chol_step >= lower).all() and (self._chol_step <= upper).all():
                self._result[:] = self._chol_step
                return
        mujoco.mju_boxQP(self._result, self._factor, self._index, H, g, lower, upper)
