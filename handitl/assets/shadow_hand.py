"""The Shadow Dexterous Hand from gymnasium-robotics as a :class:`HandAsset`.

Source: ``gymnasium_robotics/envs/assets/hand/`` (``reach.xml`` including ``robot.xml``,
``shared.xml``, ``shared_asset.xml``) and its meshes in ``assets/stls/hand``, Apache-2.0
(``gymnasium_robotics/envs/assets/LICENSE.md``). The files are read in place from the
installed package (``pip install "handitl[shadow]"``); nothing is copied.

What this loader changes, with the MjSpec API only:

* Trimmed to the hand: the forearm, the scene (floor, targets, light) and the vendor's
  actuators, tendons, sensors and contact pairs are removed. The root body is ``wrist``
  (the wrist housing) at the origin with no joint, for the arm flange. The two wrist
  joints WRJ1/WRJ0 are removed: the arm's last joints play their role, and keeping them
  would leave either a floppy or a redundant wrist.
* Element and asset names lose the vendor's ``robot0:`` prefix (``robot0:FFJ3`` ->
  ``FFJ3``), so that the scene's ``left/``/``right/`` prefix gives ``right/FFJ3``; default
  classes keep theirs (``robot0:asset_class``).
* Actuation: every one of the 22 finger joints gets its own position servo
  ``act_<joint>`` (ctrlrange = joint range). gymnasium-robotics drives 18 finger
  actuators and couples each finger's J0 (DIP) to J1 (PIP) with a tendon-limit
  constraint; that coupling is dropped so that the joint vector is the full kinematic
  state (keypoints are a function of ``joint_names`` only, which retargeting and the
  mirror test rely on). A retargeter that wants the real hand's coupling can add
  J0 = J1 as a cost. Gains, force limits, damping and armature are the vendor's (J0
  takes its J1 actuator's force limit).
* Contact: collision geoms (``C_*``) get the shared contact parameters
  (:mod:`contact_constants`), distal ones as pads; the vendor's finger-finger contact
  pairs are re-added as explicit pairs with those parameters (``collision_pairs``).
* Sites: ``kp_<keypoint>`` for all 21 MediaPipe keypoints, ``fingertip_<finger>`` on
  each distal capsule's palmar face, ``palm`` (palm frame).

Frames: in the vendor's ``palm`` body the fingers point along +z, the palm faces -y and
the thumb sits on the +x side. The palm frame (site ``palm``) has its origin at the
``palm`` body origin (the WRJ0 axis, the wrist keypoint), +z toward the middle knuckle,
+x palmar, +y toward the thumb.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import mujoco

from handitl.assets import contact_constants as cc
from handitl.assets.hand_description import KEYPOINT_NAMES, HandAsset, Side
from handitl.assets.urdf_hand import (
    BodyPoint,
    PadSite,
    add_contact_pairs,
    add_fingertip_sites,
    add_keypoint_sites,
    add_palm_site,
    keypoint_table,
    per_finger,
    sided_asset,
)

MODEL_NAME = "shadow"
ROOT_BODY = "wrist"
VENDOR_PREFIX = "robot0:"
INSTALL_HINT = 'the Shadow hand needs gymnasium-robotics: pip install "handitl[shadow]"'

JOINT_NAMES: tuple[str, ...] = (
    "FFJ3", "FFJ2", "FFJ1", "FFJ0",
    "MFJ3", "MFJ2", "MFJ1", "MFJ0",
    "RFJ3", "RFJ2", "RFJ1", "RFJ0",
    "LFJ4", "LFJ3", "LFJ2", "LFJ1", "LFJ0",
    "THJ4", "THJ3", "THJ2", "THJ1", "THJ0",
)  # fmt: skip
"""Finger joints in command order (the vendor's actuator order, with each J0 after J1)."""

WRIST_JOINTS: tuple[str, ...] = ("WRJ1", "WRJ0")
"""Removed: the arm provides the wrist."""

SERVO_KP = 1.0
"""Vendor position gain of every finger actuator, N m/rad."""
FORCE_LIMITS: dict[str, float] = {
    "J4": 0.9, "J3": 0.9, "J2": 0.9, "J1": 0.7245, "J0": 0.7245,
    "THJ4": 2.3722, "THJ3": 1.45, "THJ2": 0.99, "THJ1": 0.99, "THJ0": 0.81,
}  # fmt: skip
"""Vendor actuator force ranges, N m (finger joints by suffix, thumb joints by name)."""

MCP_FLEXION: tuple[tuple[str, float] | None, ...] = per_finger(
    {
        "index": ("FFJ2", 1.0),
        "middle": ("MFJ2", 1.0),
        "ring": ("RFJ2", 1.0),
        "little": ("LFJ2", 1.0),
    }
)
"""Per finger (FINGERS order): MCP flexion joint and the sign that curls it palmar."""

_FINGER_PREFIX = {"index": "ff", "middle": "mf", "ring": "rf", "little": "lf"}
# Distal extreme of the F1 mesh along the distal body's z: ff/rf/lf place the mesh 1 mm
# further out than mf in the vendor file (pos="0 0 0.001"), hence two values.
_TIP_Z = {"index": 0.0303, "middle": 0.0293, "ring": 0.0303, "little": 0.0303}
_DISTAL_RADIUS = 0.00705
"""Radius of the fingers' distal collision capsules, m."""
_THUMB_DISTAL_RADIUS = 0.00918


def _keypoints() -> tuple[BodyPoint | None, ...]:
    """All 21 keypoints at joint centres (every Shadow joint axis passes through its
    body origin) and at the distal meshes' extremes (TH1_z ends at z = 0.0349)."""
    points = {
        "wrist": BodyPoint("palm"),
        "thumb_cmc": BodyPoint("thbase"),  # THJ4 and THJ3
        "thumb_mcp": BodyPoint("thhub"),  # THJ2 and THJ1
        "thumb_ip": BodyPoint("thdistal"),  # THJ0
        "thumb_tip": BodyPoint("thdistal", (0.0, 0.0, 0.0349)),
    }
    for finger, p in _FINGER_PREFIX.items():
        points[f"{finger}_mcp"] = BodyPoint(f"{p}knuckle")  # J3 and J2
        points[f"{finger}_pip"] = BodyPoint(f"{p}middle")  # J1
        points[f"{finger}_dip"] = BodyPoint(f"{p}distal")  # J0
        points[f"{finger}_tip"] = BodyPoint(f"{p}distal", (0.0, 0.0, _TIP_Z[finger]))
    return keypoint_table(points)


def _pads() -> tuple[PadSite | None, ...]:
    """Palmar face of each distal capsule, where the vendor's touch sensors sit (z 18-20 mm).

    Fingers flex about +x (positive angles), so their palmar side is local -y; the
    thumb's IP joint flexes with negative angles about +y, so its pad faces local -x.
    """
    pads = {
        f: PadSite(f"{p}distal", (0.0, -_DISTAL_RADIUS, 0.018), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0))
        for f, p in _FINGER_PREFIX.items()
    }
    pads["thumb"] = PadSite("thdistal", (-_THUMB_DISTAL_RADIUS, 0.0, 0.02), (-1.0, 0.0, 0.0),
                            (0.0, 0.0, 1.0))  # fmt: skip
    return per_finger(pads)


