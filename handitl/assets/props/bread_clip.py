"""Bread-bag clip and bag neck, built in code with ``MjSpec``.

The clip is a clothes-peg-like plastic clip: two arms on a sprung hinge. Each arm is a
jaw plate in front of the hinge and a lever plate behind it; the levers flare outward, so
squeezing them together (thumb and index pads) turns the arms about the hinge and opens
the jaws; the spring closes the jaws again, on the bag neck if one is between them.

Clip frame (the body ``clip``, on a free joint): origin on the hinge axis at mid-height,
+x from the hinge toward the jaw tips, +z along the hinge axis (up when the clip lies on
the table), +y toward arm ``a``. Arm ``b`` is part of the body ``clip``; arm ``a`` is the
child body ``clip_arm_a`` on the hinge ``clip_hinge`` (0 rad = closed, > 0 opens the jaws;
arm ``a`` turns about +z). Both arms lie on the table on their long edges, so the squeeze
direction is horizontal.

The bag neck is the gathered, twisted neck of a bread bag: a vertical capsule standing on
the table on a mocap body ``bag_neck`` (the task moves it at reset), so it cannot tip or
slide; the clip is lowered onto it from above with open jaws.

Units: m, kg, rad, N m/rad.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from handitl.assets import contact_constants as cc

# ---------------------------------------------------------------------------------------
# Clip dimensions (a large plastic bag clip / clothes peg, ~7 cm long)
# ---------------------------------------------------------------------------------------
CLIP_JAW_LENGTH = 0.05
"""Hinge axis to jaw tip, m: long jaws so a 1.5 cm neck fits well inside the mouth."""
CLIP_LEVER_LENGTH = 0.025
"""Hinge axis to lever end (along the clip x axis), m; total length 7.5 cm (brief: 6-8 cm)."""
CLIP_HEIGHT = 0.022
"""Plate height along the hinge axis, m: tall enough that fingertip pads centred ~1.5 cm
above the table reach the levers while the fingertips' round caps clear the table."""
CLIP_PLATE_HALF_THICKNESS = 0.0015
"""Half thickness of the jaw and lever plates, m (3 mm plastic)."""
CLIP_CLOSED_GAP = 0.002
"""Gap between the jaws' inner faces when closed, m (the closed jaws touch the neck
material of a thin bag; the plates themselves never collide: parent and child bodies)."""
CLIP_LEVER_FLARE = 0.0095
"""Outward offset of each lever's end from its jaw plane, m: lever outer faces ~2.9 cm
apart at the ends when closed, so the levers flare ~21 deg (tan = 0.38 < friction 1, so
the pads are not squeezed off the wedge)."""
CLIP_MOUTH_X = 0.036
"""Clip-frame x of the point in the mouth where the neck is clamped, m (site ``clip_mouth``
marks it on the closed clip):
far enough from the hinge that the open jaws clear the neck, far enough from the tips
that the whole neck lies between the jaws."""
CLIP_PAD_X = -0.018
"""Clip-frame x where the pads press the levers, m (lever arm 1.8 cm about the hinge)."""
CLIP_HINGE_HALF_SIZE = 0.004
"""Half size of the square hinge block (the spring coil), m."""
CLIP_ARM_MASS = 0.0075
"""Mass of each arm, kg: 15 g in all (physics_notes: give gram-scale parts 10-20 g, or
they penetrate the pads by 2-9 mm)."""
CLIP_HINGE_MASS = 0.002
"""Mass of the hinge block with its coil spring, kg."""

# ---------------------------------------------------------------------------------------
# Hinge (physics_notes.md, "gram-scale sprung hinge (clip)")
# ---------------------------------------------------------------------------------------
HINGE_RANGE = (0.0, 0.6)
"""Jaw opening angle range, rad: 0 = closed; 0.6 rad opens the tips ~2.8 cm."""
HINGE_STIFFNESS = 0.2
"""Spring stiffness, N m/rad (physics_notes: ~0.2 N m/rad)."""
HINGE_SPRINGREF = -0.1
"""Spring rest angle, rad: below the closed limit, so the closed clip is preloaded
(0.02 N m) and a clamped neck (~0.38 rad open) is squeezed with ~2.5 N; opening fully
(0.6 rad) takes ~8 N at the pads."""
HINGE_ARMATURE = 5e-5
"""kg m^2 (physics_notes: >= 2e-5; 1e-6 blew up to NaN)."""
HINGE_DAMPING = 0.004
"""N m s/rad: about critical for the arm's ~6e-5 kg m^2 total inertia and the spring."""
HINGE_LIMIT_SOLREF = (0.005, 1.0)
"""Stiff joint limit (physics_notes: limit solref 0.005)."""

