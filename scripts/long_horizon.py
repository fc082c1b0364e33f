"""Long-horizon post-training comparison (HandITL §4.4, Fig. 6), headless.

    python scripts/long_horizon.py                        # quick preset (2 CPU cores: see README)
    python scripts/long_horizon.py preset=full workers=16 # the documented full configuration
    python scripts/long_horizon.py tasks=[UnscrewWithDrill] arms=[base,takeover] eval.rollouts=5

Per task (arms: :data:`handitl.experiments.long_horizon.ARMS`):

1. *Base*: ``demos.episodes`` simulated teleoperation demos (an operator following the
   scripted expert run on the scene at a person's pace, through the absolute retargeter;
   :mod:`handitl.agents.teleop`), a flow-matching policy trained on them for
   ``train.base_steps``.
2. *New data*, one budget of ``budget_steps`` recorded control steps each: new teleop
   demos (Teleop_new), and HG-DAgger rollouts of the base policy under the simulated
   supervisor in copilot and in full-takeover mode (:mod:`handitl.agents.dagger`; the
   corrections go through the relative retargeter).
3. *Post-training*, the same schedule (``train.post_steps``, same batch and learning rate)
   for every arm, from the base policy: on the base demos alone (Teleop_old), or the base
   demos mixed with the arm's new data; DexHiL weights for ``takeover_dexhil``; FlowCorrect
   (base frozen, LoRA + gate) on the takeover rollouts for ``takeover_flowcorrect``.
4. *Evaluation*: every policy over the same ``eval.rollouts`` seeds (disjoint from the
   training seeds), in ``workers`` processes: sub-goal completion score, normalised score
   and success rate with 95 % intervals.

Writes into the run dir, per task, ``<task>/demos``, ``<task>/data/<kind>``,
``<task>/policies/<arm>/policy.pt``, ``<task>/eval/<arm>.csv``; and ``results.csv``,
``fig6.md`` and ``fig6.png`` (all tasks), printing the table. A finished step is not
redone when the run dir is given again (``hydra.run.dir=<dir>``), so an interrupted run
resumes.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # rollouts are the parallel unit
os.environ.setdefault("MUJOCO_GL", "disable")
os.environ.setdefault("WANDB_SILENT", "true")

import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from handitl.agents.dagger import CollectConfig, TriggerConfig, collect_corrections  # noqa: E402
from handitl.agents.evaluation import RolloutResult, RolloutSpec, run_rollouts  # noqa: E402
from handitl.agents.experts import _EXPERTS  # noqa: E402
from handitl.agents.learned import ChunkPolicy  # noqa: E402
from handitl.agents.teleop import TeleopConfig, TeleopSession, record_teleop_demos_parallel  # noqa: E402
from handitl.envs import registered_tasks, task_entry  # noqa: E402
from handitl.experiments.long_horizon import ARMS, NEW_DATA, ArmResult, markdown_table, plot_fig6  # noqa: E402
from handitl.experiments.script_module import load_script  # noqa: E402
from handitl.intervention.modes import Mode  # noqa: E402
from handitl.intervention.recorder import EpisodeRecorder  # noqa: E402
from handitl.parallel import write_rows_csv  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent
EVAL_SEED = 100_000
"""Evaluation seeds start here: disjoint from the demo and collection seeds."""


def _train_script():
    """scripts/train.py as a module (its ``run`` trains the policies)."""
    return load_script(SCRIPTS / "train.py", "handitl_train_script")


def check(cfg: DictConfig) -> None:
    """Names and numbers are checked before any work starts."""
    for task in cfg.tasks:
        if task not in registered_tasks():
            raise ValueError(f"unknown task {task!r}; tasks: {', '.join(registered_tasks())}")
        if task not in _EXPERTS:
            raise ValueError(f"task {task!r} has no scripted expert, which the simulated operator "
                             f"follows; drop it from tasks= (experts: {', '.join(_EXPERTS)})")  # fmt: skip
    unknown = [a for a in cfg.arms if a not in ARMS]
    if unknown:
        raise ValueError(f"unknown arm(s) {unknown}; arms: {', '.join(ARMS)}")
    if not cfg.arms:
        raise ValueError("no arms to run (arms=[...])")
    for key in ("demos.episodes", "budget_steps", "train.base_steps", "train.post_steps", "eval.rollouts"):
        if int(OmegaConf.select(cfg, key)) <= 0:
            raise ValueError(f"{key} must be positive, got {OmegaConf.select(cfg, key)}")


def _workers(cfg: DictConfig) -> int:
    return int(cfg.workers) if cfg.workers is not None else (os.cpu_count() or 1)


def _teleop_config(cfg: DictConfig, task: str) -> TeleopConfig:
    d = cfg.demos
    return TeleopConfig(task=task, operator=d.operator,
                        time_scale=float(d.time_scale),
                        max_steps=None if d.max_steps is None else int(d.max_steps))  # fmt: skip


def record_demos(cfg: DictConfig, task: str, out_dir: Path, first_seed: int, episodes: int | None,
                 budget: int | None, label: str) -> tuple[int, int]:  # fmt: skip
    """Simulated teleop demos into ``out_dir``: ``episodes`` of them (in ``workers``
    processes), or episodes until ``budget`` recorded steps (the last cut at the budget). Returns (episodes, steps);
    skipped when ``out_dir/done`` exists (a finished earlier run)."""
    marker = out_dir / "done"
    if marker.exists():
        episodes_done, steps_done = (int(x) for x in marker.read_text().split())
        return episodes_done, steps_done
    if budget is None:
        assert episodes is not None
        # A fixed number of demos: one per seed, recorded in parallel processes.
        with tqdm(total=episodes, unit="ep", desc=f"{task}: {label}", disable=not cfg.progress) as bar:
            results = record_teleop_demos_parallel(_teleop_config(cfg, task), out_dir,
                                                   range(first_seed, first_seed + episodes), _workers(cfg),
                                                   progress=lambda r: bar.update())  # fmt: skip
        steps = sum(r.steps for r in results)
        print(f"{task}: {label}: {len(results)} episodes, {steps} steps, "
              f"{sum(r.success for r in results)} successful, scores {[round(r.score, 2) for r in results]}")  # fmt: skip
        marker.write_text(f"{len(results)} {steps}")
        return len(results), steps
    metadata = {"task": task, "method": "direct", "operator": cfg.demos.operator, "kind": "teleop_demo"}
    recorder = EpisodeRecorder(out_dir, metadata)
    session = TeleopSession(_teleop_config(cfg, task), recorder)
    count = steps = successes = 0
    seed = first_seed
    bar = tqdm(total=budget or episodes, unit="step" if budget else "ep", desc=f"{task}: {label}",
               disable=not cfg.progress)  # fmt: skip
    try:
        while (episodes is None or count < episodes) and (budget is None or steps < budget):
            if budget is not None:
                session.max_steps = min(session.max_steps, budget - steps)
            info, n = session.run(seed)
            recorder.metadata = {**metadata, "success": bool(info["success"]), "score": float(info["score"])}
            if recorder.end_episode() is None:
                raise RuntimeError(f"{task}: the demo of seed {seed} recorded no steps")
            count, steps, seed = count + 1, steps + n, seed + 1
            successes += bool(info["success"])
            bar.update(n if budget else 1)
    finally:
        bar.close()
        session.close()
    print(f"{task}: {label}: {count} episodes, {steps} steps, {successes} successful")
    marker.write_text(f"{count} {steps}")
    return count, steps


def rollout_limit(cfg: DictConfig, task: str) -> int:
    """Control ticks a policy rollout gets by default: the task's limit x the demos'
    ``time_scale``, the time the demonstrators had. A policy imitates the demos' pace (3.5x
    slower than the scripted expert the limit was set for), so the task's own limit would
    stop it about a third of the way through a demonstration."""
    return math.ceil(task_entry(task).max_episode_steps * float(cfg.demos.time_scale))


def collect(
    cfg: DictConfig, task: str, mode: Mode, policy: Path, out_dir: Path, first_seed: int
) -> tuple[int, float]:
    """HG-DAgger rollouts of ``policy`` under the simulated supervisor, ``budget_steps``
    recorded steps. Returns (steps, intervention share); skipped when done before."""
    marker = out_dir / "done"
    if marker.exists():
        steps, share = marker.read_text().split()
        return int(steps), float(share)
    c = cfg.collect
    trigger = TriggerConfig(**OmegaConf.to_container(c.trigger))  # type: ignore[arg-type]
    config = CollectConfig(task=task, mode=mode, method=c.method, operator=c.operator,
                           budget_steps=int(cfg.budget_steps), trigger=trigger,
                           max_steps=int(c.max_steps or rollout_limit(cfg, task)),
                           time_scale=float(cfg.demos.time_scale))  # fmt: skip
    with tqdm(total=config.budget_steps, unit="step", desc=f"{task}: {mode.name.lower()} rollouts",
              disable=not cfg.progress) as bar:  # fmt: skip
        records = collect_corrections(ChunkPolicy.from_checkpoint(policy), config, out_dir, first_seed,
                                      progress=lambda r: bar.update(r.steps))  # fmt: skip
    steps = sum(r.steps for r in records)
    share = sum(r.intervention_steps for r in records) / max(steps, 1)
    print(f"{task}: {mode.name.lower()}: {len(records)} rollouts, {steps} steps, {100 * share:.0f}% corrected, "
          f"{sum(r.success for r in records)} successful")  # fmt: skip
    marker.write_text(f"{steps} {share}")
    return steps, share


def train(cfg: DictConfig, trainer, task: str, out_dir: Path, overrides: dict) -> Path:
    """One policy with scripts/conf/train.yaml + ``cfg.train.overrides`` + ``overrides``;
    skipped when its checkpoint exists."""
    path = out_dir / "policy.pt"
    if path.exists() and (out_dir / "done").exists():
        return path
    base = OmegaConf.load(SCRIPTS / "conf" / "train.yaml")
    base.pop("hydra")
    run_cfg = OmegaConf.merge(
        base,
        OmegaConf.from_dotlist(list(cfg.train.overrides)),
        {"task": task, "progress": cfg.progress, "wandb": {"mode": cfg.wandb_mode}, "device": cfg.device},
        overrides,
    )
    assert isinstance(run_cfg, DictConfig)
    path = Path(trainer.run(run_cfg, out_dir))
    (out_dir / "done").write_text("")
    return path


def evaluate(cfg: DictConfig, task: str, arm: str, policy: Path, out: Path) -> list[RolloutResult]:
    """Every policy over the same evaluation seeds; cached in ``out`` (CSV)."""
    if out.exists():
        import csv

        with out.open() as f:
            return [RolloutResult(int(r["seed"]), float(r["score"]), float(r["normalized_score"]),
                                  r["success"] == "True", float(r["completion_time"]), int(r["steps"]))
                    for r in csv.DictReader(f)]  # fmt: skip
    max_steps = int(cfg.eval.max_steps or rollout_limit(cfg, task))
    specs = [RolloutSpec(str(policy.resolve()), task, EVAL_SEED + k, max_steps)
             for k in range(int(cfg.eval.rollouts))]  # fmt: skip
    workers = int(cfg.workers) if cfg.workers is not None else (os.cpu_count() or 1)
    with tqdm(
        total=len(specs), desc=f"{task}: evaluate {arm}", unit="rollout", disable=not cfg.progress
    ) as bar:
        results = run_rollouts(specs, workers, on_result=lambda r: bar.update())
    out.parent.mkdir(parents=True, exist_ok=True)
    write_rows_csv(results, out)
    return results


def run_task(cfg: DictConfig, task: str, root: Path, trainer) -> list[ArmResult]:
    """The whole comparison on one task (module docstring)."""
    t0 = time.monotonic()
    arms = [a for a in ARMS if a in cfg.arms]
    seed = int(cfg.seed)
    demos = root / "demos"
    record_demos(cfg, task, demos, seed, int(cfg.demos.episodes), None, "base demos")
    base = train(cfg, trainer, task, root / "policies" / "base",
                 {"data": {"demos": [str(demos)]}, "train": {"steps": int(cfg.train.base_steps)}})  # fmt: skip
    needed = {NEW_DATA[a] for a in arms} - {None}
    new: dict[str, tuple[Path, int, float]] = {}
    budget = int(cfg.budget_steps)
    if "teleop" in needed:
        path = root / "data" / "teleop"
        _, steps = record_demos(cfg, task, path, seed + 10_000, None, budget, "new teleop demos")
        new["teleop"] = (path, steps, math.nan)
    for kind, mode, offset in (("copilot", Mode.COPILOT, 20_000), ("takeover", Mode.TAKEOVER, 30_000)):
        if kind in needed:
            path = root / "data" / kind
            steps, share = collect(cfg, task, mode, base, path, seed + offset)
            new[kind] = (path, steps, share)
    post = {"train": {"steps": int(cfg.train.post_steps)}}
    policies: dict[str, Path] = {"base": base}
    for arm in arms:
        if arm == "base":
            continue
        kind = NEW_DATA[arm]
        data: dict = {"demos": [str(demos)]}
        extra: dict = {}
        if kind == "teleop":
            data["demos"].append(str(new["teleop"][0]))
        elif kind is not None:
            data["corrections"] = [str(new[kind][0])]
        if arm == "takeover_flowcorrect":
            if new["takeover"][2] == 0.0:
                raise RuntimeError(
                    f"{task}: the takeover rollouts have no intervention frames, so FlowCorrect "
                    "has nothing to learn from: raise budget_steps or drop takeover_flowcorrect"
                )
            extra = {"model": {"kind": "flowcorrect"}, "flowcorrect": {"base": str(base)}}
        else:
            extra = {"init": str(base), "dexhil": {"enabled": arm == "takeover_dexhil"}}
        policies[arm] = train(cfg, trainer, task, root / "policies" / arm, {"data": data, **post, **extra})
    rows = []
    for arm in arms:
        results = evaluate(cfg, task, arm, policies[arm], root / "eval" / f"{arm}.csv")
        kind = NEW_DATA[arm]
        steps, share = (0, math.nan) if kind is None else new[kind][1:]
        rows.append(ArmResult.of(task, arm, results, steps, share))
    # Minutes spent on the task over every invocation (a resumed run adds what it redid).
    record = root / "minutes"
    minutes = (time.monotonic() - t0) / 60 + (float(record.read_text()) if record.exists() else 0.0)
    record.write_text(f"{minutes:.3f}")
    print(f"{task}: {minutes:.1f} min in all")
    return rows


def run(cfg: DictConfig, out_dir: Path) -> list[ArmResult]:
    """Every task of ``cfg``; writes results.csv, fig6.md and fig6.png into ``out_dir``."""
    check(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = _train_script()
    rows: list[ArmResult] = []
    for task in cfg.tasks:
        rows += run_task(cfg, task, out_dir / task, trainer)
        write_rows_csv(rows, out_dir / "results.csv")  # kept current: a partial run still reports
    minutes = sum(float((out_dir / task / "minutes").read_text()) for task in cfg.tasks)
    table = markdown_table(rows)
    (out_dir / "fig6.md").write_text(
        f"# Long-horizon post-training ({cfg.preset_name} preset, {minutes:.1f} min)\n\n{table}\n"
    )
    plot_fig6(rows, out_dir / "fig6.png", f"{cfg.preset_name} preset: {int(cfg.eval.rollouts)} rollouts per "
              f"policy, {int(cfg.demos.episodes)} base demos, {int(cfg.budget_steps)} new steps per arm")  # fmt: skip
    print(table)
    print(f"{minutes:.1f} min; results in {out_dir}")
    return rows


@hydra.main(config_path="conf/long_horizon", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