COLLISION_PAIRS: tuple[tuple[str, str], ...] = (
    ("C_ffdistal", "C_thdistal"), ("C_ffmiddle", "C_thdistal"), ("C_ffproximal", "C_thdistal"),
    ("C_mfproximal", "C_thdistal"), ("C_mfdistal", "C_thdistal"), ("C_rfdistal", "C_thdistal"),
    ("C_lfdistal", "C_thdistal"), ("C_palm0", "C_thdistal"), ("C_mfdistal", "C_ffdistal"),
    ("C_rfdistal", "C_mfdistal"), ("C_lfdistal", "C_rfdistal"), ("C_mfproximal", "C_ffproximal"),
    ("C_rfproximal", "C_mfproximal"), ("C_lfproximal", "C_rfproximal"),
    ("C_lfdistal", "C_mfdistal"), ("C_lfdistal", "C_rfmiddle"), ("C_lfmiddle", "C_rfdistal"),
    ("C_lfmiddle", "C_rfmiddle"),
)  # fmt: skip
"""The vendor's finger-finger contact pairs (shared.xml, one duplicate removed): the thumb
tip against every finger's distal link (and index middle/proximal, middle proximal, palm),
neighbouring fingers' distal, proximal and little/ring middle links."""

_PAD_GEOMS = frozenset({"C_ffdistal", "C_mfdistal", "C_rfdistal", "C_lfdistal", "C_thdistal"})


