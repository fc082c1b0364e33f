"""Evaluate a policy checkpoint: N rollouts over seeds in parallel processes.

    python scripts/evaluate.py checkpoint=runs/train/<run>/policy.pt rollouts=20
    python scripts/evaluate.py checkpoint=runs/fc/policy.pt gate_scale=0     # FlowCorrect's base
    MUJOCO_GL=egl python scripts/evaluate.py checkpoint=... videos=3         # with videos

Reports the sub-goal completion score (HandITL §4.4), the normalised score, the success
rate and the completion time, each with a 95% interval, and writes into the run dir
``rollouts.csv`` (one row per rollout), ``summary.json``, ``summary.md`` and the videos
(``video_<seed>.mp4`` or ``.gif``). Results do not depend on ``workers``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # rollouts are the parallel unit
os.environ.setdefault("WANDB_SILENT", "true")

import dataclasses  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from handitl.agents.checkpoint import load_checkpoint  # noqa: E402
from handitl.agents.evaluation import EvalSummary, RolloutResult, RolloutSpec, run_rollouts  # noqa: E402
from handitl.parallel import write_rows_csv  # noqa: E402


def rollout_specs(cfg: DictConfig, out_dir: Path) -> list[RolloutSpec]:
    """One spec per seed; the task defaults to the checkpoint's."""
    checkpoint = str(Path(cfg.checkpoint).resolve())
    task = cfg.task or load_checkpoint(checkpoint).meta.get("task")
    if not task:
        raise ValueError("the checkpoint names no task: set task=<name>")
    if cfg.videos or load_checkpoint(checkpoint).normalization.image_keys:  # rendering needed
        os.environ.setdefault("MUJOCO_GL", "egl")
    return [
        RolloutSpec(
            checkpoint,
            str(task),
            int(cfg.seed) + k,
            cfg.max_steps,
            cfg.n_exec,
            cfg.gate_scale,
            str(out_dir / f"video_{int(cfg.seed) + k}") if k < int(cfg.videos) else None,
        )
        for k in range(int(cfg.rollouts))
    ]


def run(cfg: DictConfig, out_dir: Path) -> EvalSummary:
    """Evaluate as ``cfg`` says; writes the outputs into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = rollout_specs(cfg, out_dir)
    workers = int(cfg.workers) if cfg.workers is not None else (os.cpu_count() or 1)
    with tqdm(
        total=len(specs), desc=f"evaluate {specs[0].task}", unit="rollout", disable=not cfg.progress
    ) as bar:
        results = run_rollouts(specs, workers, on_result=lambda r: bar.update())
    summary = EvalSummary.of(results)
    write_rows_csv(results, out_dir / "rollouts.csv")
    (out_dir / "summary.json").write_text(
        json.dumps(
            {"task": specs[0].task, "checkpoint": specs[0].checkpoint, **dataclasses.asdict(summary)},
            indent=2,
        )
    )
    (out_dir / "summary.md").write_text(f"# {specs[0].task}: {specs[0].checkpoint}\n\n{summary.markdown()}\n")
    _log_wandb(cfg, out_dir, summary, results)
    return summary


def _log_wandb(cfg: DictConfig, out_dir: Path, summary: EvalSummary, results: list[RolloutResult]) -> None:
    """Summary and videos to Weights & Biases (offline by default); wandb imported only here."""
    if cfg.wandb.mode == "disabled":
        return
    try:
        import wandb
    except ImportError as exc:
        raise ImportError("wandb logging needs `pip install wandb`; or run with wandb.mode=disabled") from exc
    run = wandb.init(
        project=cfg.wandb.project,
        group=cfg.wandb.group,
        mode=cfg.wandb.mode,
        dir=str(out_dir),
        config=OmegaConf.to_container(cfg, resolve=True),
    )
    for key, value in dataclasses.asdict(summary).items():
        run.summary[f"eval/{key}"] = value
    videos = {f"video_{r.seed}": wandb.Video(r.video) for r in results if r.video}
    if videos:
        run.log(videos)
    run.finish()


@hydra.main(config_path="conf", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    print(run(cfg, out_dir).markdown())
    print(f"outputs: {out_dir}")


if __name__ == "__main__":
    main()
