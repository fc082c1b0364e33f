"""Summaries, the CSV, the markdown table and the Fig. 3-style figure of the gesture-jump
experiment, next to the numbers the paper reports (HandITL §4.2).

Statistics are over takeovers (the paper's scatter points), not over trials: mean and
95% confidence interval of the mean from Student's t. Takeovers of ``no_grasp`` trials
carry no jump and are counted separately, never averaged in.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from handitl.experiments.gesture_jump import TakeoverRow
from handitl.experiments.grasp import Outcome

PAPER_FIG3: dict[tuple[str, str], float] = {
    ("BreadClip", "direct"): 4.38e-2,
    ("BreadClip", "delta"): 6.23e-3,
    ("BreadClip", "relative"): 6.8e-5,
    ("PickUpDrill", "direct"): 2.75e-2,
    ("PickUpDrill", "relative"): 2.65e-4,
}
"""Mean hand-command change at takeover (rad) quoted in the text of HandITL §4.2; the
paper gives no number for the other task-method pairs (Jacobian on Drill is only
"comparable" to relative)."""

OUTCOME_COLOURS = {Outcome.STABLE.value: "#3a9d4a", Outcome.PARTIAL.value: "#f0a030",
                   Outcome.DROP.value: "#d03c32"}  # fmt: skip
"""The paper's green / orange / red."""

ZERO_FLOOR = 1e-9
"""Where exact zeros (and anything smaller) are drawn on the log axis, rad."""


@dataclasses.dataclass(frozen=True)
class MethodSummary:
    """One task-method cell. Jumps in rad; fractions of the measured takeovers."""

    task: str
    method: str
    takeovers: int
    """Measured takeovers (no_grasp excluded)."""
    no_grasp_trials: int
    """Trials whose expert never reached the grasp."""
    trials: int
    mean: float
    ci: float
    """Half-width of the 95% CI of the mean."""
    mean_next: float
    ci_next: float
    stable: float
    partial: float
    drop: float
    no_grasp_reasons: tuple[str, ...] = ()
    """Distinct reasons the expert gave no grasp (see ``TakeoverRow.note``)."""


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """(mean, half-width of the ``level`` CI of the mean) by Student's t; NaN when empty,
    a zero half-width for a single value (no spread to estimate)."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return math.nan, math.nan
    if len(x) == 1:
        return float(x[0]), 0.0
    sem = float(x.std(ddof=1)) / math.sqrt(len(x))
    return float(x.mean()), float(stats.t.ppf(0.5 + level / 2.0, len(x) - 1) * sem)


def summarize(
    rows: Iterable[TakeoverRow], tasks: Sequence[str], methods: Sequence[str]
) -> list[MethodSummary]:
    """One summary per task and method, in the given orders."""
    rows = list(rows)
    out = []
    for task in tasks:
        for method in methods:
            cell = [r for r in rows if r.task == task and r.method == method]
            measured = [r for r in cell if r.outcome != Outcome.NO_GRASP.value]
            trials = {(r.operator, r.trial) for r in cell}
            no_grasp = {(r.operator, r.trial) for r in cell if r.outcome == Outcome.NO_GRASP.value}
            mean, ci = mean_ci([r.discontinuity for r in measured])
            mean_next, ci_next = mean_ci([r.discontinuity_next for r in measured])
            n = len(measured)
            share = {o: (sum(r.outcome == o for r in measured) / n if n else math.nan)
                     for o in OUTCOME_COLOURS}  # fmt: skip
            reasons = tuple(sorted({r.note for r in cell if r.outcome == Outcome.NO_GRASP.value}))
            shares = (share["stable"], share["partial"], share["drop"])
            out.append(MethodSummary(task, method, n, len(no_grasp), len(trials), mean, ci, mean_next,
                                     ci_next, *shares, reasons))  # fmt: skip
    return out


def write_csv(rows: Iterable[TakeoverRow], path: Path) -> None:
    """One line per takeover; floats as ``repr`` so that equal runs give equal bytes."""
    fields = [f.name for f in dataclasses.fields(TakeoverRow)]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(dataclasses.asdict(row))


def read_csv(path: Path) -> list[TakeoverRow]:
    """The rows written by :func:`write_csv`."""
    types = {f.name: f.type for f in dataclasses.fields(TakeoverRow)}
    parse = {"int": int, "float": float, "str": str, "bool": lambda s: s == "True"}
    with open(path, newline="") as f:
        return [TakeoverRow(**{k: parse[types[k]](v) for k, v in line.items()}) for line in csv.DictReader(f)]


def _sci(x: float) -> str:
    return "n/a" if math.isnan(x) else ("0" if x == 0.0 else f"{x:.2e}")


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100.0 * x:.0f}%"


def markdown_table(summaries: Sequence[MethodSummary]) -> str:
    """The results next to the paper's Fig. 3 numbers, with grasp outcomes and a note
    on every task with trials whose expert did not reach the grasp."""
    direct = {s.task: s for s in summaries if s.method == "direct"}
    lines = [
        "| task | method | takeovers | jump at t0 (rad), mean ± 95% CI | vs direct | jump at t0 + 1 tick "
        "(rad) | paper Fig. 3 (rad) | stable | partial | drop |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        paper = PAPER_FIG3.get((s.task, s.method))
        ref = direct.get(s.task)
        change = "n/a"
        if ref is not None and s.method != "direct" and ref.mean > 0 and not math.isnan(s.mean):
            change = f"{-100.0 * (1.0 - s.mean / ref.mean):.5g}%"  # -99.995%, not a rounded -100.0%
        lines.append(f"| {s.task} | {s.method} | {s.takeovers} | {_sci(s.mean)} ± {_sci(s.ci)} | {change} | "
                     f"{_sci(s.mean_next)} ± {_sci(s.ci_next)} | {'n/a' if paper is None else _sci(paper)} | "
                     f"{_pct(s.stable)} | {_pct(s.partial)} | {_pct(s.drop)} |")  # fmt: skip
    for s in summaries:
        if s.no_grasp_trials:
            why = "; ".join(s.no_grasp_reasons)
            count = f"{s.no_grasp_trials}/{s.trials}"
            lines.append(f"\n{s.task} / {s.method}: the expert did not reach its grasp in {count} trials "
                         f"(`no_grasp`, not averaged): {why}.")  # fmt: skip
    return "\n".join(lines) + "\n"


def plot_fig3(rows: Sequence[TakeoverRow], summaries: Sequence[MethodSummary], tasks: Sequence[str],
              methods: Sequence[str], path: Path) -> None:  # fmt: skip
    """Per task: outcome shares per method (stacked bars), and every takeover's jump with
    the mean and 95% CI on a log axis, the paper's means marked (the layout of Fig. 3)."""
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(tasks), 2, figsize=(12.5, 3.6 * len(tasks)), squeeze=False)
    for (ax_out, ax_jump), task in zip(axes, tasks):
        cells = [s for s in summaries if s.task == task]
        _plot_outcomes(ax_out, cells, methods, task)
        _plot_jumps(ax_jump, [r for r in rows if r.task == task], cells, methods, task)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_outcomes(ax, cells: Sequence[MethodSummary], methods: Sequence[str], task: str) -> None:
    x = np.arange(len(methods))
    bottom = np.zeros(len(methods))
    for name, colour in OUTCOME_COLOURS.items():
        share = np.nan_to_num([100.0 * getattr(c, name) for c in cells])
        ax.bar(x, share, bottom=bottom, color=colour, label=name, width=0.6)
        bottom += share
    for k, c in enumerate(cells):
        if c.takeovers == 0:
            ax.text(k, 50, f"no grasp\n{c.no_grasp_trials}/{c.trials}", ha="center", va="center", fontsize=8)
    ax.set_xticks(x, methods)
    ax.set_ylim(0, 100)
    ax.set_ylabel("takeovers (%)")
    ax.set_title(f"{task}: grasp outcome")
    ax.legend(fontsize=8, loc="lower right")