# ---------------------------------------------------------------------------------------
# Bag neck
# ---------------------------------------------------------------------------------------
NECK_RADIUS = 0.0075
"""Radius of the gathered neck, m (1.5 cm diameter; brief: 1.5-2.5 cm): the fully open
jaws (0.6 rad) give it ~3.5 mm clearance per side 3.6 cm in front of the hinge."""
NECK_HEIGHT = 0.07
"""Height of the neck's top above the table, m (the capsule's round top guides the jaws)."""
BAG_BASE_RADIUS = 0.03
"""Radius of the (visual only) flattened bag under the neck, m."""

RGBA_CLIP = (0.15, 0.45, 0.85, 1.0)
RGBA_CLIP_ARM_A = (0.20, 0.55, 0.95, 1.0)
RGBA_HINGE = (0.7, 0.7, 0.72, 1.0)
RGBA_NECK = (0.92, 0.85, 0.62, 1.0)
RGBA_BAG = (0.95, 0.9, 0.75, 0.6)

CLIP_BODY = "clip"
CLIP_ARM_A_BODY = "clip_arm_a"
CLIP_JOINT = "clip_free"
CLIP_HINGE = "clip_hinge"
NECK_BODY = "bag_neck"
NECK_GEOM = "bag_neck"
CLIP_JAW_GEOMS = ("clip_jaw_a", "clip_jaw_b")
CLIP_LEVER_GEOMS = ("clip_lever_a", "clip_lever_b")
CLIP_REST_Z = 0.5 * CLIP_HEIGHT
"""Height of the clip frame's origin above the table when the clip lies on it, m."""


@dataclasses.dataclass(frozen=True)
class LeverGeometry:
    """A lever plate in its arm's frame (arm ``a``, +y side; arm ``b`` mirrors y)."""

    centre: np.ndarray
    """(3,) box centre, m."""
    angle: float
    """Rotation of the plate about +z from the clip x axis, rad."""
    half_length: float
    outward_normal: np.ndarray
    """(3,) unit normal of the outer (pad) face."""


def lever_geometry() -> LeverGeometry:
    """Where arm ``a``'s lever plate is (the pad face is its outer face)."""
    y0 = 0.5 * CLIP_CLOSED_GAP + CLIP_PLATE_HALF_THICKNESS
    start = np.array([0.0, y0, 0.0])
    end = np.array([-CLIP_LEVER_LENGTH, y0 + CLIP_LEVER_FLARE, 0.0])
    direction = end - start
    half_length = 0.5 * float(np.linalg.norm(direction))
    angle = math.atan2(direction[1], direction[0])
    normal = np.array([-direction[1], direction[0], 0.0]) / (2 * half_length)
    if normal[1] < 0:
        normal = -normal
    return LeverGeometry(0.5 * (start + end), angle, half_length, normal)


def lever_outer_point(x: float, side: str = "a") -> np.ndarray:
    """(3,) point on a closed clip's lever outer face at clip-frame ``x`` (< 0), mid-height."""
    lever = lever_geometry()
    frac = -x / CLIP_LEVER_LENGTH
    y0 = 0.5 * CLIP_CLOSED_GAP + CLIP_PLATE_HALF_THICKNESS
    y_mid = y0 + frac * CLIP_LEVER_FLARE
    # The outer face is a plate half thickness out along the (mostly +y) normal.
    point = np.array([x, y_mid, 0.0]) + CLIP_PLATE_HALF_THICKNESS * lever.outward_normal
    return point if side == "a" else point * np.array([1.0, -1.0, 1.0])


def jaw_gap(x: float, angle: float) -> float:
    """Distance between the jaws' inner faces at clip-frame ``x`` (> 0) when open by
    ``angle`` rad, m (arm ``a`` turns about the hinge axis)."""
    inner = 0.5 * CLIP_CLOSED_GAP
    return inner + x * math.sin(angle) + inner * math.cos(angle)


def _quat_z(angle: float) -> list[float]:
    return [math.cos(0.5 * angle), 0.0, 0.0, math.sin(0.5 * angle)]


