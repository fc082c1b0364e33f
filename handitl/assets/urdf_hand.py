"""Robot hands from URDF files (LEAP, Allegro) as :class:`HandAsset` s.

A :class:`UrdfHandProfile` says what the URDF does not: where the 21 MediaPipe keypoints
sit on the links, where the fingertip pads are, how the palm frame is oriented, and the
servo gains. :func:`load_urdf_hand` loads the URDF with ``mujoco.MjSpec.from_file``
(MuJoCo's URDF import drops visual meshes, so the model shows collision geometry) and
adds, with the MjSpec API only:

* sites ``kp_<keypoint>`` (MediaPipe names, e.g. ``kp_index_tip``) on the named links,
* sites ``fingertip_<finger>`` on each pad's contact face (+x outward pad normal, +z
  along the finger, as on the procedural hand),
* site ``palm`` carrying the palm frame (origin at the wrist keypoint, +z toward the
  middle MCP, +x palmar, +y toward the thumb on a right hand),
* one position servo ``act_<joint>`` per joint, ctrlrange = joint range,
* the shared contact parameters on every collision geom (unnamed ones are named
  ``<link>_collision<k>``), and explicit contact pairs for ``collision_pairs`` (thumb
  vs each finger's distal link, neighbouring fingers' distal links).

URDF files are never bundled: pass their path, e.g. from :func:`find_hand_urdf_dir`. Only
right hands are described; ``Side.LEFT`` returns :func:`mirror_hand` of the right hand.

Keypoint placement rule: a finger's MCP/PIP/DIP keypoint is its flexion axis where it
crosses the finger's mid-plane (LEAP's servo horns put the joint frames 15 mm to the side
of the finger, so the profile offsets them along the axis); TIP is the distal extreme of
the fingertip's collision mesh; CMC is where the thumb's two base axes pass closest;
the wrist is the palm's proximal face, in line with the middle MCP.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Mapping
from pathlib import Path

import mujoco
import numpy as np

from handitl.assets import contact_constants as cc
from handitl.assets.hand_description import (
    FINGERS,
    KEYPOINT_NAMES,
    HandAsset,
    HandDescription,
    Side,
)
from handitl.assets.mirror import mat_to_quat, mirror_hand, pose_in_body

Vec3 = tuple[float, float, float]

URDF_DIR_ENV = "HANDITL_HAND_URDF_DIR"
"""Environment variable naming the folder that holds ``leap_hand/`` and ``allegro_hand/``."""

PALM_SITE = "palm"
KEYPOINT_SITE_SIZE = 0.003
"""Radius of keypoint and fingertip sites, m (visualisation only)."""
SITE_GROUP = 4
"""Sites are hidden by default; enable group 4 to see them."""
RGBA_KEYPOINT = (0.1, 0.6, 0.9, 1.0)
RGBA_FINGERTIP = (0.9, 0.2, 0.2, 1.0)


@dataclasses.dataclass(frozen=True)
class BodyPoint:
    """A point fixed to a link: the link (MuJoCo body) name and an offset in its frame, m."""

    body: str
    pos: Vec3 = (0.0, 0.0, 0.0)


@dataclasses.dataclass(frozen=True)
class PadSite:
    """A fingertip pad's contact-face centre and its directions, in the link's frame."""

    body: str
    pos: Vec3
    """Centre of the pad's contact face, m."""
    normal: Vec3
    """Outward pad normal (the side the finger flexes toward); the site's +x."""
    along: Vec3
    """Distal direction of the finger; the site's +z (orthogonalised against ``normal``)."""


@dataclasses.dataclass(frozen=True)
class PalmFrame:
    """An explicit palm frame: pose of the ``palm`` site in ``body``'s frame."""

    body: str
    pos: Vec3
    quat: tuple[float, float, float, float]
    """wxyz."""


