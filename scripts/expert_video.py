"""Video of a task's scripted expert: one episode per task, with the time, the expert's
current move and the stages reached written on each frame, plus a strip of stills taken
as each stage is first reached (the README's pictures).

    MUJOCO_GL=egl python scripts/expert_video.py --tasks PickUpDrill BreadClip --seed 0 \
        --out runs/videos

Writes ``<out>/<Task>.mp4`` (``pip install "handitl[video]"``) or ``<Task>.gif``, and
``<out>/<Task>_stages.png``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from tqdm import tqdm  # noqa: E402

from handitl.agents.experts import _EXPERTS, expert_for  # noqa: E402
from handitl.envs import make_env, task_entry  # noqa: E402
from handitl.envs.video import write_video  # noqa: E402


def default_camera(camera_names: tuple[str, ...]) -> str:
    """The task's close-up camera if it has one (``*_closeup``), else the third-person view."""
    closeups = [c for c in camera_names if c.endswith("_closeup")]
    return closeups[0] if closeups else "third"


def annotate(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, image.width, 14 * len(lines) + 6], fill=(20, 20, 20))
    for i, line in enumerate(lines):
        draw.text((6, 3 + 14 * i), line, fill=(240, 240, 240))
    return np.asarray(image)


def record(task: str, seed: int, camera: str | None, size: tuple[int, int], every: int,
           max_steps: int | None) -> tuple[list[np.ndarray], list[np.ndarray], dict]:  # fmt: skip
    """(annotated frames, one still per stage as it is first reached, final info)."""
    env = make_env(task)
    base = env.unwrapped
    camera = camera or default_camera(base.camera_names)
    expert = expert_for(env)
    obs, info = env.reset(seed=seed)
    expert.reset()
    steps = max_steps or task_entry(task).max_episode_steps
    frames, stills, reached = [], [], set()
    for step in tqdm(range(steps), desc=task, leave=False):
        obs, _, terminated, truncated, info = env.step(expert(obs))
        new = [s for s, done in info["stages"].items() if done and s not in reached]
        if step % every == 0 or new or terminated or truncated:
            raw = base.render_camera(camera, *size)
            done = sum(info["stages"].values())
            lines = [f"{task}  seed {seed}  t = {info['time']:5.2f} s",
                     f"move: {expert.segment_name}   stages {done}/{len(info['stages'])}"
                     + ("   SUCCESS" if info["success"] else "")]  # fmt: skip
            frames.append(annotate(raw, lines))
            for stage in new:
                reached.add(stage)
                stills.append(annotate(raw, [f"{stage}  t = {info['time']:.2f} s"]))
        if terminated or truncated:
            break
    env.close()
    return frames, stills, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=sorted(_EXPERTS), choices=sorted(_EXPERTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--camera", default=None, help="camera name (default: the task's close-up)")
    parser.add_argument("--size", type=int, nargs=2, default=(360, 480), metavar=("H", "W"))
    parser.add_argument("--every", type=int, default=2, help="a frame every N control steps")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--max-steps", type=int, default=None, help="stop early (tests)")
    parser.add_argument("--out", type=Path, default=Path("runs/videos"))
    args = parser.parse_args()
    if args.every < 1:
        parser.error("--every must be >= 1")
    for task in args.tasks:
        frames, stills, info = record(task, args.seed, args.camera, tuple(args.size), args.every,
                                      args.max_steps)  # fmt: skip
        path = write_video(frames, args.out / task, args.fps)
        line = f"{task}: {len(frames)} frames -> {path}; success {info['success']}"
        if stills:
            strip = args.out / f"{task}_stages.png"
            Image.fromarray(np.concatenate(stills, axis=1)).save(strip)
            line += f"; stills -> {strip}"
        print(line)


if __name__ == "__main__":
    main()