def _add_arm(body: mujoco.MjsBody, side: str, rgba: tuple[float, ...]) -> None:
    """Jaw and lever plates of one arm (side ``a``: +y, ``b``: -y) into ``body``."""
    sign = 1.0 if side == "a" else -1.0
    half_h = 0.5 * CLIP_HEIGHT
    t = CLIP_PLATE_HALF_THICKNESS
    jaw_y = sign * (0.5 * CLIP_CLOSED_GAP + t)
    plate_mass = CLIP_ARM_MASS * 0.5
    jaw = body.add_geom(name=f"clip_jaw_{side}", type=mujoco.mjtGeom.mjGEOM_BOX,
                        pos=[0.5 * CLIP_JAW_LENGTH, jaw_y, 0.0],
                        size=[0.5 * CLIP_JAW_LENGTH, t, half_h], mass=plate_mass,
                        rgba=list(rgba))  # fmt: skip
    cc.set_object_contact(jaw)
    lever = lever_geometry()
    centre = lever.centre * np.array([1.0, sign, 1.0])
    geom = body.add_geom(name=f"clip_lever_{side}", type=mujoco.mjtGeom.mjGEOM_BOX,
                         pos=list(centre), quat=_quat_z(sign * lever.angle),
                         size=[lever.half_length, t, half_h], mass=plate_mass,
                         rgba=list(rgba))  # fmt: skip
    cc.set_object_contact(geom)


def add_bread_clip(spec: mujoco.MjSpec) -> None:
    """Add the clip (body ``clip`` on free joint ``clip_free``) lying on the table at the
    world origin; the task poses it at reset."""
    clip = spec.worldbody.add_body(name=CLIP_BODY, pos=[0.0, 0.0, CLIP_REST_Z])
    clip.add_freejoint(name=CLIP_JOINT)
    _add_arm(clip, "b", RGBA_CLIP)
    hinge_block = clip.add_geom(name="clip_hinge_block", type=mujoco.mjtGeom.mjGEOM_BOX,
                                size=[CLIP_HINGE_HALF_SIZE, CLIP_HINGE_HALF_SIZE,
                                      0.5 * CLIP_HEIGHT - 0.001],
                                mass=CLIP_HINGE_MASS, rgba=list(RGBA_HINGE))  # fmt: skip
    cc.set_object_contact(hinge_block)
    clip.add_site(name="clip_origin", size=[0.002, 0, 0], group=4)
    clip.add_site(name="clip_mouth", pos=[CLIP_MOUTH_X, 0.0, 0.0], size=[0.002, 0, 0],
                  group=4)  # fmt: skip
    arm = clip.add_body(name=CLIP_ARM_A_BODY)
    arm.add_joint(name=CLIP_HINGE, type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0.0, 0.0, 1.0],
                  range=list(HINGE_RANGE), limited=mujoco.mjtLimited.mjLIMITED_TRUE,
                  stiffness=HINGE_STIFFNESS, springref=HINGE_SPRINGREF,
                  armature=HINGE_ARMATURE, damping=HINGE_DAMPING,
                  solref_limit=list(HINGE_LIMIT_SOLREF))  # fmt: skip
    _add_arm(arm, "a", RGBA_CLIP_ARM_A)


def add_bag_neck(spec: mujoco.MjSpec) -> None:
    """Add the bag neck (mocap body ``bag_neck``, a vertical capsule from the table to
    ``NECK_HEIGHT``) at the world origin; the task poses it at reset."""
    body = spec.worldbody.add_body(name=NECK_BODY, mocap=True)
    half = 0.5 * NECK_HEIGHT - NECK_RADIUS  # bottom cap touches the table top
    neck = body.add_geom(name=NECK_GEOM, type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                         pos=[0.0, 0.0, 0.5 * NECK_HEIGHT], size=[NECK_RADIUS, half, 0.0],
                         rgba=list(RGBA_NECK))  # fmt: skip
    cc.set_object_contact(neck)
    body.add_geom(name="bag_base", type=mujoco.mjtGeom.mjGEOM_CYLINDER, contype=0,
                  conaffinity=0, pos=[0.0, 0.0, 0.002], size=[BAG_BASE_RADIUS, 0.002, 0.0],
                  rgba=list(RGBA_BAG))  # fmt: skip