@dataclasses.dataclass(frozen=True)
class UrdfHandProfile:
    """What :func:`load_urdf_hand` needs to know about one right-hand URDF."""

    model_name: str
    """``HandDescription.model_name``, e.g. ``"leap"``."""
    urdf_file: str
    """Path of the right-hand URDF relative to the URDF folder."""
    root_body: str
    """The URDF's root link: the body attached to the arm flange."""
    joint_names: tuple[str, ...]
    """Actuated revolute joints in command order (the hardware's motor order)."""
    keypoints: tuple[BodyPoint | None, ...]
    """21 entries in :data:`KEYPOINT_NAMES` order; ``None`` where the hand lacks one."""
    fingertips: tuple[PadSite | None, ...]
    """5 entries in :data:`FINGERS` order; ``None`` for a missing finger."""
    distal_bodies: tuple[tuple[str, ...], ...]
    """5 entries in :data:`FINGERS` order: links whose collision geoms form the distal
    phalanx (empty for a missing finger); used for ``collision_pairs``."""
    mcp_flexion: tuple[tuple[str, float] | None, ...]
    """5 entries in :data:`FINGERS` order: (MCP flexion joint, sign) such that
    ``sign * dq > 0`` curls the finger palmar; ``None`` for the thumb or a missing finger."""
    palmar_direction: Vec3
    """Palmar normal in the frame of the wrist keypoint's link (used when ``palm_frame``
    is ``None``: the palm site's +x is this, orthogonalised against wrist -> middle MCP)."""
    pad_meshes: tuple[str, ...]
    """Mesh names of the soft fingertip covers: their geoms get pad contact (condim 6)."""
    servo_kp: float
    """Position-servo stiffness, N m/rad."""
    servo_kv: float
    """Position-servo damping, N m s/rad."""
    force_limit: float
    """Servo torque limit, N m."""
    joint_damping: float
    """Passive joint damping, N m s/rad."""
    joint_armature: float
    """Reflected rotor inertia, kg m^2 (also keeps the 2 ms step stable on light links)."""
    joint_frictionloss: float = 0.0
    """Dry joint friction, N m."""
    balance_inertia: bool = False
    """The URDF's inertias violate the triangle inequality (compile with
    ``balanceinertia``); the balanced values are written back into the spec."""
    palm_frame: PalmFrame | None = None
    """Explicit palm frame; ``None`` computes it from the keypoints (see ``palmar_direction``)."""

    def __post_init__(self) -> None:
        if len(self.keypoints) != len(KEYPOINT_NAMES):
            raise ValueError(f"{self.model_name}: keypoints needs {len(KEYPOINT_NAMES)} entries")
        for field in ("fingertips", "distal_bodies", "mcp_flexion"):
            if len(getattr(self, field)) != len(FINGERS):
                raise ValueError(f"{self.model_name}: {field} needs {len(FINGERS)} entries")


def keypoint_table(points: Mapping[str, BodyPoint]) -> tuple[BodyPoint | None, ...]:
    """Keypoints in MediaPipe order from a name -> point map; missing names become None."""
    unknown = set(points) - set(KEYPOINT_NAMES)
    if unknown:
        raise ValueError(f"unknown keypoint names: {sorted(unknown)}")
    return tuple(points.get(k) for k in KEYPOINT_NAMES)


def per_finger(values: Mapping[str, object], missing: object = None) -> tuple:
    """A :data:`FINGERS`-ordered tuple from a finger -> value map."""
    unknown = set(values) - set(FINGERS)
    if unknown:
        raise ValueError(f"unknown finger names: {sorted(unknown)}")
    return tuple(values.get(f, missing) for f in FINGERS)


# ---------------------------------------------------------------------------------------
# Built-in profiles. Offsets were read off the collision meshes' extents (vertex min/max
# of meshes/collision/*.obj in each link frame) and checked in renders
# (scripts/show_hands.py).
# ---------------------------------------------------------------------------------------
def _leap_finger(mcp: str, pip: str, tip: str) -> tuple[BodyPoint, BodyPoint, BodyPoint, BodyPoint]:
    """LEAP finger keypoints: MCP flexion (joint on ``mcp`` link), PIP (joint on the link
    named ``dip``), DIP (joint on ``fingertip``), and the tip cover's distal extreme.

    The joint frames sit on the servo horn, 15 mm beside the finger's mid-plane along the
    flexion axis (local z of these links); the offsets move them onto the mid-plane.
    The white tip cover spans y in [-0.0501, -0.0195], z in [0.0023, 0.0267] of the
    fingertip link; its distal extreme is at y = -0.0501 (centroid x -0.003, z 0.0146).
    """
    return (
        BodyPoint(mcp, (0.0, 0.0, 0.0145)),
        BodyPoint(pip, (0.0, 0.0, 0.015)),
        BodyPoint(tip, (0.0, 0.0, 0.015)),
        BodyPoint(tip, (-0.003, -0.0501, 0.0146)),
    )


