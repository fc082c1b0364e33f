"""Benchmark: simulated operators doing every task in full takeover, per retargeting method.

    python bench/operators.py [--tasks PickUpDrill BreadClip] [--operators operator_a operator_b]
                              [--methods direct relative jacobian delta] [--seeds 1000:1020]
                              [--workers 2] [--out FILE.json]

Each episode is one :class:`handitl.agents.teleop.TeleopSession`: a simulated operator
profile plans with the task expert run on the scene (its closed-loop replanning, waits and
retries included) at a person's pace (``--time-scale``, 3.5x slower), sees it with its
reaction delay and perception error, and acts only through its own hand keypoints and
wrists, through the retargeting method under test (calibrated to its hand size), pressing
the takeover pedal once its hand mirrors the robot's. An episode runs up to the task's own
time limit x the time scale.

Per task x operator x method: success rate, mean normalised sub-goal score, mean
completion time of the successful episodes (simulated s) against the task's own limit,
and the wall time per episode. Prints a table, then one JSON line last:
``{"results": [{"task", "operator", "method", "success_rate", "score", "time_s", ...}]}``.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "disable")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from common import parse_seeds  # noqa: E402

from handitl.agents.experts import _EXPERTS  # noqa: E402
from handitl.agents.teleop import TeleopConfig, TeleopSession  # noqa: E402
from handitl.envs import task_entry  # noqa: E402
from handitl.envs.bimanual_env import EnvConfig  # noqa: E402
from handitl.intervention.streams import PROFILES  # noqa: E402
from handitl.parallel import map_in_order  # noqa: E402
from handitl.retarget import METHODS  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Job:
    """One cell's episodes for one seed (a worker builds its own session)."""

    task: str
    operator: str
    method: str
    seed: int
    time_scale: float
    retarget_overrides: tuple[tuple[str, float], ...] = ()


def run_job(job: Job) -> dict[str, Any]:
    """One operator episode: outcome, score, completion time, steps, wall time."""
    config = TeleopConfig(task=job.task, operator=job.operator, method=job.method, time_scale=job.time_scale,
                          retarget_overrides=job.retarget_overrides)  # fmt: skip
    session = TeleopSession(config)
    start = time.perf_counter()
    try:
        info, steps = session.run(job.seed)
    finally:
        session.close()
    return {
        **dataclasses.asdict(job),
        "success": bool(info["success"]),
        "score": float(info["normalized_score"]),
        "sim_time": float(info["time"]),
        "steps": int(steps),
        "wall_time": time.perf_counter() - start,
        "stages_reached": [name for name, done in info["stages"].items() if done],
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One cell: success rate, mean score, mean completion time of the successes."""
    first = runs[0]
    times = [r["sim_time"] for r in runs if r["success"]]
    return {
        "task": first["task"],
        "operator": first["operator"],
        "method": first["method"],
        "episodes": len(runs),
        "success_rate": round(float(np.mean([r["success"] for r in runs])), 4),
        "score": round(float(np.mean([r["score"] for r in runs])), 4),
        "time_s": round(float(np.mean(times)), 2) if times else None,
        "task_limit_s": round(task_entry(first["task"]).max_episode_steps * EnvConfig().control_dt, 2),
        "wall_s_per_episode": round(float(np.mean([r["wall_time"] for r in runs])), 2),
        "failed_seeds": [r["seed"] for r in runs if not r["success"]],
    }


def _check_names(parser: argparse.ArgumentParser, kind: str, given: list[str], known: list[str]) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        parser.exit(2, f"operators.py: unknown {kind} {unknown}; choose from {sorted(known)}\n")


def _parse_overrides(parser: argparse.ArgumentParser, items: list[str]) -> tuple[tuple[str, float], ...]:
    """``FIELD=VALUE`` pairs (numbers), checked against every chosen method's config."""
    out = []
    for item in items:
        name, _, value = item.partition("=")
        try:
            out.append((name, float(value)))
        except ValueError:
            parser.exit(2, f"operators.py: --retarget-set needs FIELD=NUMBER, got {item!r}\n")
    return tuple(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(_EXPERTS))
    parser.add_argument("--operators", nargs="+", default=["operator_a", "operator_b"])
    parser.add_argument("--methods", nargs="+", default=["direct", "relative", "jacobian", "delta"])
    parser.add_argument("--seeds", type=parse_seeds, default=range(1000, 1020),
                        help="START:STOP, or N for seeds 0..N-1 (default 1000:1020)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--time-scale", type=float, default=3.5,
                        help="the operator is this many times slower than the expert")  # fmt: skip
    parser.add_argument("--retarget-set", nargs="+", default=[], metavar="FIELD=VALUE",
                        help="ablation: replace fields of the methods' configs")  # fmt: skip
    parser.add_argument("--out", type=pathlib.Path, default=None, metavar="FILE.json",
                        help="write every episode's result")  # fmt: skip
    args = parser.parse_args()
    _check_names(parser, "tasks", args.tasks, list(_EXPERTS))
    _check_names(parser, "operators", args.operators, list(PROFILES))
    _check_names(parser, "methods", args.methods, list(METHODS))
    if args.workers < 1 or not args.time_scale > 0:
        parser.exit(2, "operators.py: --workers must be >= 1 and --time-scale > 0\n")
    overrides = _parse_overrides(parser, args.retarget_set)
    if overrides:
        from handitl.envs import make_env
        from handitl.intervention.factory import hand_retargeters

        env = make_env(args.tasks[0])
        for method in args.methods:
            try:
                hand_retargeters(env, method, sides=(), overrides=dict(overrides))
            except ValueError as exc:
                parser.exit(2, f"operators.py: {exc}\n")
    from tqdm import tqdm

    cells = list(itertools.product(args.tasks, args.operators, args.methods))
    jobs = [Job(t, o, m, s, args.time_scale, overrides) for t, o, m in cells for s in args.seeds]
    bar = tqdm(total=len(jobs), desc="operator episodes", file=sys.stderr)
    runs = map_in_order(run_job, jobs, args.workers, lambda _: bar.update())
    bar.close()
    by_cell: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in runs:
        by_cell.setdefault((run["task"], run["operator"], run["method"]), []).append(run)
    results = [summarise(by_cell[cell]) for cell in cells]
    seeds = args.seeds
    print(f"seeds {seeds.start}:{seeds.stop}, time scale {args.time_scale}"
          + (f", retargeter settings {dict(overrides)}" if overrides else ""))  # fmt: skip
    print("| task | operator | method | success | score | time (s) | task limit (s) | wall s / episode |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        n = r["episodes"]
        time_s = "-" if r["time_s"] is None else f"{r['time_s']:.1f}"
        cell = f"| {r['task']} | {r['operator']} | {r['method']} | {round(r['success_rate'] * n)}/{n} |"
        figures = f"{r['score']:.3f} | {time_s} | {r['task_limit_s']:.0f} | {r['wall_s_per_episode']:.1f} |"
        print(f"{cell} {figures}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"results": results, "episodes": runs}, indent=1))
    summary = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "seeds": f"{seeds.start}:{seeds.stop}",
        "time_scale": args.time_scale,
        "retarget_overrides": dict(overrides),
        "results": results,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
