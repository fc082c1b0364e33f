"""The procedural 21-DoF anthropomorphic hand, built in code with :class:`mujoco.MjSpec`.

Geometry (all frames right-handed, lengths in metres):

* Root body ``hand`` carries the palm frame (site ``palm``, identity orientation): origin
  at the wrist keypoint, +z toward the middle-finger MCP, +x the palmar normal, +y toward
  the thumb on a right hand and away from it on a left hand. It has no joint; the scene
  attaches it to an arm flange.
* Every phalanx body has the same local frame as a finger at the zero pose: +z along the
  bone (joint centre to the next joint), +x palmar (the side it flexes toward), origin at
  its proximal joint centre. Finger bases are not rotated; the thumb metacarpal is rotated
  by spread, palmar tilt and pronation (``procedural_hand_constants.THUMB_*``).
* Fingertip sites ``fingertip_<finger>`` sit at the centre of each pad's contact face with
  +x the outward pad normal and +z along the finger.

Joint signs (identical meaning on both hands; a left hand given the same joint vector as a
right hand is its exact mirror image in palm-frame y): flexion > 0 curls toward +x;
finger ``*_abd`` > 0 spreads a finger away from the middle finger (the middle finger
itself toward the thumb); ``thumb_cmc_abd`` > 0 lifts the thumb palmar, ``thumb_cmc_flex``
> 0 swings it across the palm toward the little finger.

Mirroring (right -> left) with M = diag(1, -1, 1): body-local positions p -> M p, hinge
axes a -> -M a (axial vectors flip under a reflection), rotations R -> M R M.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence

import mujoco
import numpy as np

from handitl.assets import contact_constants as cc
from handitl.assets import procedural_hand_constants as C
from handitl.assets.hand_description import (
    FINGERS,
    KEYPOINT_NAMES,
    HandAsset,
    HandDescription,
    Side,
)

MODEL_NAME = "procedural21"
ROOT_BODY = "hand"
PALM_SITE = "palm"

_FLEX_AXIS = (0.0, 1.0, 0.0)
"""Local hinge axis that curls a bone's +z toward its +x (palmar)."""
_TOWARD_THUMB_AXIS = (-1.0, 0.0, 0.0)
"""Local hinge axis that moves a right-hand bone's +z toward +y (the thumb side)."""
_AWAY_FROM_THUMB_AXIS = (1.0, 0.0, 0.0)

_SEGMENT_NAMES: dict[str, tuple[str, str, str]] = {
    "thumb": ("metacarpal", "proximal", "distal"),
    **{f: ("proximal", "middle", "distal") for f in FINGERS[1:]},
}
"""Body/geom suffixes of each digit's three segments, proximal first."""


@dataclasses.dataclass(frozen=True)
class ProceduralHandConfig:
    """Build options of the procedural hand; defaults come from ``procedural_hand_constants``."""

    scale: float = 1.0
    """Uniform length factor on the default (1.1x adult male) hand; masses scale as scale**3."""
    pad_protrusion: float = C.PAD_PROTRUSION
    """Distance of each fingertip pad's contact face past the distal capsule surface, m."""
    armature: float = C.JOINT_ARMATURE
    """Armature of every hand joint, kg m^2."""
    damping: float = C.JOINT_DAMPING
    """Viscous damping of every hand joint, Nm s/rad."""
    kp_factor: float = 1.0
    """Multiplies every servo's stiffness (``SERVO_KP``); force limits stay as measured."""
    finger_contacts: bool = True
    """Add the explicit finger-finger contact pairs (``collision_pairs``) to the spec."""
    model_name: str = MODEL_NAME
    """``HandDescription.model_name`` of the result."""

    def __post_init__(self) -> None:
        if self.scale <= 0.0 or self.kp_factor <= 0.0:
            raise ValueError(f"scale and kp_factor must be positive, got {self}")


