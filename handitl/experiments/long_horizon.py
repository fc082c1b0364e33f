"""The long-horizon post-training comparison (HandITL §4.4, Fig. 6): arms, results, report.

A base flow-matching policy is trained on simulated teleoperation demos of a task; each
*arm* then post-trains it with the same schedule on the base demos plus an equal budget
of new data (or none), and every policy is evaluated by the sub-goal completion score
over the same evaluation seeds. The orchestration is ``scripts/long_horizon.py``; this
module holds the arms' definitions, the per-arm result rows, the table and the figure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from handitl.agents.evaluation import EvalSummary, RolloutResult

ARMS: dict[str, str] = {
    "base": "trained on the teleop demos (the starting point of every other arm)",
    "teleop_old": "base, trained on for the post-training steps on the same demos",
    "teleop_new": "base post-trained on the demos plus a budget of new teleop demos",
    "copilot": "base post-trained on the demos plus a budget of copilot-mode HG-DAgger rollouts",
    "takeover": "base post-trained on the demos plus a budget of full-takeover HG-DAgger rollouts",
    "takeover_dexhil": "as takeover, DexHiL intervention weights (P*(intervention) = 0.5)",
    "takeover_flowcorrect": "base frozen, FlowCorrect LoRA + gate trained on the takeover rollouts",
}
"""Arm name -> what its policy is. The paper's five (Base, Teleop_old, Teleop_new,
Copilot, Full Takeover) and two repair variants of the full-takeover data."""

NEW_DATA: dict[str, str | None] = {
    "base": None,
    "teleop_old": None,
    "teleop_new": "teleop",
    "copilot": "copilot",
    "takeover": "takeover",
    "takeover_dexhil": "takeover",
    "takeover_flowcorrect": "takeover",
}
"""Which new dataset each arm is post-trained on (None: only the base demos)."""


@dataclasses.dataclass(frozen=True)
class ArmResult:
    """One arm on one task: evaluation statistics and the data it was trained on."""

    task: str
    arm: str
    rollouts: int
    score: float
    """Mean sub-goal completion score (points)."""
    score_ci: float
    """Half-width of the 95 % Student's t interval of the mean score."""
    normalized_score: float
    normalized_score_ci: float
    success_rate: float
    success_low: float
    success_high: float
    """Wilson 95 % interval of the success rate."""
    new_data_steps: int
    """Control steps of new data the arm was post-trained on (equal across arms with new data)."""
    new_data_intervention_share: float
    """Share of the new data's steps under intervention (NaN: no new data)."""

    @classmethod
    def of(cls, task: str, arm: str, results: Sequence[RolloutResult], new_data_steps: int,
           intervention_share: float) -> ArmResult:  # fmt: skip
        s = EvalSummary.of(results)
        return cls(task, arm, s.rollouts, s.score, s.score_ci, s.normalized_score, s.normalized_score_ci,
                   s.success_rate, s.success_low, s.success_high, new_data_steps, intervention_share)  # fmt: skip


def markdown_table(rows: Sequence[ArmResult]) -> str:
    """One line per task and arm: normalised score +- CI, score, success rate."""
    lines = [
        "| task | arm | rollouts | normalised score (95% CI) | sub-goal score | success [95% CI] | new data steps (intervention share) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        share = (
            ""
            if math.isnan(r.new_data_intervention_share)
            else f" ({100 * r.new_data_intervention_share:.0f}%)"
        )
        lines.append(
            f"| {r.task} | {r.arm} | {r.rollouts} | {r.normalized_score:.3f} ± {r.normalized_score_ci:.3f} | "
            f"{r.score:.2f} ± {r.score_ci:.2f} | {r.success_rate:.2f} [{r.success_low:.2f}, {r.success_high:.2f}] | "
            f"{r.new_data_steps}{share} |"
        )
    return "\n".join(lines)


def plot_fig6(rows: Sequence[ArmResult], path: Path, title: str = "") -> Path:
    """Average normalised sub-goal score per task (groups) and arm (bars), 95 % CIs as
    error bars, in the style of the paper's Fig. 6. Returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r.task for r in rows))
    arms = list(dict.fromkeys(r.arm for r in rows))
    width = 0.8 / max(len(arms), 1)
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(max(6.0, 1.9 * len(tasks) + 1.2), 3.6), constrained_layout=True)
    for k, arm in enumerate(arms):
        xs, means, cis = [], [], []
        for t, task in enumerate(tasks):
            cell = [r for r in rows if r.task == task and r.arm == arm]
            if cell:
                xs.append(t - 0.4 + width * (k + 0.5))
                means.append(cell[0].normalized_score)
                cis.append(cell[0].normalized_score_ci)
        ax.bar(xs, means, width * 0.92, yerr=cis, capsize=2, color=colours(k % 10), label=arm)
    ax.set_xticks(np.arange(len(tasks)), tasks)
    ax.set_ylabel("normalised sub-goal score")
    ax.set_ylim(0.0, 1.0)
    ax.legend(fontsize=7, ncol=min(len(arms), 4), loc="upper right")
    if title:
        ax.set_title(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


__all__ = ["ARMS", "NEW_DATA", "ArmResult", "markdown_table", "plot_fig6"]
