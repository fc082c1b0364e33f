"""The procedural 21-DoF hand: structure, mirror symmetry, proportions and grasp physics.

Physics tests put the hand's root on a mocap body (gravity on, the contact settings of
``contact_constants``), close it on an object that is held up by gravity compensation,
then switch the compensation off (the "support") and measure how far the object moves in
the palm frame over 2 s. Everything is deterministic: fixed seeds, fixed starts.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import mujoco
import numpy as np
import pytest

from handitl.assets import contact_constants as cc
from handitl.assets.hand_description import FINGERS, KEYPOINT_NAMES, HandDescription, Side
from handitl.assets.procedural_hand import (
    ProceduralHandConfig,
    build_procedural_hand,
    collision_pairs,
    solve_pinch_pose,
)

SIDES = (Side.RIGHT, Side.LEFT)
_M = np.diag([1.0, -1.0, 1.0])
"""Reflection of palm-frame y: maps a right-hand point to the left hand's."""
PREFIX = "hand/"
HOLD_S = 2.0
MAX_SLIP_M = 0.01
CLOSE_RAMP_S = 0.35
"""physics_notes.md: targets ramped over ~0.35 s."""
STAGGER_S = {"mcp": 0.0, "pip": 0.12, "dip": 0.24}
"""physics_notes.md: MCP first, PIP 0.12 s later, DIP 0.24 s later, so fingers wrap."""
PAST_CONTACT_RAD = 0.25
"""Closing targets lie this far past the kinematic contact angle (physics_notes: 0.1-0.35)."""
SETTLE_S = 0.8
"""Closing time before the support is removed (ramp + stagger + settling)."""


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
@functools.cache
def _standalone(side: Side) -> tuple[mujoco.MjModel, HandDescription]:
    """The hand compiled alone: its root is welded to the world at the origin."""
    asset = build_procedural_hand(side)
    return asset.spec.compile(), asset.description


def _keypoints(model: mujoco.MjModel, desc: HandDescription, q: np.ndarray) -> np.ndarray:
    """(21, 3) keypoint positions in the palm (= world) frame at joint vector ``q``, m."""
    data = mujoco.MjData(model)
    for name, angle in zip(desc.joint_names, q):
        data.qpos[model.joint(name).qposadr[0]] = angle
    mujoco.mj_kinematics(model, data)
    return np.array([data.site(s).xpos for s in desc.keypoint_sites])


def _joint_limits(model: mujoco.MjModel, desc: HandDescription) -> np.ndarray:
    """(num_joints, 2) joint ranges, rad."""
    return np.array([model.joint(n).range for n in desc.joint_names])


def _quat(rot: np.ndarray) -> np.ndarray:
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(rot).ravel())
    return quat


