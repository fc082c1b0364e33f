"""The main job until the experiments land: roll out the scripted Reach expert on the
embedded default (procedural hands, no downloads), render the scene, print what it did.

    MUJOCO_GL=egl python scripts/demo.py [--seed 0] [--steps 200] [--out runs/demo]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from handitl.agents import ReachExpert  # noqa: E402
from handitl.envs import make_env  # noqa: E402


def _save_frames(env, out: Path, tag: str) -> list[Path]:
    """PNG per camera; returns the paths (empty with a printed reason if GL fails)."""
    try:
        from PIL import Image

        paths = []
        for camera in env.camera_names:
            path = out / f"{tag}_{camera}.png"
            Image.fromarray(env.render_camera(camera, 360, 480)).save(path)
            paths.append(path)
        return paths
    except Exception as exc:  # no GL here: the rollout itself never needs it
        print(f"  rendering skipped ({type(exc).__name__}: {exc}); set MUJOCO_GL=egl or osmesa")
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=200, help="control steps (50 Hz)")
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    env = make_env("Reach", terminate_on_success=False)
    expert = ReachExpert(env.layout, control_dt=env.control_dt)
    obs, info = env.reset(seed=args.seed)
    goals = obs["task_state"].reshape(2, 3)
    print(f"handitl demo: task Reach, seed {args.seed}, hand '{env.config.hand}' "
          f"({env.robot.hands[next(iter(env.robot.hands))].num_joints} DoF), "
          f"physics {1 / env.config.physics_dt:.0f} Hz, control {1 / env.control_dt:.0f} Hz")  # fmt: skip
    print(f"  goals (m): left {np.round(goals[0], 3)}, right {np.round(goals[1], 3)}")
    _save_frames(env, args.out, "start")

    total_reward, reached_at = 0.0, None
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        obs, reward, terminated, truncated, info = env.step(expert(obs))
        total_reward += reward
        if reached_at is None and info["stages"]["held"]:
            reached_at = step * env.control_dt
        if step % 50 == 0 or step == args.steps:
            dist = np.linalg.norm(obs["palm_pos"] - goals, axis=1)
            grip = obs["hand_qpos"].mean()
            print(f"  t={step * env.control_dt:4.1f} s  palm-goal distance L {dist[0] * 1e3:6.1f} mm "
                  f"R {dist[1] * 1e3:6.1f} mm  mean finger angle {grip:5.2f} rad  "
                  f"reward {reward:5.2f}")  # fmt: skip
    wall = time.perf_counter() - started
    substeps = round(env.control_dt / env.config.physics_dt)
    frames = _save_frames(env, args.out, "end")
    env.close()

    print(f"  goals held (both palms within 2 cm for 0.2 s) at t = "
          f"{reached_at:.2f} s" if reached_at is not None else "  goals never held")  # fmt: skip
    print(f"  return {total_reward:.1f} over {args.steps} steps; "
          f"{args.steps / wall:.0f} control steps/s ({args.steps * substeps / wall:.0f} physics steps/s)")
    if frames:
        print(f"  wrote {len(frames) * 2} frames to {args.out}/ (start_*.png, end_*.png)")


if __name__ == "__main__":
    main()
