"""Benchmark: every task's scripted expert over many seeds.

    python bench/experts.py [--tasks PickUpDrill BreadClip] [--seeds 100000:100500]
                            [--workers 2] [--report] [--map DIR] [--out FILE.json]

Per task: success rate, mean normalised sub-goal score, mean completion time (simulated
seconds, successful episodes) and wall time per episode. ``--seeds`` takes a range
``START:STOP`` (any seeds, e.g. a held-out range) or a count ``N`` (seeds 0 to N-1, the
range the experts were developed on). ``--report`` lists each failing seed with the stage
it reached, the plan segment the expert stopped in and the initial conditions the task
drew (``Task.initial_conditions``: object positions, yaws, ...). ``--map DIR`` draws, per
task, success over each pair of the first initial conditions (where failures cluster is
where the expert's approach breaks). Episodes run in parallel worker processes. Prints a
table, then one JSON line last.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "disable")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from common import parse_seeds  # noqa: E402

from handitl.agents.experts import _EXPERTS, expert_for  # noqa: E402
from handitl.envs import make_env, task_entry  # noqa: E402
from handitl.parallel import map_in_order  # noqa: E402


def run_episode(task: str, seed: int) -> dict[str, Any]:
    """One full episode of ``task``'s expert from ``seed``: outcome, the last stage
    reached, the plan segment it ended in and the task's initial conditions."""
    env = make_env(task)
    expert = expert_for(env)
    obs, info = env.reset(seed=seed)
    initial = env.task.initial_conditions
    expert.reset()
    start = time.perf_counter()
    steps = task_entry(task).max_episode_steps
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(expert(obs))
        if terminated or truncated:
            break
    reached = [name for name, done in info["stages"].items() if done]
    result = {
        "seed": seed,
        "success": bool(info["success"]),
        "normalized_score": float(info["normalized_score"]),
        "sim_time": float(info["time"]),
        "wall_time": time.perf_counter() - start,
        "failure": bool(info["failure"]),
        "stages_reached": reached,
        "stages_missing": [name for name, done in info["stages"].items() if not done],
        "segment": expert.segment_name,
        "plan_abandoned": bool(expert.failed),
        "initial_conditions": initial,
    }
    env.close()
    return result


def _run(args: tuple[str, int]) -> dict[str, Any]:
    return run_episode(*args)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    success = np.array([r["success"] for r in runs], dtype=float)
    times = [r["sim_time"] for r in runs if r["success"]]
    return {
        "episodes": len(runs),
        "successes": int(success.sum()),
        "success_rate": round(float(success.mean()), 4),
        "mean_normalized_score": round(float(np.mean([r["normalized_score"] for r in runs])), 4),
        "mean_completion_s": round(float(np.mean(times)), 2) if times else None,
        "wall_s_per_episode": round(float(np.mean([r["wall_time"] for r in runs])), 2),
        "failed_seeds": [r["seed"] for r in runs if not r["success"]],
    }


def failure_report(task: str, runs: list[dict[str, Any]]) -> str:
    """One line per failing seed: score, last stage reached, first stage missing, the
    expert's segment at the end, and the initial conditions."""
    lines = []
    for r in runs:
        if r["success"]:
            continue
        last = r["stages_reached"][-1] if r["stages_reached"] else "-"
        missing = r["stages_missing"][0] if r["stages_missing"] else "-"
        state = "abandoned" if r["plan_abandoned"] else "ended"
        conditions = ", ".join(f"{k}={v:+.3f}" for k, v in r["initial_conditions"].items())
        lines.append(f"  {task} seed {r['seed']}: score {r['normalized_score']:.3f}, reached {last}, "
                     f"missing {missing}, plan {state} in '{r['segment']}'"
                     f"{', object fell/tipped' if r['failure'] else ''}; {conditions}")  # fmt: skip
    return "\n".join(lines) if lines else f"  {task}: no failing seed"


def draw_map(
    task: str, runs: list[dict[str, Any]], out_dir: pathlib.Path, max_params: int = 3
) -> pathlib.Path:
    """Scatter plots of success (green) and failure (red, with the seed) over each pair of
    the task's first ``max_params`` initial conditions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(runs[0]["initial_conditions"])[:max_params]
    pairs = list(itertools.combinations(names, 2)) or [(names[0], names[0])]
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 3.8), squeeze=False)
    ok = np.array([r["success"] for r in runs])
    for ax, (a, b) in zip(axes[0], pairs):
        x = np.array([r["initial_conditions"][a] for r in runs])
        y = np.array([r["initial_conditions"][b] for r in runs])
        ax.scatter(x[ok], y[ok], s=10, c="tab:green", label=f"success ({ok.sum()})")
        ax.scatter(x[~ok], y[~ok], s=28, c="tab:red", marker="x", label=f"failure ({(~ok).sum()})")
        for r, xi, yi in zip(runs, x, y):
            if not r["success"]:
                ax.annotate(str(r["seed"]), (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        ax.grid(alpha=0.3)
    axes[0][0].legend(loc="best", fontsize=8)
    seeds = [r["seed"] for r in runs]
    fig.suptitle(f"{task} expert: success over its initial conditions (seeds {min(seeds)}-{max(seeds)})")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{task}_success_map.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(_EXPERTS))
    parser.add_argument("--seeds", type=parse_seeds, default=range(50),
                        help="START:STOP, or N for seeds 0..N-1 (default 50)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--report", action="store_true", help="list the failing seeds with their cause")
    parser.add_argument("--map", type=pathlib.Path, default=None, metavar="DIR",
                        help="write a success map over the initial conditions per task")  # fmt: skip
    parser.add_argument("--out", type=pathlib.Path, default=None, metavar="FILE.json",
                        help="write every episode's result")  # fmt: skip
    args = parser.parse_args()
    unknown = sorted(set(args.tasks) - set(_EXPERTS))
    if unknown:
        parser.exit(2, f"experts.py: no expert for {unknown}; choose from {sorted(_EXPERTS)}\n")
    if args.workers < 1:
        parser.exit(2, "experts.py: --workers must be >= 1\n")
    from tqdm import tqdm

    seeds = args.seeds
    results: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cpus",
                               "seeds": f"{seeds.start}:{seeds.stop}"}  # fmt: skip
    episodes: dict[str, list[dict[str, Any]]] = {}
    reports = []
    for task in args.tasks:
        jobs = [(task, seed) for seed in seeds]
        with tqdm(total=len(jobs), desc=task, file=sys.stderr, leave=False) as bar:
            runs = map_in_order(_run, jobs, args.workers, lambda _: bar.update())
        episodes[task] = runs
        summary = summarise(runs)
        results[task] = summary
        print(f"{task:>18}: success {summary['successes']}/{summary['episodes']} "
              f"({100 * summary['success_rate']:.1f}%) over seeds {seeds.start}:{seeds.stop}, "
              f"normalised score {summary['mean_normalized_score']:.3f}, completion "
              f"{summary['mean_completion_s']} s, {summary['wall_s_per_episode']} s wall/episode",
              flush=True)  # fmt: skip
        if args.report:
            reports.append(failure_report(task, runs))
        if args.map is not None and runs[0]["initial_conditions"]:
            print(f"{'':>18}  map: {draw_map(task, runs, args.map)}", flush=True)
    if reports:
        print("Failing seeds:")
        print("\n".join(reports))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": results, "episodes": episodes}, indent=1))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
