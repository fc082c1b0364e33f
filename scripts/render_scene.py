"""Write PNGs of a task's scene from every camera.

    MUJOCO_GL=egl python scripts/render_scene.py --task Reach --out docs/images
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from handitl.envs import make_env, registered_tasks  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Reach", choices=registered_tasks())
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--settle-steps", type=int, default=25,
                        help="hold steps before rendering, so the scene is at rest")  # fmt: skip
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = make_env(args.task)
    try:
        env.reset(seed=args.seed)
        hold = env.hold_action()
        for _ in range(args.settle_steps):
            env.step(hold)
        for camera in env.camera_names:
            frame = env.render_camera(camera, args.height, args.width)
            path = args.out / f"scene_{args.task.lower()}_{camera}.png"
            Image.fromarray(np.asarray(frame)).save(path)
            print(f"wrote {path} ({args.width}x{args.height}, camera '{camera}')")
    finally:
        env.close()


if __name__ == "__main__":
    main()