def shadow_asset_dir() -> Path:
    """Folder of the vendor MJCF files; raises ImportError with the install hint."""
    # find_spec locates the package without importing it (its import prints a notice
    # and registers environments, neither of which a hand asset needs).
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(INSTALL_HINT)
    folder = Path(next(iter(spec.submodule_search_locations))) / "envs" / "assets" / "hand"
    if not (folder / "reach.xml").is_file():
        raise ImportError(f"{folder / 'reach.xml'} is missing; {INSTALL_HINT}")
    return folder


def _isolate_hand(spec: mujoco.MjSpec) -> mujoco.MjsBody:
    """Make the vendor ``robot0:wrist`` a jointless child of the world at the origin.

    The mount and forearm bodies become frames (their children move up), the wrist is
    moved to a fresh identity frame, and the old frames go with the forearm geoms.
    """
    old = spec.body(VENDOR_PREFIX + "hand mount").to_frame()
    spec.body(VENDOR_PREFIX + "forearm").to_frame()
    wrist = spec.body(VENDOR_PREFIX + "wrist")
    wrist.set_frame(spec.worldbody.add_frame())
    spec.delete(old)
    wrist.pos = [0.0, 0.0, 0.0]
    wrist.quat = [1.0, 0.0, 0.0, 0.0]
    wrist.alt.type = mujoco.mjtOrientation.mjORIENTATION_QUAT
    for name in WRIST_JOINTS:
        spec.delete(spec.joint(VENDOR_PREFIX + name))
    return wrist


def _strip_scene(spec: mujoco.MjSpec) -> None:
    """Remove the vendor's scene, control and sensing elements and unused assets."""
    for seq in (spec.actuators, spec.sensors, spec.tendons, spec.pairs, spec.excludes,
                spec.lights, spec.cameras):  # fmt: skip
        for element in list(seq):
            spec.delete(element)
    for geom in list(spec.worldbody.geoms):
        if geom.frame is None:  # the floor
            spec.delete(geom)
    spec.delete(spec.body("floor0"))
    used = {g.material for g in spec.geoms}
    for material in list(spec.materials):
        if material.name not in used:
            spec.delete(material)
    for texture in list(spec.textures):
        spec.delete(texture)
    used_meshes = {g.meshname for g in spec.geoms}
    for mesh in list(spec.meshes):
        if mesh.name not in used_meshes:
            spec.delete(mesh)


def _strip(name: str) -> str:
    return name.removeprefix(VENDOR_PREFIX)