@dataclasses.dataclass(frozen=True)
class _Joint:
    name: str
    kind: str
    """Key into ``SERVO_KP`` / ``SERVO_FORCE_LIMIT``."""
    axis: tuple[float, float, float]
    """Right-hand body-local hinge axis."""


@dataclasses.dataclass(frozen=True)
class _Digit:
    """One finger or the thumb, in right-hand palm-frame coordinates (scaled)."""

    name: str
    base_pos: np.ndarray
    """(3,) proximal joint centre in the palm frame, m."""
    base_rot: np.ndarray
    """(3, 3) orientation of the first segment's frame in the palm frame."""
    lengths: tuple[float, float, float]
    radii: tuple[float, float, float]
    masses: tuple[float, float, float]
    joints: tuple[tuple[_Joint, ...], tuple[_Joint, ...], tuple[_Joint, ...]]
    """Joints of each segment's body, in kinematic order."""
    keypoints: tuple[str, str, str, str]
    """Keypoint names of the three segment origins and the tip."""
    rgba: tuple[float, float, float, float]


# ---------------------------------------------------------------------------------------
# Mirroring
# ---------------------------------------------------------------------------------------
_M = np.diag([1.0, -1.0, 1.0])


def _mirror_pos(p: Sequence[float], side: Side) -> np.ndarray:
    """Body-local position for ``side`` from its right-hand value."""
    p = np.asarray(p, dtype=float)
    return p if side is Side.RIGHT else _M @ p


def _mirror_axis(a: Sequence[float], side: Side) -> np.ndarray:
    """Hinge axis for ``side``: -M a keeps a joint angle's meaning under reflection."""
    a = np.asarray(a, dtype=float)
    return a if side is Side.RIGHT else -_M @ a


def _mirror_quat(rot: np.ndarray, side: Side) -> np.ndarray:
    """(4,) wxyz quaternion of rotation ``rot`` (right hand) reflected for ``side``."""
    r = rot if side is Side.RIGHT else _M @ rot @ _M
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(r).ravel())
    return quat


def _rot(axis: str, angle: float) -> np.ndarray:
    """(3, 3) rotation about a coordinate axis by ``angle`` rad."""
    c, s = math.cos(angle), math.sin(angle)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# ---------------------------------------------------------------------------------------
# Digit layout
# ---------------------------------------------------------------------------------------
def _thumb_base_rot() -> np.ndarray:
    """Right-hand thumb metacarpal frame in the palm frame.

    Start from a finger frame, swing the bone toward the thumb side (+y) by the spread,
    tilt it palmar (+x), and pronate it about its own axis so that its palmar side (+x,
    where its pad is) turns toward the fingers (-y): that is what lets it oppose.
    """
    return (
        _rot("y", C.THUMB_PALMAR_TILT) @ _rot("x", -C.THUMB_SPREAD) @ _rot("z", -C.THUMB_PRONATION)
    )


def _thumb_cmc_abd_axis() -> tuple[float, float, float]:
    """Right-hand CMC abduction axis in the metacarpal frame.

    Pure abduction would be about the pad normal (-x); tilting the axis toward the bone
    (-z) couples palmar abduction with pronation, as the human saddle joint does, so the
    pad turns to face the fingers as the thumb comes in front of the palm.
    """
    psi = C.THUMB_CMC_ABD_PRONATION_COUPLING
    return (-math.cos(psi), 0.0, -math.sin(psi))


def _finger_abd_axis(finger: str) -> tuple[float, float, float]:
    """Right-hand abduction axis: index and middle spread toward the thumb, ring and little away."""
    return _TOWARD_THUMB_AXIS if finger in ("index", "middle") else _AWAY_FROM_THUMB_AXIS