def _plot_jumps(ax, rows: Sequence[TakeoverRow], cells: Sequence[MethodSummary], methods: Sequence[str],
                task: str) -> None:  # fmt: skip
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
    operators = sorted({r.operator for r in rows})
    markers = dict(zip(operators, "o^sv"))
    measured = [r for r in rows if r.outcome != Outcome.NO_GRASP.value]
    for k, method in enumerate(methods):
        for op in operators:
            y = [
                max(r.discontinuity, ZERO_FLOOR) for r in measured if r.method == method and r.operator == op
            ]
            ax.scatter(k + rng.uniform(-0.15, 0.15, len(y)), y, s=14, alpha=0.6, marker=markers[op],
                       color="C0", label=op if k == 0 else None)  # fmt: skip
    labelled: set[str] = set()

    def once(label: str) -> str | None:
        """Each legend entry once per axis."""
        first = label not in labelled
        labelled.add(label)
        return label if first else None

    for k, c in enumerate(cells):
        if not math.isnan(c.mean):
            _log_errorbar(ax, k + 0.25, c.mean, c.ci, fmt="D", color="k", capsize=4,
                          label=once("mean ± 95% CI"))  # fmt: skip
            _log_errorbar(ax, k + 0.35, c.mean_next, c.ci_next, fmt="s", color="0.55", capsize=3,
                          markersize=4, label=once("t0 + 1 tick, mean ± CI"))  # fmt: skip
        paper = PAPER_FIG3.get((task, c.method))
        if paper is not None:
            ax.scatter(k + 0.25, paper, marker="x", s=60, color="C3", zorder=5, label=once("paper"))
    ax.axhline(ZERO_FLOOR, ls="--", lw=0.8, color="0.6")
    ax.text(len(methods) - 0.5, ZERO_FLOOR * 1.5, f"<= {ZERO_FLOOR:.0e} (exact 0 incl.)", fontsize=7,
            color="0.4", ha="right")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(methods)), methods)
    ax.set_xlim(-0.5, len(methods) - 0.3)
    ax.set_ylabel(r"$\|q_{exec}(t_0^+) - q_{exec}(t_0^-)\|_2$ (rad)")
    ax.set_title(f"{task}: hand command change at takeover")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _log_errorbar(ax, x: float, mean: float, ci: float, **style) -> None:
    """A mean ± CI marker on a log axis: zeros sit on the floor line, and a lower bound
    at or below zero is cut just above zero instead of running off the axis."""
    if math.isnan(mean):
        return
    y = max(mean, ZERO_FLOOR)
    ax.errorbar(x, y, yerr=[[min(ci, 0.999 * y)], [ci]], **style)
