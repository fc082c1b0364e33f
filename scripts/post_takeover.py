"""Post-takeover manipulation (HandITL §4.3, Table 1): simulated operators start in
takeover and do PickAndPlaceParts and PickUpDrill through each retargeting method
(protocol: :mod:`handitl.experiments.post_takeover`).

    python scripts/post_takeover.py                     # quick preset: 1 trial per operator
    python scripts/post_takeover.py preset=full         # 5 trials per operator, as the paper
    python scripts/post_takeover.py tasks=[PickUpDrill] methods=[direct,relative] workers=1

Writes into the run dir ``trials.csv`` (one row per trial), ``table1.md`` (ours next to the
paper's Table 1) and ``table1.png``, and prints the table.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # trials are the parallel unit
os.environ.setdefault("MUJOCO_GL", "disable")

import functools  # noqa: E402
import math  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from tqdm import tqdm  # noqa: E402

from handitl.experiments.post_takeover import (  # noqa: E402
    OBJECT_HEIGHTS,
    CellSummary,
    TrialResult,
    TrialSpec,
    markdown_table,
    run_trial,
    summarize,
)
from handitl.intervention.streams import get_profile  # noqa: E402
from handitl.parallel import map_in_order, write_rows_csv  # noqa: E402
from handitl.retarget import METHODS  # noqa: E402


def trial_specs(cfg: DictConfig) -> list[TrialSpec]:
    """Every trial; names are checked before any worker starts."""
    unknown = [t for t in cfg.tasks if t not in OBJECT_HEIGHTS] + [m for m in cfg.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown task(s)/method(s) {unknown}; tasks: {sorted(OBJECT_HEIGHTS)}, "
                         f"methods: {sorted(METHODS)}")  # fmt: skip
    for name in cfg.operators:
        get_profile(name)
    return [TrialSpec(task, method, operator, trial, int(cfg.seed) + trial)
            for task in cfg.tasks for method in cfg.methods for operator in cfg.operators
            for trial in range(int(cfg.trials))]  # fmt: skip


def run_trials(specs: Sequence[TrialSpec], time_scale: float, workers: int,
               progress: bool) -> list[TrialResult]:  # fmt: skip
    """Every trial's result, in ``specs`` order, over ``workers`` processes."""
    job = functools.partial(run_trial, time_scale=time_scale)
    with tqdm(total=len(specs), unit="trial", disable=not progress, desc="post-takeover") as bar:
        return map_in_order(job, specs, workers, on_result=lambda _: bar.update())


def plot(cells: Sequence[CellSummary], path: Path) -> None:
    """Per task and method: the mean sub-goal score with the successes and their mean
    completion time, and the counts of workspace resets and retries."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(c.task for c in cells))
    fig, axes = plt.subplots(len(tasks), 2, figsize=(10, 3.2 * len(tasks)), squeeze=False)
    for row, task in enumerate(tasks):
        cs = [c for c in cells if c.task == task]
        names = [c.method for c in cs]
        ax = axes[row][0]
        ax.bar(names, [c.score_mean for c in cs], color="#4c72b0")
        for k, c in enumerate(cs):
            time = "" if math.isnan(c.time_mean) else f"\n{c.time_mean:.1f} s"
            ax.text(k, c.score_mean, f"{c.successes}/{c.trials}{time}", ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0.0, 1.25)
        ax.set_ylabel("mean normalised score")
        ax.set_title(f"{task}: score (successes, completion time on top)")
        ax = axes[row][1]
        x = range(len(cs))
        ax.bar([i - 0.2 for i in x], [c.workspace_resets for c in cs], width=0.4, label="workspace resets")
        ax.bar([i + 0.2 for i in x], [c.retries for c in cs], width=0.4, label="retries")
        ax.set_xticks(list(x), names)
        ax.set_ylabel("count (all trials)")
        ax.set_title(f"{task}: resets and retries")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(cfg: DictConfig, out_dir: Path) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = trial_specs(cfg)
    workers = int(cfg.workers) if cfg.workers is not None else (os.cpu_count() or 1)
    rows = run_trials(specs, float(cfg.time_scale), min(workers, len(specs)), bool(cfg.progress))
    cells = summarize(rows)
    write_rows_csv(rows, out_dir / "trials.csv")
    plot(cells, out_dir / "table1.png")
    table = markdown_table(cells)
    header = (f"# Post-takeover manipulation ({cfg.preset_name}: {cfg.trials} trials x "
              f"{len(cfg.operators)} operators per task and method, seeds {cfg.seed}.."
              f"{cfg.seed + cfg.trials - 1}, operators {cfg.time_scale}x slower than the expert)\n\n")  # fmt: skip
    (out_dir / "table1.md").write_text(header + table + "\n")
    return table


@hydra.main(config_path="conf/post_takeover", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    print(run(cfg, out_dir))
    print(f"\noutputs: {out_dir}")


if __name__ == "__main__":
    main()
