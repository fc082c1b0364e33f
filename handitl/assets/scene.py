"""The bimanual workcell: a table, two FR3 arms with hands, cameras and lights.

World frame: origin on the table top at the centre of the arms' base line, +x away
from the robots across the table, +z up. The left arm (robot's left, +y) is the mirror
image of the right arm: mirrored base position, mirrored home joint angles and a
mirrored hand mount, so a left-hand asset that mirrors the right one makes the whole
cell symmetric about the xz plane.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import mujoco
import numpy as np

from handitl.assets import contact_constants as cc
from handitl.assets import fr3
from handitl.assets import fr3_constants as fr3c
from handitl.assets.hand_description import HandAsset, HandDescription, Side

HandBuilder = Callable[[Side], HandAsset]
"""Returns a hand asset for one side; see :mod:`handitl.assets.hands`."""

ARM_MIRROR_SIGNS = np.array([-1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
"""q_left = signs * q_right gives the mirror-image arm pose (reflection in y)."""

CAMERA_NAMES: tuple[str, ...] = ("top", "bottom", "third")
"""Top-down, bottom-up and third-person views, as on the paper's platform."""


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """Layout of the workcell (metres, radians; world frame as in the module doc)."""

    arm_base_y: float = 0.32
    """Lateral offset of each arm base from the centre line."""
    arm_base_x: float = 0.0
    """Arm base position along x (the table extends forward of it)."""
    table_half_size: tuple[float, float, float] = (0.55, 0.65, 0.02)
    """Half extents of the table top box."""
    table_center_x: float = 0.42
    """Table centre along x."""
    table_height: float = 0.76
    """Height of the table top above the floor (the floor is at z = -table_height)."""
    hand_mount_offset: float = 0.012
    """Distance from the flange to the wrist (adapter plate thickness)."""
    hand_mount_yaw: float = math.pi
    """Rotation of the right palm frame about the flange z axis (mirrored on the left)."""
    render_width: int = 1280
    """Largest offscreen frame the model allows (MuJoCo allocates the buffer once)."""
    render_height: int = 960


@dataclasses.dataclass(frozen=True)
class ArmDescription:
    """Names of one arm's parts inside the scene."""

    side: Side
    joint_names: tuple[str, ...]
    actuator_names: tuple[str, ...]
    flange_site: str
    base_body: str
    home_qpos: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class SceneDescription:
    """Everything the env needs to bind to a compiled scene by name."""

    arms: dict[Side, ArmDescription]
    hands: dict[Side, HandDescription]
    camera_names: tuple[str, ...]


def side_prefix(side: Side) -> str:
    return f"{side.value}/"


def home_qpos(side: Side) -> np.ndarray:
    """Home joint angles of one arm, rad (the left one mirrors the right one)."""
    q = fr3c.HOME_QPOS.copy()
    return q if side is Side.RIGHT else ARM_MIRROR_SIGNS * q


def _quat_from_matrix(R: np.ndarray) -> np.ndarray:
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(R).ravel())
    return quat


def _palm_in_root(asset: HandAsset) -> tuple[np.ndarray, np.ndarray]:
    """Pose (pos, 3x3 rotation) of the palm site in the hand's root-body frame."""
    model = asset.spec.copy().compile()
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    root = model.body(asset.description.root_body)
    site = model.site(asset.description.palm_site)
    R_root = data.xmat[root.id].reshape(3, 3)
    pos = R_root.T @ (data.site_xpos[site.id] - data.xpos[root.id])
    return pos, R_root.T @ data.site_xmat[site.id].reshape(3, 3)


def _hand_mount(asset: HandAsset, side: Side, config: SceneConfig) -> tuple[np.ndarray, np.ndarray]:
    """Pose (pos, quat) of the hand root in the flange frame.

    The palm frame is put at ``hand_mount_offset`` along the flange z axis, its z axis
    (finger direction) along the flange z axis, turned by the (mirrored) mount yaw.
    """
    yaw = config.hand_mount_yaw * side.mirror_sign
    c, s = math.cos(yaw), math.sin(yaw)
    R_flange_palm = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    p_flange_palm = np.array([0.0, 0.0, config.hand_mount_offset])
    p_root_palm, R_root_palm = _palm_in_root(asset)
    R_flange_root = R_flange_palm @ R_root_palm.T
    p_flange_root = p_flange_palm - R_flange_root @ p_root_palm
    return p_flange_root, _quat_from_matrix(R_flange_root)


