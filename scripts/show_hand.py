"""Render the procedural hand (right and left; zero pose and a pinch pose) to PNGs.

Usage: ``MUJOCO_GL=egl python scripts/show_hand.py OUT_DIR``. Writes
``OUT_DIR/procedural_<side>_<pose>_<view>.png``. The pinch pose is found by a small
least-squares fit of the thumb and index joints that brings the two fingertip pads face to
face. Shadows and anti-aliasing are off so that headless EGL renders stay deterministic.
"""

from __future__ import annotations

import argparse
import os
import pathlib

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from handitl.assets.hand_description import HandDescription, Side  # noqa: E402
from handitl.assets.procedural_hand import build_procedural_hand, solve_pinch_pose  # noqa: E402

_VIEWS: dict[str, tuple[float, float]] = {
    "palmar": (0.0, 0.0),  # (azimuth, elevation) deg of the free camera, see _camera
    "side": (90.0, -10.0),
    "oblique": (45.0, -25.0),
}


def _model(side: Side) -> tuple[mujoco.MjModel, HandDescription]:
    """The hand fixed at the world origin, palm frame = world frame, with a light."""
    asset = build_procedural_hand(side)
    spec = asset.spec
    spec.worldbody.add_light(pos=[0.5, 0.0, 0.6], dir=[-1.0, 0.0, -0.8], diffuse=[0.8] * 3)
    spec.worldbody.add_light(pos=[-0.5, 0.0, 0.6], dir=[1.0, 0.0, -0.8], diffuse=[0.4] * 3)
    model = spec.compile()
    model.vis.quality.shadowsize = 0
    model.vis.quality.offsamples = 0
    model.vis.headlight.ambient[:] = 0.35  # the default headlight leaves skin tones too dark
    model.vis.headlight.diffuse[:] = 0.5
    return model, asset.description


def _camera(azimuth: float, elevation: float) -> mujoco.MjvCamera:
    """Free camera looking at the palm centre from the palmar side (+x) at azimuth 0."""
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = [0.0, 0.0, 0.11]
    cam.distance = 0.45
    cam.azimuth = 180.0 + azimuth  # MuJoCo's azimuth 180 looks along -x, i.e. at the palm
    cam.elevation = elevation
    return cam


def render(out_dir: pathlib.Path, width: int = 480, height: int = 480) -> list[pathlib.Path]:
    """Render every side x pose x view; returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for side in (Side.RIGHT, Side.LEFT):
        model, description = _model(side)
        data = mujoco.MjData(model)
        poses = {
            "zero": np.zeros(description.num_joints),
            "pinch": solve_pinch_pose(model, description),
        }
        with mujoco.Renderer(model, height=height, width=width) as renderer:
            for pose_name, q in poses.items():
                data.qpos[:] = q  # the hand is the model's only jointed subtree
                mujoco.mj_kinematics(model, data)
                for view, (az, el) in _VIEWS.items():
                    renderer.update_scene(data, camera=_camera(az, el))
                    path = out_dir / f"procedural_{side.value}_{pose_name}_{view}.png"
                    Image.fromarray(renderer.render()).save(path)
                    written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=pathlib.Path)
    args = parser.parse_args()
    for path in render(args.out_dir):
        print(path)


if __name__ == "__main__":
    main()
