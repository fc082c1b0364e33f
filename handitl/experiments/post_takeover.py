"""Post-takeover manipulation (HandITL §4.3, Table 1): operators start in takeover and do
the whole task through one retargeting method.

A trial is one simulated operator (:class:`~handitl.intervention.streams.IntentFollowingOperator`)
teleoperating a task from its first tick (pedal down), planning with the task's scripted
expert run on the scene at a human pace (:class:`~handitl.agents.teleop.TeleopSession`),
with its hands retargeted by the method and its wrists mapped by the anchored arm mapping. Per
trial: success, completion time (simulated s), the sub-goal score, *workspace resets*
(the operator's wrist left its comfortable reach: pedal up, hand home, pedal down - the
paper's "Interv."), *retries* (an object that was lifted fell back before it
reached its goal), and for the drill whether the trigger was pulled.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from handitl.agents.teleop import TeleopConfig, TeleopSession
from handitl.experiments.gesture_jump import TrialSpec

HeightEvents = Callable[[Mapping[str, float], Mapping[str, bool]], dict[str, tuple[float, bool]]]
"""(measurements, stages) -> {object: (height above its rest, m; at its goal)}."""


def _drill_heights(m: Mapping[str, float], stages: Mapping[str, bool]) -> dict[str, tuple[float, bool]]:
    return {"drill": (m["height"], bool(stages["triggered"]))}


def _parts_heights(m: Mapping[str, float], stages: Mapping[str, bool]) -> dict[str, tuple[float, bool]]:
    kinds = [k[: -len("_height")] for k in m if k.endswith("_height")]
    return {k: (m[f"{k}_height"], m[f"{k}_in_own_bin"] > 0.0) for k in kinds}


OBJECT_HEIGHTS: dict[str, HeightEvents] = {"PickUpDrill": _drill_heights, "PickAndPlaceParts": _parts_heights}
"""The tasks of the experiment and how their objects' heights are read."""


@dataclasses.dataclass(frozen=True)
class TrialResult:
    """One trial's row of ``trials.csv``."""

    task: str
    method: str
    operator: str
    trial: int
    seed: int
    success: bool
    completion_s: float
    """Simulated time at success, s (NaN when the task was not completed)."""
    score: float
    """Normalised sub-goal score at the end, 0-1."""
    workspace_resets: int
    retries: int
    trigger: bool
    """PickUpDrill: the trigger was held pulled (stage ``triggered``); other tasks: False."""
    steps: int


class RetryCounter:
    """Counts drops: an object lifted above ``lifted_m`` that comes back below ``down_m``
    before reaching its goal is a failed grasp, and the operator must try again."""

    def __init__(self, heights: HeightEvents, lifted_m: float = 0.03, down_m: float = 0.01) -> None:
        self._heights = heights
        self._lifted_m, self._down_m = lifted_m, down_m
        self._up: dict[str, bool] = {}
        self.retries = 0

    def __call__(self, info: Mapping) -> None:
        for name, (height, done) in self._heights(info["measurements"], info["stages"]).items():
            if height > self._lifted_m:
                self._up[name] = True
            elif height < self._down_m and self._up.get(name, False):
                self._up[name] = False
                if not done:
                    self.retries += 1


def run_trial(spec: TrialSpec, time_scale: float) -> TrialResult:
    """Teleoperate one episode (see the module docstring)."""
    if spec.task not in OBJECT_HEIGHTS:
        raise ValueError(f"post-takeover tasks are {sorted(OBJECT_HEIGHTS)}, not {spec.task!r}")
    config = TeleopConfig(task=spec.task, operator=spec.operator, method=spec.method, time_scale=time_scale)
    session = TeleopSession(config)
    counter = RetryCounter(OBJECT_HEIGHTS[spec.task])
    task = session.env.task

    def on_step(info: dict) -> None:
        counter({"measurements": task.measurements, "stages": info["stages"]})

    try:
        info, steps = session.run(spec.seed, on_step)
    finally:
        session.close()
    success = bool(info["success"])
    return TrialResult(
        task=spec.task, method=spec.method, operator=spec.operator, trial=spec.trial, seed=spec.seed,
        success=success, completion_s=float(info["time"]) if success else math.nan,
        score=float(info["normalized_score"]), workspace_resets=int(session.operator.workspace_resets),
        retries=counter.retries, trigger=bool(info["stages"].get("triggered", False)), steps=steps,
    )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class CellSummary:
    """One task x method cell of the table."""

    task: str
    method: str
    trials: int
    successes: int
    time_mean: float
    time_std: float
    time_by_operator: tuple[tuple[str, float], ...]
    workspace_resets: int
    retries: int
    triggers: int
    score_mean: float


