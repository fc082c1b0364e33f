"""Render every registered hand (right and left, open pose) to PNGs.

Usage: ``MUJOCO_GL=egl python scripts/show_hands.py OUT_DIR [--hand NAME ...] [--urdf-dir DIR]``.
Writes ``OUT_DIR/<hand>_<side>_<view>.png``. Keypoint sites are drawn enlarged and coloured
per finger (thumb red, index green, middle blue, ring yellow, little magenta, wrist
white), fingertip pad sites black, and the palm frame as 4 cm axes (x red = palmar,
y green, z blue = toward the middle MCP). Cameras are placed in the palm frame, so left and right
renders should be mirror images. Hands whose files are missing are skipped with a note.
"""

from __future__ import annotations

import argparse
import os
import pathlib
from collections.abc import Callable

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from handitl.assets import hands  # noqa: E402
from handitl.assets.hand_description import KEYPOINT_NAMES, HandAsset, Side  # noqa: E402
from handitl.assets.mirror import pose_in_body  # noqa: E402

_FINGER_RGBA = {
    "wrist": (1.0, 1.0, 1.0, 1.0),
    "thumb": (0.9, 0.1, 0.1, 1.0),
    "index": (0.1, 0.8, 0.1, 1.0),
    "middle": (0.1, 0.3, 0.95, 1.0),
    "ring": (0.95, 0.85, 0.1, 1.0),
    "little": (0.85, 0.1, 0.85, 1.0),
}
_AXES_GROUP = 5
"""Geom group of the palm-axes markers (drawn opaque; hand geoms are made translucent)."""
_VIEWS: dict[str, tuple[float, float, float]] = {
    # camera direction from the palm centre, in palm-frame coordinates (x palmar, y thumb)
    "palmar": (1.0, 0.0, 0.0),
    "side_minus_y": (0.25, -1.0, 0.0),
    "oblique": (1.0, 0.7, 0.6),
}


def _builders(names: list[str]) -> dict[str, Callable[[Side], HandAsset]]:
    unknown = sorted(set(names) - set(hands.hand_names()))
    if unknown:
        raise SystemExit(f"unknown hands {unknown}; registered: {', '.join(hands.hand_names())}")
    return {name: hands.hand_builder(name) for name in names}


def _add_cameras(asset: HandAsset, distance: float) -> None:
    """Cameras looking at the palm centre (10 cm along palm z) from each view direction."""
    spec, desc = asset.spec, asset.description
    p, rot = pose_in_body(spec, spec.site(desc.palm_site), spec.body(desc.root_body))
    # The root body sits at the world origin with identity orientation when compiled alone.
    root = spec.body(desc.root_body)
    assert np.allclose(root.pos, 0.0), "the hand root is expected at the world origin"
    center = p + 0.1 * rot[:, 2]
    for name, direction in _VIEWS.items():
        d = rot @ (np.asarray(direction) / np.linalg.norm(direction))
        up = rot[:, 2] - np.dot(rot[:, 2], d) * d
        right = np.cross(up, d)
        spec.worldbody.add_camera(name=name, pos=list(center + distance * d), fovy=45.0,
                                  xyaxes=[*right, *up])  # fmt: skip
    spec.worldbody.add_light(pos=list(center + 0.6 * rot[:, 0] + 0.3 * rot[:, 2]),
                             dir=list(-rot[:, 0]), diffuse=[0.7] * 3)  # fmt: skip


def _add_palm_axes(asset: HandAsset, length: float = 0.04) -> None:
    """Visual-only capsules along the palm site's x (red), y (green), z (blue) axes."""
    site = asset.spec.site(asset.description.palm_site)
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, np.asarray(site.quat, dtype=float))
    rot = rot.reshape(3, 3)
    origin = np.asarray(site.pos, dtype=float)
    for k, rgba in enumerate(([1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1])):
        end = origin + length * rot[:, k]
        site.parent.add_geom(type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[0.0015, 0, 0],
                             fromto=[*origin, *end], rgba=rgba, contype=0, conaffinity=0,
                             group=_AXES_GROUP, mass=0.0)  # fmt: skip


def _colour_sites(model: mujoco.MjModel, asset: HandAsset) -> None:
    """Per-finger keypoint colours; geoms made translucent so that sites inside show."""
    hand_geoms = model.geom_group != _AXES_GROUP
    model.geom_rgba[hand_geoms, 3] = np.minimum(model.geom_rgba[hand_geoms, 3], 0.3)
    desc = asset.description
    for name, site in zip(KEYPOINT_NAMES, desc.keypoint_sites):
        if site is None:
            continue
        i = model.site(site).id
        model.site_rgba[i] = _FINGER_RGBA[name.split("_")[0]]
        model.site_size[i, 0] = 0.005
    for site in desc.fingertip_sites:
        if site is not None:
            i = model.site(site).id
            model.site_rgba[i] = (0.0, 0.0, 0.0, 1.0)
            model.site_size[i, 0] = 0.004


def _open_pose(model: mujoco.MjModel, asset: HandAsset) -> np.ndarray:
    r = np.array([model.joint(n).range for n in asset.description.joint_names])
    return np.clip(0.0, r[:, 0], r[:, 1])


def render_hand(asset: HandAsset, out_dir: pathlib.Path, width: int = 480,
                height: int = 480) -> list[pathlib.Path]:  # fmt: skip
    """Render one hand in its open pose from every view; returns the written paths."""
    _add_cameras(asset, distance=0.38)
    _add_palm_axes(asset)
    model = asset.spec.compile()
    model.vis.quality.shadowsize = 0
    model.vis.quality.offsamples = 0
    _colour_sites(model, asset)
    data = mujoco.MjData(model)
    names = asset.description.joint_names
    data.qpos[[model.jnt_qposadr[model.joint(n).id] for n in names]] = _open_pose(model, asset)
    mujoco.mj_forward(model, data)  # also places the cameras (mj_camlight)
    option = mujoco.MjvOption()
    option.sitegroup[:] = 1
    option.geomgroup[_AXES_GROUP] = 1
    written = []
    with mujoco.Renderer(model, height=height, width=width) as renderer:
        for view in _VIEWS:
            renderer.update_scene(data, camera=view, scene_option=option)
            path = (
                out_dir
                / f"{asset.description.model_name}_{asset.description.side.value}_{view}.png"
            )
            Image.fromarray(renderer.render()).save(path)
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=pathlib.Path)
    parser.add_argument("--hand", action="append", default=None,
                        help=f"hand to render (repeatable; default: {', '.join(hands.hand_names())})")
    parser.add_argument("--urdf-dir", type=pathlib.Path, default=None,
                        help="folder with leap_hand/ and allegro_hand/ (or HANDITL_HAND_URDF_DIR)")
    args = parser.parse_args()
    if args.urdf_dir is not None:
        os.environ["HANDITL_HAND_URDF_DIR"] = str(args.urdf_dir)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, build in _builders(args.hand or list(hands.hand_names())).items():
        for side in (Side.RIGHT, Side.LEFT):
            try:
                asset = build(side)
            except (ImportError, FileNotFoundError) as err:
                print(f"skipping {name}: {err}")
                break
            for path in render_hand(asset, args.out_dir):
                print(path)


if __name__ == "__main__":
    main()