def _leap_profile() -> UrdfHandProfile:
    points: dict[str, BodyPoint] = {
        # Proximal face of the palm (base z = 0), in line with the middle finger's MCP
        # keypoint (base x 0.0187, y 0.0011), so the palm frame's z is the base z axis.
        "wrist": BodyPoint("base", (0.0187, 0.0011, 0.0)),
        # Joints 12 (axis along the palm) and 13 (axis along the thumb) intersect 13 mm
        # below the thumb_temp_base origin: the CMC centre.
        "thumb_cmc": BodyPoint("thumb_temp_base", (0.0, 0.0, -0.013)),
        "thumb_mcp": BodyPoint("thumb_dip", (0.0, 0.0, -0.015)),
        "thumb_ip": BodyPoint("thumb_fingertip", (0.0, 0.0, -0.015)),
        # white_tip_thumb spans y in [-0.0621, -0.0315], z in [-0.0267, -0.0023].
        "thumb_tip": BodyPoint("thumb_fingertip", (-0.003, -0.0621, -0.0146)),
    }
    for finger, suffix in (("index", ""), ("middle", "_2"), ("ring", "_3")):
        mcp, pip, dip, tip = _leap_finger(
            f"mcp_joint{suffix}", f"dip{suffix}", f"fingertip{suffix}"
        )
        points.update({f"{finger}_mcp": mcp, f"{finger}_pip": pip,
                       f"{finger}_dip": dip, f"{finger}_tip": tip})  # fmt: skip
    # Pads: the tip covers' palmar faces (local -x, x = -0.0113; face centroid y -0.0386
    # on fingers, -0.0506 on the thumb); the finger points along local -y.
    pads = {
        "thumb": PadSite(
            "thumb_fingertip", (-0.0113, -0.0506, -0.0146), (-1.0, 0, 0), (0, -1.0, 0)
        ),
        "index": PadSite("fingertip", (-0.0113, -0.0386, 0.0146), (-1.0, 0, 0), (0, -1.0, 0)),
        "middle": PadSite("fingertip_2", (-0.0113, -0.0386, 0.0146), (-1.0, 0, 0), (0, -1.0, 0)),
        "ring": PadSite("fingertip_3", (-0.0113, -0.0386, 0.0146), (-1.0, 0, 0), (0, -1.0, 0)),
    }
    distal = {"thumb": ("thumb_fingertip",), "index": ("fingertip",),
              "middle": ("fingertip_2",), "ring": ("fingertip_3",)}  # fmt: skip
    return UrdfHandProfile(
        model_name="leap",
        urdf_file="leap_hand/leap_hand_right.urdf",
        root_body="base",
        # LEAP motor order: index (0 abduction, 1 MCP flexion, 2 PIP, 3 DIP), middle 4-7,
        # ring 8-11, thumb 12-15.
        joint_names=tuple(str(i) for i in range(16)),
        keypoints=keypoint_table(points),
        fingertips=per_finger(pads),
        distal_bodies=per_finger(distal, ()),
        mcp_flexion=per_finger({"index": ("1", 1.0), "middle": ("5", 1.0), "ring": ("9", 1.0)}),
        palmar_direction=(1.0, 0.0, 0.0),
        pad_meshes=("white_tip", "white_tip_thumb"),
        # Gains and damping as in MuJoCo Menagerie's leap_hand (kp 3, kv 0.01, damping
        # 0.03, frictionloss 0.001); the URDF's effort limit (Dynamixel XC330, 0.95 N m).
        servo_kp=3.0,
        servo_kv=0.01,
        force_limit=0.95,
        joint_damping=0.03,
        joint_armature=0.001,
        joint_frictionloss=0.001,
    )


