"""Benchmark: every task's scripted expert over many seeds.

    python bench/experts.py [--tasks PickUpDrill BreadClip] [--seeds 50] [--workers 2]

Per task: success rate, mean normalised sub-goal score, mean completion time (simulated
seconds, successful episodes) and wall time per episode. Episodes run in parallel worker
processes. Prints a table, then one JSON line last.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "disable")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from handitl.agents.experts import _EXPERTS, expert_for  # noqa: E402
from handitl.envs import make_env, task_entry  # noqa: E402


def run_episode(task: str, seed: int) -> dict[str, float]:
    env = make_env(task)
    expert = expert_for(env)
    obs, info = env.reset(seed=seed)
    expert.reset()
    start = time.perf_counter()
    steps = task_entry(task).max_episode_steps
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(expert(obs))
        if terminated or truncated:
            break
    result = {"success": float(info["success"]), "normalized_score": float(info["normalized_score"]),
              "sim_time": float(info["time"]), "wall_time": time.perf_counter() - start}  # fmt: skip
    env.close()
    return result


def _run(args: tuple[str, int]) -> dict[str, float]:
    return run_episode(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(_EXPERTS))
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    results: dict[str, object] = {"machine": f"{platform.machine()}, {os.cpu_count()} cpus",
                                  "seeds": args.seeds}  # fmt: skip
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for task in args.tasks:
            runs = pool.map(_run, [(task, seed) for seed in range(args.seeds)])
            success = np.array([r["success"] for r in runs])
            times = [r["sim_time"] for r in runs if r["success"]]
            summary = {
                "success_rate": round(float(success.mean()), 3),
                "mean_normalized_score": round(float(np.mean([r["normalized_score"] for r in runs])), 3),
                "mean_completion_s": round(float(np.mean(times)), 2) if times else None,
                "wall_s_per_episode": round(float(np.mean([r["wall_time"] for r in runs])), 2),
                "failed_seeds": [s for s, r in enumerate(runs) if not r["success"]],
            }
            results[task] = summary
            print(f"{task:>18}: success {100 * summary['success_rate']:5.1f}% over {args.seeds} seeds, "
                  f"normalised score {summary['mean_normalized_score']:.3f}, completion "
                  f"{summary['mean_completion_s']} s, {summary['wall_s_per_episode']} s wall/episode",
                  flush=True)  # fmt: skip
    print(json.dumps(results))


if __name__ == "__main__":
    main()