def _look_at(eye: np.ndarray, target: np.ndarray) -> list[float]:
    """Camera xyaxes (x right, y up in world) for a camera at ``eye`` facing ``target``."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:  # looking straight down: image up = +x
        right = np.array([0.0, -1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return [*right, *up]


def _add_world(spec: mujoco.MjSpec, config: SceneConfig) -> None:
    hx, hy, hz = config.table_half_size
    spec.add_texture(name="grid", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
                     rgb1=[0.32, 0.34, 0.38], rgb2=[0.26, 0.28, 0.31])  # fmt: skip
    spec.add_texture(name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, width=256, height=256,
                     rgb1=[0.55, 0.62, 0.72], rgb2=[0.12, 0.13, 0.16])  # fmt: skip
    floor_mat = spec.add_material(name="floor", texrepeat=[6, 6], reflectance=0.0)
    floor_mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "grid"
    floor = spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE,
                                    pos=[0, 0, -config.table_height], size=[3, 3, 0.05],
                                    material="floor")  # fmt: skip
    cc.set_object_contact(floor)
    table = spec.worldbody.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX,
                                    pos=[config.table_center_x, 0.0, -hz], size=[hx, hy, hz],
                                    rgba=[0.62, 0.52, 0.41, 1.0])  # fmt: skip
    cc.set_object_contact(table)
    leg_h = (config.table_height - 2 * hz) / 2
    for k, (sx, sy) in enumerate([(1, 1), (1, -1), (-1, 1), (-1, -1)]):
        spec.worldbody.add_geom(
            name=f"table_leg{k}", type=mujoco.mjtGeom.mjGEOM_BOX, contype=0, conaffinity=0,
            pos=[config.table_center_x + sx * (hx - 0.04), sy * (hy - 0.04), -2 * hz - leg_h],
            size=[0.025, 0.025, leg_h], rgba=[0.35, 0.3, 0.25, 1.0],
        )
    spec.worldbody.add_light(name="key", pos=[0.4, 0.0, 2.0], dir=[0, 0, -1],
                             diffuse=[0.7, 0.7, 0.7], castshadow=False)  # fmt: skip
    spec.worldbody.add_light(name="fill", pos=[1.6, -1.2, 1.2], dir=[-1, 0.8, -0.8],
                             diffuse=[0.35, 0.35, 0.35], castshadow=False)  # fmt: skip
    cx = config.table_center_x
    views = {
        "top": ([cx, 0.0, 1.35], [cx, 0.0, 0.0]),
        "bottom": ([cx + 0.8, 0.0, 0.02], [cx - 0.05, 0.0, 0.3]),
        "third": ([cx + 1.0, -1.0, 0.85], [cx - 0.1, 0.0, 0.15]),
    }
    for name, (eye, target) in views.items():
        spec.worldbody.add_camera(name=name, pos=eye, fovy=58.0,
                                  xyaxes=_look_at(np.array(eye), np.array(target)))  # fmt: skip


def _render_settings(spec: mujoco.MjSpec, config: SceneConfig) -> None:
    """CPU-friendly rendering: shadows and multisampling off (2 fps -> 30-120 fps)."""
    spec.visual.quality.shadowsize = 0
    spec.visual.quality.offsamples = 0
    spec.visual.global_.offwidth = config.render_width
    spec.visual.global_.offheight = config.render_height
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.45, 0.45, 0.45]
    spec.stat.center = [config.table_center_x, 0.0, 0.2]
    spec.stat.extent = 1.4


def _add_arm_with_hand(spec: mujoco.MjSpec, side: Side, hand: HandAsset,
                       config: SceneConfig) -> tuple[ArmDescription, HandDescription]:  # fmt: skip
    arm = fr3.build_fr3()
    base = spec.worldbody.add_frame(pos=[config.arm_base_x, -side.mirror_sign * config.arm_base_y, 0.0])
    prefix = side_prefix(side)
    spec.attach(arm, prefix=prefix, frame=base)
    mount_pos, mount_quat = _hand_mount(hand, side, config)
    mount = spec.body(prefix + fr3.FLANGE_BODY).add_frame(pos=mount_pos, quat=mount_quat)
    mount.attach_body(hand.spec.body(hand.description.root_body), prefix, "")
    for body in spec.body(prefix + fr3.BASE_BODY).find_all(mujoco.mjtObj.mjOBJ_BODY):
        body.gravcomp = 1.0  # the FR3 controller carries the arm and the hand
    arm_desc = ArmDescription(
        side=side,
        joint_names=tuple(prefix + n for n in fr3.JOINT_NAMES),
        actuator_names=tuple(prefix + n for n in fr3.ACTUATOR_NAMES),
        flange_site=prefix + fr3.FLANGE_SITE,
        base_body=prefix + fr3.BASE_BODY,
        home_qpos=tuple(home_qpos(side)),
    )
    return arm_desc, hand.description.with_prefix(prefix)


def build_scene(hand_builder: HandBuilder,
                config: SceneConfig | None = None) -> tuple[mujoco.MjSpec, SceneDescription]:  # fmt: skip
    """Build the workcell spec with both arms and hands (tasks add their props after).

    Returns the spec and the names of every robot part, prefixed ``left/`` or ``right/``.
    """
    config = config or SceneConfig()
    spec = mujoco.MjSpec()
    spec.modelname = "handitl_bimanual"
    spec.compiler.degree = False
    cc.apply_physics_options(spec)
    _render_settings(spec, config)
    _add_world(spec, config)
    arms: dict[Side, ArmDescription] = {}
    hands: dict[Side, HandDescription] = {}
    for side in (Side.LEFT, Side.RIGHT):
        arms[side], hands[side] = _add_arm_with_hand(spec, side, hand_builder(side), config)
    return spec, SceneDescription(arms=arms, hands=hands, camera_names=CAMERA_NAMES)