def _allegro_profile() -> UrdfHandProfile:
    points: dict[str, BodyPoint] = {
        # The URDF's "wrist" link: the palm's proximal face (base z = -0.095), in line
        # with the middle MCP (base x = y = 0).
        "wrist": BodyPoint("wrist"),
        # Closest approach of the joint_12 axis (local -x through the origin, along the
        # palm) and the joint_13 axis (local z through link_13.0's origin at
        # (-0.027, 0.005, 0.0399), along the thumb): 5 mm apart; taken on joint_12's axis.
        "thumb_cmc": BodyPoint("link_12.0", (-0.027, 0.0, 0.0)),
        "thumb_mcp": BodyPoint("link_14.0"),
        "thumb_ip": BodyPoint("link_15.0"),
        # link_tip.obj sits 12 mm proximal of the *_tip links; its distal extreme is the
        # tip link's origin.
        "thumb_tip": BodyPoint("link_15.0_tip"),
    }
    for finger, first in (("index", 0), ("middle", 4), ("ring", 8)):
        # Joint first+0 is abduction at the base; first+1..3 flex MCP, PIP, DIP.
        points.update({
            f"{finger}_mcp": BodyPoint(f"link_{first + 1}.0"),
            f"{finger}_pip": BodyPoint(f"link_{first + 2}.0"),
            f"{finger}_dip": BodyPoint(f"link_{first + 3}.0"),
            f"{finger}_tip": BodyPoint(f"link_{first + 3}.0_tip"),
        })  # fmt: skip
    # Pads: the 12 mm-radius tip cap's palmar side (local +x), level with its centre.
    pads = {
        f: PadSite(f"link_{j}.0_tip", (0.012, 0.0, -0.012), (1.0, 0, 0), (0, 0, 1.0))
        for f, j in (("thumb", 15), ("index", 3), ("middle", 7), ("ring", 11))
    }
    distal = {f: (f"link_{j}.0", f"link_{j}.0_tip")
              for f, j in (("thumb", 15), ("index", 3), ("middle", 7), ("ring", 11))}  # fmt: skip
    flexion = {
        "index": ("joint_1.0", 1.0),
        "middle": ("joint_5.0", 1.0),
        "ring": ("joint_9.0", 1.0),
    }
    return UrdfHandProfile(
        model_name="allegro",
        urdf_file="allegro_hand/allegro_hand_right.urdf",
        root_body="base_link",
        # Allegro motor order: index 0-3, middle 4-7, ring 8-11, thumb 12-15.
        joint_names=tuple(f"joint_{i}.0" for i in range(16)),
        keypoints=keypoint_table(points),
        fingertips=per_finger(pads),
        distal_bodies=per_finger(distal, ()),
        mcp_flexion=per_finger(flexion),
        palmar_direction=(1.0, 0.0, 0.0),
        pad_meshes=("link_tip",),
        # Stiffness/damping of the common Allegro sim setups (kp 3, kd 0.1); the URDF's
        # 10 N m effort is a placeholder, 0.7 N m is the commonly quoted joint torque.
        servo_kp=3.0,
        servo_kv=0.1,
        force_limit=0.7,
        joint_damping=0.03,
        joint_armature=0.001,
        joint_frictionloss=0.001,
        balance_inertia=True,
    )


LEAP_HAND: UrdfHandProfile = _leap_profile()
ALLEGRO_HAND: UrdfHandProfile = _allegro_profile()


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------
def find_hand_urdf_dir() -> Path | None:
    """The folder named by ``$HANDITL_HAND_URDF_DIR`` (holding ``leap_hand/`` etc.), or None."""
    value = os.environ.get(URDF_DIR_ENV)
    return Path(value) if value else None


def _load_spec(path: Path, profile: UrdfHandProfile) -> mujoco.MjSpec:
    """Parse the URDF; keep every link as a body and make mesh paths absolute.

    ``fusestatic`` (on by default for URDF) is turned off so that the root link and the
    keypoint links survive (otherwise the jointless root is merged into the world);
    absolute mesh paths keep the meshes loadable after the hand is attached to a scene.
    """
    spec = mujoco.MjSpec.from_file(str(path))
    spec.modelname = f"{profile.model_name}_right"
    spec.compiler.fusestatic = False
    # The URDF import already dropped the visual meshes; left on, this flag would also
    # silently drop any visual geom added to the hand later (contype = conaffinity = 0).
    spec.compiler.discardvisual = False
    spec.compiler.balanceinertia = profile.balance_inertia
    mesh_dir = path.parent / spec.meshdir if spec.meshdir else path.parent
    for mesh in spec.meshes:
        if not Path(mesh.file).is_absolute():
            mesh.file = str((mesh_dir / mesh.file).resolve())
    spec.strippath = False
    return spec