def _digits(scale: float) -> tuple[_Digit, ...]:
    """The five digits of a right hand at ``scale``, thumb first."""
    hl = C.HAND_LENGTH * scale

    def seg(values: tuple[float, float, float], k: float) -> tuple[float, float, float]:
        return (values[0] * k, values[1] * k, values[2] * k)

    thumb_joints = (
        (
            _Joint("thumb_cmc_abd", "thumb_cmc", _thumb_cmc_abd_axis()),
            _Joint("thumb_cmc_flex", "thumb_cmc", _FLEX_AXIS),
        ),
        (
            _Joint("thumb_mcp_abd", "thumb_mcp", _TOWARD_THUMB_AXIS),
            _Joint("thumb_mcp_flex", "thumb_mcp", _FLEX_AXIS),
        ),
        (_Joint("thumb_ip", "thumb_ip", _FLEX_AXIS),),
    )
    digits = [
        _Digit(
            name="thumb",
            base_pos=np.asarray(C.THUMB_CMC_POS) * scale,
            base_rot=_thumb_base_rot(),
            lengths=seg(C.SEGMENT_RATIOS["thumb"], hl),
            radii=seg(C.SEGMENT_RADII["thumb"], scale),
            masses=seg(C.SEGMENT_MASSES["thumb"], scale**3),
            joints=thumb_joints,
            keypoints=("thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip"),
            rgba=C.RGBA_THUMB,
        )
    ]
    for f in FINGERS[1:]:
        z_mcp = C.MIDDLE_MCP_Z + C.MCP_Z_OFFSET[f]
        joints = (
            (_Joint(f"{f}_abd", "abd", _finger_abd_axis(f)), _Joint(f"{f}_mcp", "mcp", _FLEX_AXIS)),
            (_Joint(f"{f}_pip", "pip", _FLEX_AXIS),),
            (_Joint(f"{f}_dip", "dip", _FLEX_AXIS),),
        )
        digits.append(
            _Digit(
                name=f,
                base_pos=np.array([C.MCP_X, C.MCP_Y[f], z_mcp]) * scale,
                base_rot=np.eye(3),
                lengths=seg(C.SEGMENT_RATIOS[f], hl),
                radii=seg(C.SEGMENT_RADII[f], scale),
                masses=seg(C.SEGMENT_MASSES[f], scale**3),
                joints=joints,
                keypoints=(f"{f}_mcp", f"{f}_pip", f"{f}_dip", f"{f}_tip"),
                rgba=C.RGBA_PHALANX,
            )
        )
    return tuple(digits)


def joint_names() -> tuple[str, ...]:
    """The 21 actuated joints in target order: thumb CMC/MCP/IP, then each finger abd/MCP/PIP/DIP."""
    return tuple(j.name for d in _digits(1.0) for seg in d.joints for j in seg)


# ---------------------------------------------------------------------------------------
# Spec building
# ---------------------------------------------------------------------------------------
def _add_keypoint(body: mujoco.MjsBody, name: str, pos: Sequence[float]) -> str:
    """A small visual site ``kp_<name>`` at body-local ``pos``; returns the site name."""
    site_name = f"kp_{name}"
    body.add_site(
        name=site_name, pos=list(pos), size=[0.003, 0, 0], rgba=list(C.RGBA_SITE), group=4
    )
    return site_name


def _add_palm(hand: mujoco.MjsBody, side: Side, scale: float) -> list[str]:
    """Palm as one box per metacarpal, each from the wrist to its MCP; returns geom names.

    Separate boxes follow the knuckle arc, so the palm's distal edge sits under every MCP
    instead of covering the little finger's proximal phalanx.
    """
    names = []
    half_x = C.PALM_HALF_THICKNESS * scale
    half_w = 0.5 * C.FINGER_SPACING * scale
    mass = C.PALM_MASS * scale**3 / 4.0
    for f in FINGERS[1:]:
        y = C.MCP_Y[f] * scale
        z_top = (C.MIDDLE_MCP_Z + C.MCP_Z_OFFSET[f]) * scale
        y_lo, y_hi = y - half_w, y + half_w
        # The outer boxes reach past the outer capsules so the palm's edges are covered.
        edge = (C.SEGMENT_RADII[f][0] + C.PALM_EDGE_MARGIN) * scale
        if f == "index":
            y_hi = y + edge
        if f == "little":
            y_lo = y - edge
        name = f"palm_{f}"
        geom = hand.add_geom(
            name=name,
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=list(_mirror_pos([0.0, 0.5 * (y_lo + y_hi), 0.5 * z_top], side)),
            size=[half_x, 0.5 * (y_hi - y_lo), 0.5 * z_top],
            rgba=list(C.RGBA_PALM),
            mass=mass,
        )
        cc.set_robot_contact(geom)
        names.append(name)
    return names


