"""Watch a task live with a chosen policy (needs a display).

    python scripts/view.py --task Reach --policy expert            # MuJoCo passive viewer
    python scripts/view.py --task Reach --policy expert --dm-control   # dm_control viewer

Policies: ``expert`` (the task's scripted expert), ``hold`` (keep the start pose),
``random`` (uniform samples from the action space).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np

from handitl.agents import HoldPolicy, ReachExpert
from handitl.envs import BimanualEnv, make_env, registered_tasks

POLICIES = ("expert", "hold", "random")


def make_policy(name: str, env: BimanualEnv, seed: int):
    if name == "expert":
        if env.task.name != "Reach":
            raise SystemExit(f"no scripted expert for task {env.task.name!r} yet; use hold/random")
        return ReachExpert(env.layout, control_dt=env.control_dt)
    if name == "hold":
        return HoldPolicy(env.layout)
    rng = np.random.default_rng(seed)
    space = env.action_space

    class RandomPolicy:
        def reset(self) -> None: ...

        def __call__(self, observation):
            return rng.uniform(space.low, space.high)

    return RandomPolicy()


def _display_problem() -> str | None:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):  # fmt: skip
        return "no display (DISPLAY/WAYLAND_DISPLAY unset); use scripts/render_scene.py headless"
    return None


def run_mujoco_viewer(env: BimanualEnv, policy, seed: int, episodes: int) -> None:
    import mujoco.viewer

    with mujoco.viewer.launch_passive(env.model, env.data) as viewer:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            policy.reset()
            done = False
            while viewer.is_running() and not done:
                tick = time.perf_counter()
                obs, reward, terminated, truncated, info = env.step(policy(obs))
                done = terminated or truncated
                viewer.sync()
                time.sleep(max(0.0, env.control_dt - (time.perf_counter() - tick)))
            print(f"episode {episode}: success={info['success']} score={info['score']:.2f}")
            if not viewer.is_running():
                break
    # The passive viewer's UI thread tears GLFW down after the window closes; exiting
    # before it finishes races GLFW's atexit terminate and segfaults.
    for thread in threading.enumerate():
        if "_launch_internal" in thread.name:
            thread.join(timeout=10.0)


def run_dm_control_viewer(task: str, policy_name: str, seed: int) -> None:
    from dm_control import viewer

    from handitl.envs.dm_env_adapter import DmEnvAdapter

    env = make_env(task)
    policy = make_policy(policy_name, env, seed)

    def dm_policy(time_step):
        if time_step.first():
            policy.reset()
        return policy(time_step.observation)

    viewer.launch(lambda: DmEnvAdapter(env, seed=seed), policy=dm_policy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Reach", choices=registered_tasks())
    parser.add_argument("--policy", default="expert", choices=POLICIES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--dm-control", action="store_true", help="use dm_control's viewer")
    args = parser.parse_args()
    problem = _display_problem()
    if problem:
        raise SystemExit(f"cannot open a viewer: {problem}")
    if args.dm_control:
        run_dm_control_viewer(args.task, args.policy, args.seed)
        return
    env = make_env(args.task)
    try:
        run_mujoco_viewer(env, make_policy(args.policy, env, args.seed), args.seed, args.episodes)
    finally:
        env.close()


if __name__ == "__main__":
    main()