def _bake_inertias(spec: mujoco.MjSpec) -> None:
    """Write the compiled (balanced) inertias back, so the spec compiles anywhere.

    ``balanceinertia`` is a compiler option of the spec that owns the model; a hand
    attached to the scene spec would be compiled without it.
    """
    model = spec.compile()
    for body in spec.bodies:
        if body.name == "world" or not body.explicitinertial:
            continue
        i = model.body(body.name).id
        body.mass = float(model.body_mass[i])
        body.ipos = list(model.body_ipos[i])
        body.iquat = list(model.body_iquat[i])
        body.ialt.type = mujoco.mjtOrientation.mjORIENTATION_QUAT
        body.inertia = list(model.body_inertia[i])
        body.fullinertia = [np.nan] * 6
    spec.compiler.balanceinertia = False


def _configure_joints(spec: mujoco.MjSpec, profile: UrdfHandProfile) -> None:
    """Passive joint properties and one position servo ``act_<joint>`` per joint."""
    for name in profile.joint_names:
        joint = spec.joint(name)
        if joint is None or joint.type != mujoco.mjtJoint.mjJNT_HINGE:
            raise ValueError(f"{profile.model_name}: no hinge joint {name!r} in the URDF")
        joint.damping = [profile.joint_damping, 0.0, 0.0]  # 3.17: polynomial coefficients
        joint.armature = profile.joint_armature
        joint.frictionloss = profile.joint_frictionloss
        joint.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        act = spec.add_actuator(
            name=f"act_{name}",
            target=name,
            trntype=mujoco.mjtTrn.mjTRN_JOINT,
            ctrlrange=list(joint.range),
            ctrllimited=mujoco.mjtLimited.mjLIMITED_TRUE,
            forcerange=[-profile.force_limit, profile.force_limit],
            forcelimited=mujoco.mjtLimited.mjLIMITED_TRUE,
        )
        act.set_to_position(kp=profile.servo_kp, kv=profile.servo_kv)


def _configure_geoms(spec: mujoco.MjSpec, profile: UrdfHandProfile) -> None:
    """Name unnamed collision geoms ``<link>_collision<k>`` and set shared contact params."""
    for body in spec.bodies:
        for k, geom in enumerate(body.geoms):
            if not geom.name:
                geom.name = f"{body.name}_collision{k}"
            pad = geom.type == mujoco.mjtGeom.mjGEOM_MESH and geom.meshname in profile.pad_meshes
            cc.set_robot_contact(geom, pad=pad)


def _body(spec: mujoco.MjSpec, name: str, what: str) -> mujoco.MjsBody:
    body = spec.body(name)
    if body is None:
        raise ValueError(f"{what}: link {name!r} is not in the URDF")
    return body


# Sites are added with the spec's main default class explicitly: in bodies that have a
# ``childclass`` (Shadow) MuJoCo 3.17 otherwise leaves the site without a class and
# ``MjSpec.to_xml`` segfaults.


def add_keypoint_sites(spec: mujoco.MjSpec,
                       keypoints: tuple[BodyPoint | None, ...]) -> tuple[str | None, ...]:  # fmt: skip
    """Sites ``kp_<name>`` for the 21 keypoints (MediaPipe order); returns their names."""
    sites: list[str | None] = []
    for name, point in zip(KEYPOINT_NAMES, keypoints, strict=True):
        if point is None:
            sites.append(None)
            continue
        site_name = f"kp_{name}"
        _body(spec, point.body, f"keypoint {name}").add_site(
            spec.default, name=site_name, pos=list(point.pos), size=[KEYPOINT_SITE_SIZE, 0, 0],
            rgba=list(RGBA_KEYPOINT), group=SITE_GROUP,
        )  # fmt: skip
        sites.append(site_name)
    return tuple(sites)