def _rotation_taking(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(3, 3) smallest rotation mapping unit vector ``a`` onto unit vector ``b`` (a != -b)."""
    v, c = np.cross(a, b), float(a @ b)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


@dataclasses.dataclass(frozen=True)
class _Prop:
    """A free object posed in the palm frame."""

    geom_type: mujoco.mjtGeom
    size: tuple[float, float, float]
    mass: float
    pos_palm: np.ndarray
    rot_palm: np.ndarray


@dataclasses.dataclass
class _Scene:
    """A compiled hand-and-prop scene with name lookups for the (prefixed) hand."""

    model: mujoco.MjModel
    data: mujoco.MjData
    obj_body: int
    obj_geom: int
    hand_body: int

    def qadr(self, joint: str) -> int:
        return int(self.model.joint(PREFIX + joint).qposadr[0])

    def act(self, joint: str) -> int:
        return int(self.model.actuator(PREFIX + "act_" + joint).id)

    def geom(self, name: str) -> int:
        return int(self.model.geom(PREFIX + name).id)

    def obj_in_palm(self) -> np.ndarray:
        """(3,) object centre in the palm frame, m."""
        rot = self.data.xmat[self.hand_body].reshape(3, 3)
        return rot.T @ (self.data.xpos[self.obj_body] - self.data.xpos[self.hand_body])


def _scene(side: Side, rot_world_palm: np.ndarray, prop: _Prop) -> _Scene:
    """Hand on a mocap body 0.5 m up, posed by ``rot_world_palm``, plus a free prop.

    The prop has ``gravcomp = 1`` (its support); tests set ``model.body_gravcomp`` to 0 to
    release it. It must be nonzero at compile time or MuJoCo skips gravity compensation.
    """
    asset = build_procedural_hand(side)
    spec = mujoco.MjSpec()
    spec.compiler.degree = False
    cc.apply_physics_options(spec)
    base_pos = np.array([0.0, 0.0, 0.5])
    base = spec.worldbody.add_body(
        name="base", mocap=True, pos=list(base_pos), quat=list(_quat(rot_world_palm))
    )
    spec.attach(asset.spec, prefix=PREFIX, frame=base.add_frame())
    body = spec.worldbody.add_body(
        name="prop",
        pos=list(base_pos + rot_world_palm @ prop.pos_palm),
        quat=list(_quat(rot_world_palm @ prop.rot_palm)),
    )
    body.add_freejoint(name="prop_free")
    body.gravcomp = 1.0
    geom = body.add_geom(name="prop", type=prop.geom_type, size=list(prop.size), mass=prop.mass)
    cc.set_object_contact(geom)
    model = spec.compile()
    return _Scene(
        model=model,
        data=mujoco.MjData(model),
        obj_body=model.body("prop").id,
        obj_geom=model.geom("prop").id,
        hand_body=model.body(PREFIX + "hand").id,
    )


def _touches(
    model: mujoco.MjModel, data: mujoco.MjData, geoms: list[int], others: list[int]
) -> bool:
    return any(
        mujoco.mj_geomDistance(model, data, g, o, 0.01, None) <= 0.0 for g in geoms for o in others
    )


@dataclasses.dataclass(frozen=True)
class _ChainJoint:
    joint: str
    start: float
    goal: float
    delay: float
    """Fraction of the sweep before this joint starts moving (the stagger)."""
    geoms: tuple[str, ...]
    """Geoms of the segment this joint moves; contact there stops it and proximal joints."""


def _close_kinematically(
    scene: _Scene, chain: list[_ChainJoint], obstacles: list[int], steps: int = 400
) -> dict[str, float]:
    """Contact angles of a staggered closing sweep (GraspIt-style auto-grasp).

    Joints sweep from ``start`` toward ``goal`` in kinematics only; when a segment touches
    an obstacle, its joint and all proximal joints of the chain stop. Returns the angles
    where each joint stopped (its goal if it never touched).
    """
    model, data = scene.model, scene.data
    q = np.array([j.start for j in chain])
    moving = np.ones(len(chain), dtype=bool)
    geoms = [[scene.geom(g) for g in j.geoms] for j in chain]
    for k in range(1, steps + 1):
        for i, j in enumerate(chain):
            if moving[i]:
                frac = np.clip(k / steps * (1.0 + j.delay) - j.delay, 0.0, 1.0)
                q[i] = j.start + frac * (j.goal - j.start)
                data.qpos[scene.qadr(j.joint)] = q[i]
        mujoco.mj_kinematics(model, data)
        for i in range(len(chain)):
            if moving[i] and _touches(model, data, geoms[i], obstacles):
                moving[: i + 1] = False
        if not moving.any():
            break
    return {j.joint: float(v) for j, v in zip(chain, q)}


def _run_close_and_hold(
    scene: _Scene, start: dict[str, float], target: dict[str, float], delays: dict[str, float]
) -> float:
    """Ramp servos from ``start`` to ``target``, release the prop, hold; returns slip in m.

    Slip is the prop's displacement in the palm frame from the release to ``HOLD_S`` later.
    """
    model, data = scene.model, scene.data
    mujoco.mj_resetData(model, data)
    for joint, angle in start.items():
        data.qpos[scene.qadr(joint)] = angle
        data.ctrl[scene.act(joint)] = angle
    mujoco.mj_forward(model, data)
    assert data.ncon == 0, "prop placed in contact; the closing would start from a collision"
    while data.time < SETTLE_S:
        for joint, goal in target.items():
            frac = np.clip((data.time - delays.get(joint, 0.0)) / CLOSE_RAMP_S, 0.0, 1.0)
            data.ctrl[scene.act(joint)] = start[joint] + frac * (goal - start[joint])
        mujoco.mj_step(model, data)
    released_at = scene.obj_in_palm()
    model.body_gravcomp[scene.obj_body] = 0.0
    while data.time < SETTLE_S + HOLD_S:
        mujoco.mj_step(model, data)
    assert np.all(np.isfinite(data.qpos))
    return float(np.linalg.norm(scene.obj_in_palm() - released_at))


# ---------------------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
def test_compiles_with_all_named_parts(side: Side) -> None:
    """Both sides compile with 21 hinges, 21 servos (same order), 21 keypoint and 5
    fingertip sites, a jointless root, and one explicit contact pair per collision pair."""
    model, desc = _standalone(side)
    desc.validate(model)
    assert model.njnt == 21 and model.nu == 21 and desc.num_joints == 21
    assert all(model.joint(n).type == mujoco.mjtJoint.mjJNT_HINGE for n in desc.joint_names)
    assert [model.actuator(a).trnid[0] for a in desc.actuator_names] == [
        model.joint(j).id for j in desc.joint_names
    ]
    assert desc.joint_names[:5] == (
        "thumb_cmc_abd",
        "thumb_cmc_flex",
        "thumb_mcp_abd",
        "thumb_mcp_flex",
        "thumb_ip",
    )
    assert desc.joint_names[5:9] == ("index_abd", "index_mcp", "index_pip", "index_dip")
    assert all(s is not None for s in (*desc.keypoint_sites, *desc.fingertip_sites))
    assert desc.keypoint_sites == tuple(f"kp_{k}" for k in KEYPOINT_NAMES)
    assert desc.fingertip_sites == tuple(f"fingertip_{f}" for f in FINGERS)
    root = model.body(desc.root_body)
    assert root.jntnum[0] == 0 and root.parentid[0] == 0
    np.testing.assert_array_equal(model.site(desc.palm_site).quat, [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(model.site(desc.palm_site).pos, 0.0)
    assert model.npair == len(desc.collision_pairs) == len(collision_pairs()) == 48
    for act, joint in zip(desc.actuator_names, desc.joint_names):
        np.testing.assert_array_equal(model.actuator(act).ctrlrange, model.joint(joint).range)
    assert 0.55 < model.body_subtreemass[root.id] < 0.65


def test_attach_prefixes_every_name() -> None:
    """Attached with a prefix, the prefixed description validates (pairs included)."""
    asset = build_procedural_hand(Side.LEFT)
    scene = mujoco.MjSpec()
    scene.attach(asset.spec, prefix="left/", frame=scene.worldbody.add_frame())
    model = scene.compile()
    desc = asset.description.with_prefix("left/")
    desc.validate(model)
    assert model.geom(model.pair_geom1[0]).name.startswith("left/")
    # The hand's spec is in radians; attaching into a degree-default spec must not rescale.
    np.testing.assert_allclose(model.joint("left/index_mcp").range, [-0.35, 1.57])


def test_config_scale_scales_lengths() -> None:
    """scale=0.9 shrinks the wrist-to-middle-tip length by exactly 0.9."""
    lengths = []
    for scale in (1.0, 0.9):
        asset = build_procedural_hand(Side.RIGHT, ProceduralHandConfig(scale=scale))
        model = asset.spec.compile()
        kp = _keypoints(model, asset.description, np.zeros(21))
        lengths.append(np.linalg.norm(kp[KEYPOINT_NAMES.index("middle_tip")]))
    assert lengths[1] == pytest.approx(0.9 * lengths[0], rel=1e-12)


# ---------------------------------------------------------------------------------------
# Mirror symmetry and proportions
# ---------------------------------------------------------------------------------------
def test_left_is_mirror_of_right() -> None:
    """For 16 random joint vectors within limits, every left keypoint equals the right
    keypoint with palm-frame y negated, to 1e-9 m (same joint vector, mirrored pose)."""
    right, desc_r = _standalone(Side.RIGHT)
    left, desc_l = _standalone(Side.LEFT)
    limits = _joint_limits(right, desc_r)
    np.testing.assert_array_equal(limits, _joint_limits(left, desc_l))
    rng = np.random.default_rng(0)
    for _ in range(16):
        q = rng.uniform(limits[:, 0], limits[:, 1])
        kp_r = _keypoints(right, desc_r, q)
        kp_l = _keypoints(left, desc_l, q)
        np.testing.assert_allclose(kp_l, kp_r @ _M, rtol=0.0, atol=1e-9)


@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
def test_sign_conventions(side: Side) -> None:
    """Flexion moves every fingertip toward +x (palmar); positive index abduction moves the
    index tip toward the thumb (+y right, -y left); the thumb is on the +y side (right)."""
    model, desc = _standalone(side)
    zero = _keypoints(model, desc, np.zeros(21))
    flexed = np.zeros(21)
    for f in FINGERS[1:]:
        for j in ("mcp", "pip", "dip"):
            flexed[desc.joint_names.index(f"{f}_{j}")] = 0.5
    kp = _keypoints(model, desc, flexed)
    for f in FINGERS[1:]:
        tip = KEYPOINT_NAMES.index(f"{f}_tip")
        assert kp[tip, 0] > zero[tip, 0] + 0.05
    abducted = np.zeros(21)
    abducted[desc.joint_names.index("index_abd")] = 0.3
    tip = KEYPOINT_NAMES.index("index_tip")
    dy = _keypoints(model, desc, abducted)[tip, 1] - zero[tip, 1]
    assert side.mirror_sign * dy > 0.02
    assert side.mirror_sign * zero[KEYPOINT_NAMES.index("thumb_tip"), 1] > 0.08


def test_hand_length_is_human_scaled() -> None:
    """Wrist to middle fingertip at the zero pose is 0.19-0.23 m (1.1x an adult male)."""
    model, desc = _standalone(Side.RIGHT)
    kp = _keypoints(model, desc, np.zeros(21))
    length = np.linalg.norm(kp[KEYPOINT_NAMES.index("middle_tip")] - kp[0])
    assert 0.19 <= length <= 0.23
    np.testing.assert_allclose(kp[0], 0.0, atol=1e-12)


@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
def test_thumb_opposes_index_pad(side: Side) -> None:
    """A least-squares fit within the joint limits brings the thumb pad within 5 mm of the
    index pad with the pads facing each other (normals within 10 deg of opposite)."""
    model, desc = _standalone(side)
    q = solve_pinch_pose(model, desc)
    limits = _joint_limits(model, desc)
    assert np.all(q >= limits[:, 0]) and np.all(q <= limits[:, 1])
    data = mujoco.MjData(model)
    data.qpos[:] = q
    mujoco.mj_kinematics(model, data)
    thumb, index = (data.site(desc.fingertip_sites[FINGERS.index(f)]) for f in ("thumb", "index"))
    distance = np.linalg.norm(thumb.xpos - index.xpos)
    cos_normals = thumb.xmat.reshape(3, 3)[:, 0] @ index.xmat.reshape(3, 3)[:, 0]
    print(
        f"\n{side.value} pinch pose (thumb 5, index 4): {np.round(q[:9], 3)}, "
        f"pad distance {distance * 1e3:.2f} mm, cos(normals) {cos_normals:.4f}"
    )
    assert distance < 0.005
    assert cos_normals < -math.cos(math.radians(10.0))


# ---------------------------------------------------------------------------------------
# Physics
# ---------------------------------------------------------------------------------------
_HANDLE_TILT = math.radians(30.0)
"""The handle runs across the palm from the little finger's side up toward the index MCP."""
_HANDLE_AXIS = np.array([0.0, math.cos(_HANDLE_TILT), math.sin(_HANDLE_TILT)])
_HANDLE_RADIUS = 0.02
_HANDLE_CENTRE = np.array([0.036, -0.012, 0.06])
"""Right-hand palm frame, m: resting on the palm (palm surface at x = 0.014) with 2 mm clearance,
centred half a finger spacing toward the little finger from the middle finger's axis."""
_THUMB_PREGRASP = {"thumb_cmc_abd": 1.2, "thumb_cmc_flex": -0.5}
"""Thumb lifted out of the palm and swung radially, clear of the handle."""
_POWER_POSES = ("handle_vertical", "palm_down")
"""Hold orientations: weight along the handle (friction only), or pulling the handle out of
the palm (the wrap must cage it)."""


def _power_hold_rotation(pose: str, handle_axis_palm: np.ndarray) -> np.ndarray:
    """(3, 3) world orientation of the palm frame for a power-grasp hold."""
    up = np.array([0.0, 0.0, 1.0])
    if pose == "handle_vertical":
        return _rotation_taking(handle_axis_palm, up)
    return _rotation_taking(np.array([1.0, 0.0, 0.0]), -up)  # palmar normal points down


def _handle_prop(side: Side, mass: float) -> tuple[_Prop, np.ndarray]:
    """A 4 cm x 12 cm drill-handle cylinder in the palm, and its axis in the palm frame."""
    z = _HANDLE_AXIS
    x = np.array([1.0, 0.0, 0.0])
    rot = np.stack([x, np.cross(z, x), z], axis=1)
    pos = _HANDLE_CENTRE
    if side is Side.LEFT:
        rot, pos = _M @ rot @ _M, _M @ pos
    prop = _Prop(mujoco.mjtGeom.mjGEOM_CYLINDER, (_HANDLE_RADIUS, 0.06, 0.0), mass, pos, rot)
    return prop, rot[:, 2]


def _power_grasp_targets(scene: _Scene) -> dict[str, float]:
    """Servo targets PAST_CONTACT_RAD beyond the staggered kinematic contact angles.

    Fingers close first (MCP, PIP, DIP with the physics stagger); then the thumb, lifted
    out of the palm, swings across (CMC flexion, MCP, IP) until it touches the handle or
    the closed fingers.
    """
    for joint, angle in _THUMB_PREGRASP.items():
        scene.data.qpos[scene.qadr(joint)] = angle
    # The physics stagger as fractions of the ramp, so the sweep closes in the same order.
    delays = {k: t / CLOSE_RAMP_S for k, t in STAGGER_S.items()}
    contact: dict[str, float] = {}
    for f in FINGERS[1:]:
        chain = [
            _ChainJoint(f"{f}_mcp", 0.0, 1.5, delays["mcp"], (f"{f}_proximal",)),
            _ChainJoint(f"{f}_pip", 0.0, 1.6, delays["pip"], (f"{f}_middle",)),
            _ChainJoint(f"{f}_dip", 0.0, 1.2, delays["dip"], (f"{f}_distal", f"{f}_pad")),
        ]
        contact |= _close_kinematically(scene, chain, [scene.obj_geom])
    fingers = [scene.geom(f"{f}_{s}") for f in FINGERS[1:] for s in ("middle", "distal", "pad")]
    thumb = [
        _ChainJoint(
            "thumb_cmc_flex", _THUMB_PREGRASP["thumb_cmc_flex"], 1.0, 0.0, ("thumb_metacarpal",)
        ),
        _ChainJoint("thumb_mcp_flex", 0.0, 0.8, delays["pip"], ("thumb_proximal",)),
        _ChainJoint("thumb_ip", 0.0, 0.8, delays["dip"], ("thumb_distal", "thumb_pad")),
    ]
    contact |= _close_kinematically(scene, thumb, [scene.obj_geom, *fingers])
    targets = {
        j: min(a + PAST_CONTACT_RAD, scene.model.joint(PREFIX + j).range[1])
        for j, a in contact.items()
    }
    targets["thumb_cmc_abd"] = _THUMB_PREGRASP["thumb_cmc_abd"]
    return targets


def _stagger_delay(joint: str) -> float:
    """Ramp start of a joint, s: proximal joints first, then middle, then distal."""
    if joint.endswith(("_dip", "_ip")):
        return STAGGER_S["dip"]
    if joint.endswith(("_pip", "_mcp_flex")):
        return STAGGER_S["pip"]
    return STAGGER_S["mcp"]


@pytest.mark.parametrize("pose", _POWER_POSES)
@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
def test_power_grasp_holds_handle(side: Side, pose: str) -> None:
    """A 0.8 kg, 4 cm handle wrapped by staggered, ramped servo targets (0.25 rad past
    kinematic contact) moves < 1 cm in the palm frame during 2 s without support, and
    the thumb closes over the grasp (touches the handle or the fingers)."""
    prop, axis = _handle_prop(side, mass=0.8)
    scene = _scene(side, _power_hold_rotation(pose, axis), prop)
    target = _power_grasp_targets(scene)
    start = {j: _THUMB_PREGRASP.get(j, 0.0) for j in target}
    slip = _run_close_and_hold(scene, start, target, {j: _stagger_delay(j) for j in target})
    thumb_geoms = {scene.geom(g) for g in ("thumb_proximal", "thumb_distal", "thumb_pad")}
    thumb_touches = any({c.geom1, c.geom2} & thumb_geoms for c in scene.data.contact)
    print(f"\npower grasp {side.value} {pose}: slip {slip * 1e3:.2f} mm over {HOLD_S} s")
    assert slip < MAX_SLIP_M
    assert thumb_touches


_PINCH_BOX = 0.028
"""Box edge, m."""
_PINCH_OPEN_GAP = 0.012
"""Extra pad separation of the pre-grasp pose, m (6 mm clearance per pad)."""
_PINCH_CLOSING = ("thumb_mcp_flex", "thumb_ip", "index_mcp", "index_pip")
"""Joints that squeeze: targets PAST_CONTACT_RAD beyond the pads-on-box pose."""
_PINCH_POSES = {
    "palm_down": np.stack([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], axis=1),
    "fingers_up": np.eye(3),
}
"""World orientation of the palm (columns: palm axes in world) during a pinch hold."""


@pytest.mark.parametrize("pose", sorted(_PINCH_POSES))
@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
def test_precision_pinch_holds_box(side: Side, pose: str) -> None:
    """A 45 g, 28 mm box between the thumb and index pads (other fingers open), squeezed
    0.25 rad past contact, moves < 1 cm in the palm frame during 2 s without support."""
    kin_model, kin_desc = _standalone(side)
    names = kin_desc.joint_names
    q_contact = solve_pinch_pose(kin_model, kin_desc, gap=_PINCH_BOX)
    q_open = solve_pinch_pose(kin_model, kin_desc, gap=_PINCH_BOX + _PINCH_OPEN_GAP)
    data = mujoco.MjData(kin_model)
    data.qpos[:] = q_contact
    mujoco.mj_kinematics(kin_model, data)
    index_pad = data.site(kin_desc.fingertip_sites[FINGERS.index("index")])
    pad_rot = index_pad.xmat.reshape(3, 3)
    centre = index_pad.xpos + 0.5 * _PINCH_BOX * pad_rot[:, 0]
    prop = _Prop(mujoco.mjtGeom.mjGEOM_BOX, (0.5 * _PINCH_BOX,) * 3, 0.045, centre, pad_rot.copy())

    scene = _scene(side, _PINCH_POSES[pose], prop)
    upper = _joint_limits(kin_model, kin_desc)[:, 1]
    target = {
        n: float(min(q + PAST_CONTACT_RAD * (n in _PINCH_CLOSING), hi))
        for n, q, hi in zip(names, q_contact, upper)
    }
    start = dict(zip(names, q_open.tolist()))
    slip = _run_close_and_hold(scene, start, target, {})
    print(f"\npinch {side.value} {pose}: slip {slip * 1e3:.2f} mm over {HOLD_S} s")
    assert slip < MAX_SLIP_M


@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
def test_servo_hold_is_stable(side: Side) -> None:
    """With servos at fixed targets (zero pose, a fist that presses the thumb on the
    fingers, a random pose) for 2 s each: no NaN, finite qacc, no solver warnings, and
    explicit pairs keep finger-finger penetration below 3 mm."""
    rng = np.random.default_rng(1)
    asset = build_procedural_hand(side)
    cc.apply_physics_options(asset.spec)
    model, desc = asset.spec.compile(), asset.description
    limits = _joint_limits(model, desc)
    fist = limits[:, 1].copy()
    for i, name in enumerate(desc.joint_names):
        if name.endswith("_abd"):
            fist[i] = 0.0
    poses = {"zero": np.zeros(21), "fist": fist, "random": rng.uniform(limits[:, 0], limits[:, 1])}
    data = mujoco.MjData(model)
    acts = [model.actuator(a).id for a in desc.actuator_names]
    for pose_name, q in poses.items():
        mujoco.mj_resetData(model, data)
        data.ctrl[acts] = q
        worst_penetration = 0.0
        while data.time < 2.0:
            mujoco.mj_step(model, data)
            if data.ncon:
                worst_penetration = min(
                    worst_penetration, float(data.contact.dist[: data.ncon].min())
                )
        assert np.all(np.isfinite(data.qpos)) and np.all(np.isfinite(data.qacc)), pose_name
        assert np.abs(data.qacc).max() < 1e6, pose_name
        assert all(w.number == 0 for w in data.warning), pose_name
        assert worst_penetration > -0.003, (pose_name, worst_penetration)