def _add_pad(body: mujoco.MjsBody, digit: _Digit, cfg: ProceduralHandConfig) -> tuple[str, str]:
    """Flat box pad on the palmar side of the distal phalanx and its fingertip site.

    physics_notes.md: round capsule tips squeeze small parts out; a flat pad protruding
    ~1.5 mm past the capsule makes pinches hold. The pad sits at the pulp, just proximal
    of the tip's round cap. Returns (pad geom name, fingertip site name).
    """
    r, length = digit.radii[2], digit.lengths[2]
    half = np.array(
        [
            C.PAD_HALF_THICKNESS_RATIO * r,
            C.PAD_HALF_WIDTH_RATIO * r,
            C.PAD_HALF_LENGTH_RATIO * length,
        ]
    )
    face_x = r + cfg.pad_protrusion * cfg.scale
    # Centre the pad on the straight part of the capsule, but keep it inside the segment.
    z_c = max(half[2], length - r - 0.5 * half[2])
    geom_name = f"{digit.name}_pad"
    geom = body.add_geom(
        name=geom_name,
        type=mujoco.mjtGeom.mjGEOM_BOX,
        pos=[face_x - half[0], 0.0, z_c],
        size=list(half),
        rgba=list(C.RGBA_PAD),
        mass=C.PAD_MASS * cfg.scale**3,
    )
    cc.set_robot_contact(geom, pad=True)
    site_name = f"fingertip_{digit.name}"
    body.add_site(
        name=site_name, pos=[face_x, 0.0, z_c], size=[0.003, 0, 0], rgba=list(C.RGBA_PAD), group=4
    )
    return geom_name, site_name


def _add_joint(
    spec: mujoco.MjSpec, body: mujoco.MjsBody, joint: _Joint, side: Side, cfg: ProceduralHandConfig
) -> None:
    """Hinge at the body origin plus its position servo ``act_<joint>``."""
    lo, hi = C.JOINT_RANGES[joint.name]
    body.add_joint(
        name=joint.name,
        type=mujoco.mjtJoint.mjJNT_HINGE,
        axis=list(_mirror_axis(joint.axis, side)),
        range=[lo, hi],
        limited=mujoco.mjtLimited.mjLIMITED_TRUE,
        armature=cfg.armature,
        damping=cfg.damping,
    )
    limit = C.SERVO_FORCE_LIMIT[joint.kind]
    act = spec.add_actuator(
        name=f"act_{joint.name}",
        target=joint.name,
        trntype=mujoco.mjtTrn.mjTRN_JOINT,
        ctrlrange=[lo, hi],
        ctrllimited=mujoco.mjtLimited.mjLIMITED_TRUE,
        forcerange=[-limit, limit],
        forcelimited=mujoco.mjtLimited.mjLIMITED_TRUE,
    )
    act.set_to_position(kp=C.SERVO_KP[joint.kind] * cfg.kp_factor)