def frame_from_axes(x_hint: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(3, 3) rotation with columns (x, y, z): z normalised, x = x_hint made orthogonal."""
    z = z / np.linalg.norm(z)
    x = x_hint - np.dot(x_hint, z) * z
    norm = np.linalg.norm(x)
    if norm < 1e-6:
        raise ValueError("the x hint is parallel to z")
    x /= norm
    return np.column_stack([x, np.cross(z, x), z])


def add_fingertip_sites(spec: mujoco.MjSpec,
                        pads: tuple[PadSite | None, ...]) -> tuple[str | None, ...]:  # fmt: skip
    """Sites ``fingertip_<finger>`` (FINGERS order): +x outward pad normal, +z along the
    finger, as on the procedural hand; returns their names."""
    sites: list[str | None] = []
    for finger, pad in zip(FINGERS, pads, strict=True):
        if pad is None:
            sites.append(None)
            continue
        rot = frame_from_axes(np.asarray(pad.normal, float), np.asarray(pad.along, float))
        site_name = f"fingertip_{finger}"
        _body(spec, pad.body, f"fingertip {finger}").add_site(
            spec.default, name=site_name, pos=list(pad.pos), quat=list(mat_to_quat(rot)),
            size=[KEYPOINT_SITE_SIZE, 0, 0], rgba=list(RGBA_FINGERTIP), group=SITE_GROUP,
        )  # fmt: skip
        sites.append(site_name)
    return tuple(sites)


def add_palm_site(spec: mujoco.MjSpec, root_body: str, wrist: BodyPoint, middle_mcp: BodyPoint,
                  palmar_direction: Vec3, name: str = PALM_SITE) -> None:  # fmt: skip
    """The palm frame site on the wrist keypoint's link, computed at qpos0.

    Origin at the wrist keypoint; +z toward the middle-finger MCP keypoint; +x the
    ``palmar_direction`` (wrist link frame) made orthogonal to z; +y = z x x. The wrist
    link must be rigidly attached to ``root_body``.
    """
    root = spec.body(root_body)
    body = _body(spec, wrist.body, "wrist keypoint")
    p_wrist, r_wrist = pose_in_body(spec, body, root)
    p_mcp, r_mcp = pose_in_body(spec, _body(spec, middle_mcp.body, "middle MCP"), root, rigid=False)
    # Middle MCP keypoint in the wrist link's frame.
    mcp = r_wrist.T @ (p_mcp + r_mcp @ np.asarray(middle_mcp.pos, float) - p_wrist)
    origin = np.asarray(wrist.pos, float)
    rot = frame_from_axes(np.asarray(palmar_direction, float), mcp - origin)
    body.add_site(spec.default, name=name, pos=list(origin), quat=list(mat_to_quat(rot)),
                  size=[0.005, 0, 0], rgba=list(RGBA_KEYPOINT), group=SITE_GROUP)  # fmt: skip


def _add_palm(spec: mujoco.MjSpec, profile: UrdfHandProfile) -> None:
    if profile.palm_frame is not None:
        frame = profile.palm_frame
        _body(spec, frame.body, "palm frame").add_site(
            spec.default, name=PALM_SITE, pos=list(frame.pos), quat=list(frame.quat), size=[0.005, 0, 0],
            rgba=list(RGBA_KEYPOINT), group=SITE_GROUP,
        )  # fmt: skip
        return
    kp = dict(zip(KEYPOINT_NAMES, profile.keypoints))
    if kp["wrist"] is None or kp["middle_mcp"] is None:
        raise ValueError(f"{profile.model_name}: a computed palm frame needs wrist and middle_mcp")
    add_palm_site(spec, profile.root_body, kp["wrist"], kp["middle_mcp"], profile.palmar_direction)


def distal_geoms(spec: mujoco.MjSpec, bodies: tuple[str, ...]) -> tuple[str, ...]:
    """Names of the collision geoms on ``bodies`` (contype != 0), in spec order."""
    names: list[str] = []
    for name in bodies:
        names += [g.name for g in _body(spec, name, "distal link").geoms if g.contype != 0]
    return tuple(names)


def finger_collision_pairs(distal: Mapping[str, tuple[str, ...]]) -> tuple[tuple[str, str], ...]:
    """Thumb distal geoms vs every finger's, and each finger's vs its neighbour's.

    ``distal`` maps finger name -> its distal collision geoms (fingers in FINGERS order,
    missing fingers absent).
    """
    fingers = [f for f in FINGERS[1:] if distal.get(f)]
    pairs = [(t, g) for f in fingers for t in distal.get("thumb", ()) for g in distal[f]]
    for a, b in itertools.pairwise(fingers):
        pairs += [(ga, gb) for ga in distal[a] for gb in distal[b]]
    return tuple(pairs)


def add_contact_pairs(spec: mujoco.MjSpec, pairs: tuple[tuple[str, str], ...],
                      pad_geoms: frozenset[str] = frozenset()) -> None:  # fmt: skip
    """Explicit contacts with the shared parameters (robot geoms skip each other in the
    broadphase, see ``contact_constants``); pad-pad contacts keep rolling friction."""
    slide, torsion, roll = cc.FRICTION
    for g1, g2 in pairs:
        both_pads = g1 in pad_geoms and g2 in pad_geoms
        spec.add_pair(
            name=f"{g1}__{g2}", geomname1=g1, geomname2=g2,
            condim=cc.CONDIM_PAD if both_pads else cc.CONDIM,
            friction=[slide, slide, torsion, roll, roll],
            solref=list(cc.SOLREF), solimp=list(cc.SOLIMP), margin=0.0, gap=0.0,
        )  # fmt: skip


def sided_asset(spec: mujoco.MjSpec, side: Side, *, model_name: str, root_body: str,
                joint_names: tuple[str, ...], keypoint_sites: tuple[str | None, ...],
                fingertip_sites: tuple[str | None, ...],
                collision_pairs: tuple[tuple[str, str], ...]) -> HandAsset:  # fmt: skip
    """Describe a right-hand spec whose servos are named ``act_<joint>`` (and whose palm
    site is ``PALM_SITE``), then mirror it if a left hand is asked for."""
    description = HandDescription(
        model_name=model_name,
        side=Side.RIGHT,
        root_body=root_body,
        joint_names=joint_names,
        actuator_names=tuple(f"act_{n}" for n in joint_names),
        keypoint_sites=keypoint_sites,
        fingertip_sites=fingertip_sites,
        palm_site=PALM_SITE,
        collision_pairs=collision_pairs,
    )
    asset = HandAsset(spec=spec, description=description)
    return asset if side is Side.RIGHT else mirror_hand(asset)


def load_urdf_hand(urdf_path: str | Path, profile: UrdfHandProfile,
                   side: Side = Side.RIGHT) -> HandAsset:  # fmt: skip
    """Load a right-hand URDF described by ``profile`` as a hand asset for ``side``.

    ``urdf_path`` is the URDF file itself (e.g. ``find_hand_urdf_dir() /
    LEAP_HAND.urdf_file``). Element names are the URDF's (links = bodies, joints keep
    their names); the root link has no joint and can be attached to an arm flange.
    """
    path = Path(urdf_path)
    if not path.is_file():
        raise FileNotFoundError(f"{profile.model_name}: URDF not found at {path}")
    spec = _load_spec(path, profile)
    if profile.balance_inertia:
        _bake_inertias(spec)
    _configure_geoms(spec, profile)
    _configure_joints(spec, profile)
    keypoint_sites = add_keypoint_sites(spec, profile.keypoints)
    fingertip_sites = add_fingertip_sites(spec, profile.fingertips)
    _add_palm(spec, profile)
    distal = {
        f: distal_geoms(spec, bodies) for f, bodies in zip(FINGERS, profile.distal_bodies) if bodies
    }
    pairs = finger_collision_pairs(distal)
    pads = frozenset(g.name for g in spec.geoms
                     if g.type == mujoco.mjtGeom.mjGEOM_MESH
                     and g.meshname in profile.pad_meshes)  # fmt: skip
    add_contact_pairs(spec, pairs, pads)
    return sided_asset(spec, side, model_name=profile.model_name, root_body=profile.root_body,
                       joint_names=profile.joint_names, keypoint_sites=keypoint_sites,
                       fingertip_sites=fingertip_sites, collision_pairs=pairs)  # fmt: skip