def summarize(rows: Sequence[TrialResult]) -> list[CellSummary]:
    """Per task and method: completion time mean and std over successful trials (and per
    operator), totals of resets, retries and trigger pulls, as in the paper's Table 1."""
    out = []
    for task in dict.fromkeys(r.task for r in rows):
        for method in dict.fromkeys(r.method for r in rows if r.task == task):
            cell = [r for r in rows if r.task == task and r.method == method]
            times = np.array([r.completion_s for r in cell if r.success])
            by_op = []
            for op in dict.fromkeys(r.operator for r in cell):
                t = [r.completion_s for r in cell if r.operator == op and r.success]
                by_op.append((op, float(np.mean(t)) if t else math.nan))
            out.append(CellSummary(
                task=task, method=method, trials=len(cell), successes=sum(r.success for r in cell),
                time_mean=float(times.mean()) if times.size else math.nan,
                time_std=float(times.std(ddof=1)) if times.size > 1 else math.nan,
                time_by_operator=tuple(by_op), workspace_resets=sum(r.workspace_resets for r in cell),
                retries=sum(r.retries for r in cell), triggers=sum(r.trigger for r in cell),
                score_mean=float(np.mean([r.score for r in cell])),
            ))  # fmt: skip
    return out


PAPER_TABLE1 = {
    # method: (parts time, parts resets /10, parts retries /10, drill time, drill resets, drill success)
    "jacobian": ("68.0 ± 10.8", 31, 14, "19.4 ± 5.6", 14, 7),
    "delta": ("56.7 ± 14.5", 23, 9, "17.3 ± 5.4", 11, 8),
    "direct": ("52.9 ± 14.2", 21, 8, "15.5 ± 5.7", 12, 10),
    "relative": ("42.8 ± 5.0", 17, 1, "14.4 ± 4.7", 11, 8),
}
"""HandITL Table 1 (10 trials per cell, 5 per operator; "Teleop" is our ``direct``)."""


def markdown_table(cells: Sequence[CellSummary]) -> str:
    """Our cells next to the paper's Table 1."""

    def fmt(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{x:.1f}"

    lines = [
        "| task | method | success | time (s) | time per operator (s) | workspace resets | retries"
        " | trigger pulled | score | paper: time (s) | paper: resets | paper: retries / trigger |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        paper = PAPER_TABLE1.get(c.method)
        if paper is None:
            p_time = p_resets = p_last = "n/a"
        elif c.task == "PickAndPlaceParts":
            p_time, p_resets, p_last = paper[0], f"{paper[1]}/10", f"{paper[2]}/10 retries"
        else:
            p_time, p_resets, p_last = paper[3], f"{paper[4]}/10", f"{paper[5]}/10 pulled"
        per_op = " / ".join(f"{fmt(t)}" for _, t in c.time_by_operator)
        std = "" if math.isnan(c.time_std) else f" ± {c.time_std:.1f}"
        trigger = f"{c.triggers}/{c.trials}" if c.task == "PickUpDrill" else "-"
        lines.append(
            f"| {c.task} | {c.method} | {c.successes}/{c.trials} | {fmt(c.time_mean)}{std} | {per_op}"
            f" | {c.workspace_resets}/{c.trials} | {c.retries}/{c.trials} | {trigger}"
            f" | {c.score_mean:.2f} | {p_time} | {p_resets} | {p_last} |"
        )
    return "\n".join(lines)