def _add_digit(
    spec: mujoco.MjSpec, hand: mujoco.MjsBody, digit: _Digit, side: Side, cfg: ProceduralHandConfig
) -> dict[str, str]:
    """Three capsule segments with joints, keypoints and the pad.

    Returns a map from keypoint name (and ``"fingertip"``) to site name.
    """
    sites: dict[str, str] = {}
    parent = hand
    for i, seg_name in enumerate(_SEGMENT_NAMES[digit.name]):
        if i == 0:
            pos, quat = _mirror_pos(digit.base_pos, side), _mirror_quat(digit.base_rot, side)
        else:
            pos, quat = np.array([0.0, 0.0, digit.lengths[i - 1]]), np.array([1.0, 0, 0, 0])
        name = f"{digit.name}_{seg_name}"
        body = parent.add_body(name=name, pos=list(pos), quat=list(quat))
        for joint in digit.joints[i]:
            _add_joint(spec, body, joint, side, cfg)
        length, radius = digit.lengths[i], digit.radii[i]
        # The distal capsule's round cap ends exactly at the fingertip keypoint.
        top = length - radius if i == 2 else length
        geom = body.add_geom(
            name=name,
            type=mujoco.mjtGeom.mjGEOM_CAPSULE,
            fromto=[0.0, 0.0, 0.0, 0.0, 0.0, top],
            size=[radius, 0.0, 0.0],
            rgba=list(digit.rgba),
            mass=digit.masses[i],
        )
        cc.set_robot_contact(geom)
        sites[digit.keypoints[i]] = _add_keypoint(body, digit.keypoints[i], [0.0, 0.0, 0.0])
        if i == 2:
            sites[digit.keypoints[3]] = _add_keypoint(body, digit.keypoints[3], [0.0, 0.0, length])
            _, sites["fingertip"] = _add_pad(body, digit, cfg)
        parent = body
    return sites


def collision_pairs() -> tuple[tuple[str, str], ...]:
    """Geom pairs that must not interpenetrate (unprefixed names).

    The thumb's phalanges and pad against every finger's middle and distal phalanx and
    pad (opposition brings them together), and neighbouring fingers' middle and distal
    phalanges (adduction brings them together). Other robot-robot contacts are filtered
    by the broadphase bits of ``contact_constants``.
    """
    thumb = ("thumb_proximal", "thumb_distal", "thumb_pad")
    pairs = [
        (t, f"{f}_{s}") for t in thumb for f in FINGERS[1:] for s in ("middle", "distal", "pad")
    ]
    for a, b in itertools.pairwise(FINGERS[1:]):
        pairs += [
            (f"{a}_{sa}", f"{b}_{sb}") for sa in ("middle", "distal") for sb in ("middle", "distal")
        ]
    return tuple(pairs)


def _add_contact_pairs(spec: mujoco.MjSpec, pairs: Sequence[tuple[str, str]]) -> None:
    """Explicit contacts with the shared parameters; pads keep their rolling friction."""
    slide, torsion, roll = cc.FRICTION
    for g1, g2 in pairs:
        both_pads = g1.endswith("_pad") and g2.endswith("_pad")
        spec.add_pair(
            name=f"{g1}__{g2}",
            geomname1=g1,
            geomname2=g2,
            condim=cc.CONDIM_PAD if both_pads else cc.CONDIM,
            friction=[slide, slide, torsion, roll, roll],
            solref=list(cc.SOLREF),
            solimp=list(cc.SOLIMP),
            margin=0.0,
            gap=0.0,
        )


def build_procedural_hand(side: Side, config: ProceduralHandConfig | None = None) -> HandAsset:
    """Build the procedural 21-DoF hand for ``side``.

    The returned spec's world body has one child, the jointless root body ``hand`` (the
    palm frame, see module docstring); compiling it alone welds the hand to the world.
    Names are unprefixed and identical for both sides; attach with ``prefix="left/"``
    or ``"right/"`` and use ``description.with_prefix``.
    """
    cfg = config or ProceduralHandConfig()
    spec = mujoco.MjSpec()
    spec.modelname = f"{cfg.model_name}_{side.value}"
    # Radians everywhere; elements keep their spec's compiler settings when attached.
    spec.compiler.degree = False
    hand = spec.worldbody.add_body(name=ROOT_BODY)
    hand.add_site(name=PALM_SITE, size=[0.005, 0, 0], rgba=list(C.RGBA_SITE), group=4)
    _add_palm(hand, side, cfg.scale)

    kp_sites: dict[str, str] = {"wrist": _add_keypoint(hand, "wrist", [0.0, 0.0, 0.0])}
    fingertip_sites: list[str] = []
    for digit in _digits(cfg.scale):
        sites = _add_digit(spec, hand, digit, side, cfg)
        fingertip_sites.append(sites.pop("fingertip"))
        kp_sites.update(sites)

    pairs = collision_pairs()
    if cfg.finger_contacts:
        _add_contact_pairs(spec, pairs)

    names = joint_names()
    description = HandDescription(
        model_name=cfg.model_name,
        side=side,
        root_body=ROOT_BODY,
        joint_names=names,
        actuator_names=tuple(f"act_{n}" for n in names),
        keypoint_sites=tuple(kp_sites[k] for k in KEYPOINT_NAMES),
        fingertip_sites=tuple(fingertip_sites),
        palm_site=PALM_SITE,
        collision_pairs=pairs,
    )
    return HandAsset(spec=spec, description=description)


