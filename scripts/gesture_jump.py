"""Gesture-jump experiment (HandITL §4.2, Fig. 3): the hand-command discontinuity at
takeover and the grasp outcome, for every task x retargeting method x simulated operator
x trial, three takeovers per trial (protocol: :mod:`handitl.experiments.gesture_jump`).

    python scripts/gesture_jump.py                      # quick preset, <= 3 min on 2 cores
    python scripts/gesture_jump.py preset=full          # 10 trials, <= 15 min on 2 cores
    python scripts/gesture_jump.py tasks=[BreadClip] methods=[direct,relative] workers=1 \
        wandb.mode=disabled hydra.run.dir=runs/gj_small

Writes into the run dir: ``takeovers.csv`` (one row per takeover), ``fig3.png`` and
``table.md`` (ours next to the paper's numbers), and prints the table. Trials run in
``workers`` processes; the same seed gives the same CSV whatever the worker count.
"""

from __future__ import annotations

import os

# One thread per process: trials are the parallel unit, and BLAS threads would only
# fight them for the cores.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MUJOCO_GL", "disable")  # state only: no renderer is ever made
os.environ.setdefault("WANDB_SILENT", "true")  # keep the printed table the last thing on screen

import functools  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from handitl.envs import registered_tasks  # noqa: E402
from handitl.experiments import report  # noqa: E402
from handitl.experiments.gesture_jump import (  # noqa: E402
    GestureJumpConfig,
    TakeoverRow,
    TakeoverTiming,
    TrialSpec,
    run_trial,
)
from handitl.intervention.streams import get_profile  # noqa: E402
from handitl.parallel import map_in_order  # noqa: E402
from handitl.retarget import METHODS  # noqa: E402


def protocol_config(cfg: DictConfig) -> GestureJumpConfig:
    """The library's dataclass from the ``protocol`` node (only scripts see DictConfig)."""
    p = OmegaConf.to_container(cfg.protocol, resolve=True)
    assert isinstance(p, dict)
    timing = TakeoverTiming(**p.pop("timing"))
    gestures = tuple(sorted((str(k), str(v)) for k, v in p.pop("gestures").items()))
    return GestureJumpConfig(timing=timing, gestures=gestures, **p)


def trial_specs(cfg: DictConfig) -> list[TrialSpec]:
    """Every trial of the experiment; names are checked here, before any worker starts."""
    unknown = [t for t in cfg.tasks if t not in registered_tasks()]
    unknown += [m for m in cfg.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown task(s)/method(s) {unknown}; tasks: {registered_tasks()}, "
                         f"methods: {sorted(METHODS)}")  # fmt: skip
    for name in cfg.operators:
        get_profile(name)  # raises with the known names
    return [TrialSpec(task, method, operator, trial, int(cfg.seed) + trial)
            for task in cfg.tasks for method in cfg.methods for operator in cfg.operators
            for trial in range(int(cfg.trials))]  # fmt: skip


def run_trials(specs: Sequence[TrialSpec], config: GestureJumpConfig, workers: int,
               progress: bool = True) -> list[TakeoverRow]:  # fmt: skip
    """All trials' rows, in ``specs`` order (config order), over ``workers`` processes."""
    job = functools.partial(run_trial, config=config)
    with tqdm(total=len(specs), unit="trial", disable=not progress, desc="gesture jump") as bar:
        per_trial = map_in_order(job, specs, workers, on_result=lambda _: bar.update())
    return [row for rows in per_trial for row in rows]


def run(cfg: DictConfig, out_dir: Path) -> str:
    """Run the experiment of ``cfg``, write its outputs into ``out_dir``; the table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = trial_specs(cfg)
    workers = int(cfg.workers) if cfg.workers is not None else (os.cpu_count() or 1)
    rows = run_trials(specs, protocol_config(cfg), min(workers, len(specs)), cfg.progress)
    tasks, methods = list(cfg.tasks), list(cfg.methods)
    summaries = report.summarize(rows, tasks, methods)
    report.write_csv(rows, out_dir / "takeovers.csv")
    report.plot_fig3(rows, summaries, tasks, methods, out_dir / "fig3.png")
    table = report.markdown_table(summaries)
    seeds = f"{cfg.seed}..{cfg.seed + cfg.trials - 1}"
    header = (f"# Gesture jump ({cfg.preset_name}: {cfg.trials} trials x {len(cfg.operators)} operators x "
              f"{cfg.protocol.timing.count} takeovers per task and method, seeds {seeds})\n\n")  # fmt: skip
    (out_dir / "table.md").write_text(header + table)
    _log_wandb(cfg, out_dir, rows, summaries)
    return table


def _log_wandb(cfg: DictConfig, out_dir: Path, rows: list[TakeoverRow],
               summaries: list[report.MethodSummary]) -> None:  # fmt: skip
    """Log the summary, the figure and the rows to Weights & Biases (offline by default)."""
    if cfg.wandb.mode == "disabled":
        return
    try:
        import wandb
    except ImportError as exc:
        raise ImportError("wandb logging needs `pip install wandb`; or run with wandb.mode=disabled") from exc
    run = wandb.init(project=cfg.wandb.project, group=cfg.wandb.group, mode=cfg.wandb.mode, dir=str(out_dir),
                     config=OmegaConf.to_container(cfg, resolve=True))  # fmt: skip
    for s in summaries:
        for key in ("mean", "ci", "mean_next", "stable", "partial", "drop", "no_grasp_trials"):
            run.summary[f"{s.task}/{s.method}/{key}"] = getattr(s, key)
    columns = list(TakeoverRow.__dataclass_fields__)
    table = wandb.Table(columns=columns, data=[[getattr(r, c) for c in columns] for r in rows])
    run.log({"fig3": wandb.Image(str(out_dir / "fig3.png")), "takeovers": table})
    run.finish()


@hydra.main(config_path="conf", config_name="gesture_jump", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    print(run(cfg, out_dir))
    print(f"outputs: {out_dir}")


if __name__ == "__main__":
    main()
