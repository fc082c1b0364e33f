"""Benchmark: env control steps/s, the physics steps/s they contain, raw mj_step on the
same scene, their ratio, and AsyncVectorEnv scaling over 1 and 2 workers.

    python bench/env_step.py [--task Reach] [--steps 2000] [--repeats 5]

Prints a table, then one JSON line last. Each figure is the median over repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("MUJOCO_GL", "disable")  # state only: no GL needed or wanted

import gymnasium as gym  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

import handitl  # noqa: E402
from handitl.agents import ReachExpert  # noqa: E402
from handitl.agents.experts import expert_for  # noqa: E402
from handitl.envs import make_env, task_entry  # noqa: E402


def _policy(env):
    """The moving scenario's policy: the task's scripted expert (Reach: arms and fingers
    wave), which keeps its final targets once its plan is played."""
    if env.task.name == "Reach":
        return ReachExpert(env.layout, control_dt=env.control_dt)
    expert = expert_for(env)
    expert.reset()
    return expert


def _env_rate(task: str, steps: int, moving: bool, chunk: int = 25) -> tuple[float, float, int]:
    """(control steps/s counting env.step only, raw mj_step steps/s, substeps).

    Env and raw runs alternate in chunks of ``chunk`` control steps: each chunk is
    first stepped by the env (recording its controls), then replayed from the same start
    state with bare mj_step calls on a second MjData. Both therefore do identical
    physics (checked bit for bit) under the same machine conditions, which on a shared
    VM drift by +-20% over seconds.
    """
    env = make_env(task, terminate_on_success=False)
    obs, _ = env.reset(seed=0)
    policy = _policy(env) if moving else None
    hold = env.hold_action()
    substeps = round(env.control_dt / env.config.physics_dt)
    for _ in range(50):  # warm-up
        obs, *_ = env.step(policy(obs) if policy else hold)
    model, replay = env.model, mujoco.MjData(env.model)
    controls = np.empty((chunk, model.nu))
    env_time = raw_time = 0.0
    for _ in range(steps // chunk):
        mujoco.mj_copyData(replay, model, env.data)
        for k in range(chunk):
            action = policy(obs) if policy else hold
            start = time.perf_counter()
            obs, *_ = env.step(action)
            env_time += time.perf_counter() - start
            controls[k] = env.data.ctrl
        start = time.perf_counter()
        for k in range(chunk):
            replay.ctrl[:] = controls[k]
            mujoco.mj_step(model, replay, nstep=substeps)
        raw_time += time.perf_counter() - start
        if not np.array_equal(replay.qpos, env.data.qpos):
            raise RuntimeError("replay diverged from the env: the comparison would be unfair")
    env.close()
    n = (steps // chunk) * chunk
    return n / env_time, n * substeps / raw_time, substeps


def _vector_rate(task: str, workers: int, steps: int) -> float:
    """Env steps per second summed over all workers of an AsyncVectorEnv."""
    env_id = task_entry(task).env_id
    envs = gym.make_vec(env_id, num_envs=workers, vectorization_mode="async",
                        terminate_on_success=False)  # fmt: skip
    probe = make_env(task)
    probe.reset(seed=0)
    actions = np.tile(probe.hold_action(), (workers, 1))
    probe.close()
    envs.reset(seed=0)
    for _ in range(20):
        envs.step(actions)
    start = time.perf_counter()
    for _ in range(steps):
        envs.step(actions)
    rate = steps * workers / (time.perf_counter() - start)
    envs.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Reach")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    results: dict[str, object] = {
        "task": args.task,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
        "python": platform.python_version(),
        "mujoco": mujoco.__version__,
        "handitl": handitl.__version__,
    }
    for scenario, moving in (("hold", False), ("expert", True)):
        runs = [_env_rate(args.task, args.steps, moving) for _ in range(args.repeats)]
        control = statistics.median(r[0] for r in runs)
        raw = statistics.median(r[1] for r in runs)
        substeps = runs[0][2]
        results[scenario] = {
            "control_steps_per_s": round(control, 1),
            "physics_steps_per_s": round(control * substeps, 1),
            "raw_mj_step_per_s": round(raw, 1),
            "ratio": round(control * substeps / raw, 3),
        }
        r = results[scenario]
        print(f"{scenario:>6}: env {r['control_steps_per_s']:8.1f} control steps/s = "  # type: ignore[index]
              f"{r['physics_steps_per_s']:9.1f} physics steps/s; raw mj_step "  # type: ignore[index]
              f"{r['raw_mj_step_per_s']:9.1f} steps/s; ratio {r['ratio']:.3f}")  # type: ignore[index]
    vector_steps = max(200, args.steps // 4)
    for workers in (1, 2):
        rates = [_vector_rate(args.task, workers, vector_steps) for _ in range(max(1, args.repeats // 2))]
        results[f"async_{workers}_workers_steps_per_s"] = round(statistics.median(rates), 1)
        print(f"AsyncVectorEnv {workers} worker(s): {results[f'async_{workers}_workers_steps_per_s']:8.1f} "
              "env steps/s (all workers)")  # fmt: skip
    results["async_scaling_2_over_1"] = round(
        results["async_2_workers_steps_per_s"] / results["async_1_workers_steps_per_s"], 3)  # type: ignore[operator]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