# ---------------------------------------------------------------------------------------
# Poses
# ---------------------------------------------------------------------------------------
_PINCH_NOMINAL_THUMB = (1.2, 0.3, 0.0, 0.0, -0.2)
"""Thumb CMC abd/flex, MCP abd/flex, IP (rad): an opposed, nearly straight thumb."""
_PINCH_NOMINAL_FINGER = (0.0, 1.0, 0.3, 0.0)
"""Finger abd, MCP, PIP, DIP (rad): flexed mostly at the MCP, a pad (not tip) pinch."""


def solve_pinch_pose(
    model: mujoco.MjModel, description: HandDescription, *, gap: float = 0.0, finger: str = "index"
) -> np.ndarray:
    """Joint vector that puts the thumb pad face to face with ``finger``'s pad.

    Least squares over the thumb's 5 and the finger's 4 joints (within their ranges):
    the thumb's fingertip site lies ``gap`` m from the finger's along the finger pad's
    outward normal, and the two pad normals are opposite. A weak pull toward a nominal
    pad pinch picks one solution; the fixed start makes the result deterministic.

    ``model`` is any model containing the hand named by ``description`` (prefixes
    included). Returns (num_joints,) angles in ``description.joint_names`` order, rad;
    joints outside the thumb and ``finger`` are 0.
    """
    from scipy.optimize import least_squares  # lazy: scipy is needed only by this helper

    names = description.joint_names
    # joint_names() is this hand's unprefixed order; the description may carry a prefix.
    active = [i for i, n in enumerate(joint_names()) if n.startswith(("thumb_", f"{finger}_"))]
    nominal = np.array([*_PINCH_NOMINAL_THUMB, *_PINCH_NOMINAL_FINGER])
    qadr = np.array([model.joint(names[i]).qposadr[0] for i in active])
    lo, hi = (np.array([model.joint(names[i]).range[k] for i in active]) for k in (0, 1))
    thumb_site = model.site(description.fingertip_sites[FINGERS.index("thumb")]).id
    finger_site = model.site(description.fingertip_sites[FINGERS.index(finger)]).id
    data = mujoco.MjData(model)

    def residual(x: np.ndarray) -> np.ndarray:
        data.qpos[:] = model.qpos0
        data.qpos[qadr] = x
        mujoco.mj_kinematics(model, data)
        normal_t = data.site_xmat[thumb_site].reshape(3, 3)[:, 0]
        normal_f = data.site_xmat[finger_site].reshape(3, 3)[:, 0]
        offset = data.site_xpos[thumb_site] - data.site_xpos[finger_site] - gap * normal_f
        # 0.03 m/rad: a 1-degree tilt between pads weighs like 0.5 mm of position error.
        return np.concatenate([offset, 0.03 * (normal_t + normal_f), 0.01 * (x - nominal)])

    sol = least_squares(residual, np.clip(nominal, lo, hi), bounds=(lo, hi), xtol=1e-12)
    q = np.zeros(len(names))
    q[active] = sol.x
    return q