def _rename(spec: mujoco.MjSpec, mesh_dir: Path) -> None:
    """Drop ``robot0:`` everywhere and fix the string references MjSpec does not update."""
    for seq in (spec.bodies, spec.geoms, spec.sites, spec.joints, spec.meshes, spec.materials):
        for element in seq:
            element.name = _strip(element.name)
    # Default classes keep their vendor names: elements refer to them by name strings
    # that renaming a class does not update. Their material references are fixed.
    classes = {g.classname.name: g.classname for g in spec.geoms if g.classname is not None}
    for default in classes.values():
        default.geom.material = _strip(default.geom.material)
    for geom in spec.geoms:
        geom.meshname = _strip(geom.meshname)
        geom.material = _strip(geom.material)
    for mesh in spec.meshes:
        # Absolute paths keep the meshes loadable once attached to another spec.
        mesh.file = str((mesh_dir / mesh.file).resolve())
    for joint in spec.joints:
        joint.userdata = []
    for site in spec.sites:
        site.userdata = []


def _reset_globals(spec: mujoco.MjSpec) -> None:
    """The vendor's solver and memory settings were for its own scenes; use ours."""
    spec.modelname = f"{MODEL_NAME}_right"
    cc.apply_physics_options(spec)
    for attr in ("njmax", "nconmax", "nstack", "nuser_jnt", "nuser_site", "nuser_tendon",
                 "nuser_actuator", "nuser_sensor"):  # fmt: skip
        setattr(spec, attr, -1)


def _configure_contacts(spec: mujoco.MjSpec) -> None:
    """Collision geoms get the shared parameters; every other geom is visual only.

    The vendor's placeholder boxes V_thbase/V_thhub (1 mm, no class) collide by default.
    """
    for geom in spec.geoms:
        if geom.name.startswith("C_"):
            cc.set_robot_contact(geom, pad=geom.name in _PAD_GEOMS)
        else:
            geom.contype = 0
            geom.conaffinity = 0


def _force_limit(joint: str) -> float:
    return FORCE_LIMITS[joint] if joint.startswith("TH") else FORCE_LIMITS[joint[-2:]]


def _add_servos(spec: mujoco.MjSpec) -> None:
    """One position servo ``act_<joint>`` per finger joint, ctrlrange = joint range."""
    for name in JOINT_NAMES:
        joint = spec.joint(name)
        limit = _force_limit(name)
        act = spec.add_actuator(
            name=f"act_{name}", target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT,
            ctrlrange=list(joint.range), ctrllimited=mujoco.mjtLimited.mjLIMITED_TRUE,
            forcerange=[-limit, limit], forcelimited=mujoco.mjtLimited.mjLIMITED_TRUE,
        )  # fmt: skip
        act.set_to_position(kp=SERVO_KP)


def _load_trimmed_spec() -> mujoco.MjSpec:
    folder = shadow_asset_dir()
    spec = mujoco.MjSpec.from_file(str(folder / "reach.xml"))
    mesh_dir = (folder / spec.meshdir).resolve()
    _isolate_hand(spec)
    _strip_scene(spec)
    _rename(spec, mesh_dir)
    spec.meshdir = ""
    _reset_globals(spec)
    return spec


def load_shadow_hand(side: Side = Side.RIGHT) -> HandAsset:
    """The Shadow hand (22 finger joints, 5 fingers) for ``side`` (left = mirrored right).

    Raises ImportError with the install hint if gymnasium-robotics is not installed.
    """
    spec = _load_trimmed_spec()
    _configure_contacts(spec)
    _add_servos(spec)
    keypoints = _keypoints()
    kp_sites = add_keypoint_sites(spec, keypoints)
    tip_sites = add_fingertip_sites(spec, _pads())
    kp = dict(zip(KEYPOINT_NAMES, keypoints))
    add_palm_site(spec, ROOT_BODY, kp["wrist"], kp["middle_mcp"], (0.0, -1.0, 0.0))
    add_contact_pairs(spec, COLLISION_PAIRS, _PAD_GEOMS)
    return sided_asset(spec, side, model_name=MODEL_NAME, root_body=ROOT_BODY,
                       joint_names=JOINT_NAMES, keypoint_sites=kp_sites,
                       fingertip_sites=tip_sites, collision_pairs=COLLISION_PAIRS)  # fmt: skip
