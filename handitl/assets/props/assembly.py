"""An assembly to take apart: a base block with two threaded fasteners, built with ``MjSpec``.

The base block is fixed to the table (a mocap body ``assembly``: the task poses it at
reset, nothing can push it). Two fasteners sit on its top face along its long (y) axis,
at :data:`FASTENER_Y`; the block's +y end is left free for the steadying hand. Three kinds:

* ``wing_nut``: a wing nut (hub and two wings) on a stud standing out of the block, turned
  by hand: two fingertip pads pinch one wing across its thickness;
* ``knob``: a round knurled thumb knob (a 16-sided prism, :data:`KNOB_DIAMETER` across)
  on the same stud, turned by hand: two fingertip pads pinch it across its diameter, at
  any yaw (used by the UnscrewByHand task);
* ``screw``: a slotted cheese-head screw in the block, turned by a drill bit in its slot
  (the drill-driving logic belongs to the drill task).

Thread model (physics_notes.md, "screw thread"): under each fastener a massless-looking
*thread carrier* body ``<name>_thread`` hangs from the block on a hinge ``<name>_turn``
and a slide ``<name>_rise`` along the stud's axis (+z), coupled by a joint equality
``<name>_coupling`` (``rise = pitch / (2 pi) * turn``, ``pitch`` the lead of a two-start
quick-action thread, :data:`THREAD_PITCH`, a right-hand thread: turning
counter-clockwise seen from above, +turn, unscrews and raises it). The fastener itself is
a free body ``<name>`` welded to its carrier by the weld equality ``<name>_engaged``. At
the top of the thread (the slide at :data:`THREAD_TRAVEL`, its upper limit),
:func:`release_unscrewed` deactivates the weld: the fastener is then a free body with no
constraint left, which a hand lifts off the stud. The carrier stays at the top of its
thread and touches nothing (it has no collision geoms). Contacts between a fastener and
its stud, or a screw and the block it sits in, are excluded (the bore and the threaded
hole are not modelled); a nut still rests on the block's top face.

Frames: assembly frame ``assembly`` at the centre of the block's underside on the table,
+z up, +y along the block. A fastener's frame: origin on its axis at its seating face
(the nut's underside, the screw head's underside), +z up its axis. Site
``<name>_grip`` marks the pinch point of a wing (wing nut), the pinch point on the knob's
axis (knob: the pads' midpoint in a pinch across its diameter) or the slot's centre
(screw).

Units: m, kg, rad.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from handitl.assets import contact_constants as cc

# ---------------------------------------------------------------------------------------
# Base block (an aluminium fixture plate, fixed to the table)
# ---------------------------------------------------------------------------------------
BASE_HALF_SIZE = (0.05, 0.14, 0.015)
"""Half sizes of the block (x, y, z), m: 10 x 28 x 3 cm."""
FASTENER_Y = (-0.10, -0.02)
"""Assembly-frame y of the two fasteners' axes, m; the block's +y end (y > 0.04) is the
steadying hand's."""
STEADY_Y = 0.095
"""Assembly-frame y of the middle of the block's free (+y) end, m."""
ASSEMBLY_BODY = "assembly"
BASE_GEOM = "assembly_base"

# ---------------------------------------------------------------------------------------
# Thread (coarse, quick-release thread of a hand knob)
# ---------------------------------------------------------------------------------------
THREAD_PITCH = 0.005
"""Thread lead, m of rise per turn: a two-start quick-action thread of 2.5 mm pitch (M20
coarse) advances 5 mm per turn (quick-action knob threads, e.g. Tr 16x8 P4, advance
8 mm). Was 2.5 mm (a single-start thread, 1.5 turns): the hand's wrist strokes turn a
knob ~0.22 turn each, so 1 to 1.5 turns took 5 to 7 strokes (~40 s) per knob and two
knobs did not fit in an episode; with this lead the same 3.75 mm travel takes 0.75 turn."""
THREAD_TURNS = 0.75
"""Turns from the seated nut to the top of the thread (engaged length / lead; was 1.5,
see :data:`THREAD_PITCH`)."""
THREAD_TRAVEL = THREAD_PITCH * THREAD_TURNS
"""Rise from seated to the top of the thread, m (3.75 mm, unchanged)."""
THREAD_ARMATURE = 1e-3
"""Hinge armature, kg m^2 (physics_notes: 1e-3; smaller lets the coupling ring)."""
THREAD_FRICTIONLOSS = 0.01
"""Hinge dry friction, N m: the thread does not back off under its own weight."""
THREAD_SOLREF = (0.005, 1.0)
"""Coupling and weld stiffness (timeconst s, dampratio)."""
THREAD_SOLIMP = (0.99, 0.999, 0.001, 0.5, 2.0)
"""Coupling and weld impedance: stiffer than MuJoCo's default (0.9, 0.95), so the
weld sags < 0.1 mm under the nut's weight and the thread error stays < 0.2 mm."""
CARRIER_MASS = 0.002
"""Mass of the thread carrier, kg (it needs some to carry its joints)."""
SEAT_GAP = 0.0005
"""Gap between a seated nut's underside and the block's top, m (the weld, not the block,
holds it; no contact chatter at rest)."""
RELEASE_MARGIN = 0.0002
"""The weld is released once the slide is this close to the top of the thread, m."""

# ---------------------------------------------------------------------------------------
# Wing nut (DIN 315 style, enlarged plastic wings for pad pinches)
# ---------------------------------------------------------------------------------------
STUD_RADIUS = 0.005
"""Stud radius, m (M10)."""
STUD_HEIGHT = 0.024
"""Stud length above the block's top, m (the nut's hub is 14 mm tall)."""
HUB_ACROSS_FLATS = 0.016
"""Hub width across flats (octagonal), m."""
HUB_HEIGHT = 0.014
"""Hub height, m."""
WING_OUTER_RADIUS = 0.027
"""Distance from the axis to a wing's outer edge, m (wing span 54 mm)."""
WING_THICKNESS = 0.007
"""Wing thickness, m: the pads pinch across it."""
WING_BOTTOM = 0.004
"""Height of the wings' lower edge above the nut's underside, m."""
WING_HEIGHT = 0.030
"""Height of the wings' upper edge above the nut's underside, m: the pinch point sits
22 mm up, so the fingertip caps (16 mm below the pads' centre) stay above the block."""
WING_GRIP_RADIUS = 0.018
"""Distance of a wing's pinch point from the axis, m."""
WING_GRIP_HEIGHT = 0.022
"""Height of the pinch point above the nut's underside, m."""
NUT_MASS = 0.020
"""kg (physics_notes: give pinched parts 10-20 g)."""

# ---------------------------------------------------------------------------------------
# Knurled thumb knob (DIN 6303 style, on the wing nut's stud)
# ---------------------------------------------------------------------------------------
KNOB_DIAMETER = 0.032
"""Knob width across the flats of its 16-sided knurled prism, m (DIN 6303 size 32)."""
KNOB_SIDES = 16
"""Sides of the prism (8 turned boxes): a pad meets one or two flats at any yaw."""
KNOB_HEIGHT = 0.022
"""Knob height, m (the 24 mm stud shows 1.5 mm through its threaded insert when seated)."""
KNOB_GRIP_HEIGHT = 0.0175
"""Height of the pinch point (on the axis) above the knob's underside, m: with the pads
there, the thumb's cap, 15 mm below the pads' centre in the palm-down pinch, stays
above the block's top."""
KNOB_MASS = 0.020
"""kg (physics_notes: give pinched parts 10-20 g)."""

# ---------------------------------------------------------------------------------------
# Slotted screw (ISO 1207 cheese head, M10 x 25, for a drill bit)
# ---------------------------------------------------------------------------------------
SCREW_HEAD_ACROSS_FLATS = 0.016
"""Head width (octagonal prism), m (ISO 1207 M10: dk = 16 mm)."""
SCREW_HEAD_HEIGHT = 0.0065
"""Head height, m (ISO 1207 M10: k = 6.5 mm)."""
SCREW_SLOT_WIDTH = 0.0025
"""Slot width, m (ISO 1207 M10: n = 2.5 mm)."""
SCREW_SLOT_DEPTH = 0.003
"""Slot depth, m (ISO 1207 M10: t = 2.4 mm, rounded up)."""
SCREW_SHANK_LENGTH = 0.012
"""Shank length under the head, m (engaged in the block)."""
SCREW_MASS = 0.015
"""kg."""

SCREW_THREAD_PITCH = 0.0015
"""Screw thread pitch, m per turn (M10 coarse)."""
SCREW_THREAD_TURNS = 5.0
"""Turns from seated to out of the thread (7.5 mm engaged): ~0.8 s at the drill's full
speed."""
SCREW_THREAD_FRICTIONLOSS = 0.2
"""Thread dry friction of a screw, N m: a seated screw takes a driver's torque, not a
spinning chuck rubbing on its head, to turn."""
SCREW_THREAD = (SCREW_THREAD_PITCH, SCREW_THREAD_TURNS, SCREW_THREAD_FRICTIONLOSS)

# ---------------------------------------------------------------------------------------
# Screw fixture (for the drill: a foot plate and a panel leaning back, screws in its face)
# ---------------------------------------------------------------------------------------
FIXTURE_FOOT_HALF = (0.07, 0.16, 0.01)
"""Foot plate half sizes, m."""
FIXTURE_FOOT_Y = 0.05
"""Fixture-frame y of the foot's centre, m."""
FIXTURE_PANEL_HALF = (0.02, 0.16, 0.15)
"""Panel half sizes (thickness, width, height), m."""
FIXTURE_PANEL_Y = 0.05
"""Fixture-frame y of the panel's centre, m: the panel reaches further to the steadying
hand's (+y) side than to the drill's, so the left arm comes in well clear of the drill."""
FIXTURE_PANEL_CENTRE_Z = 0.16
"""Height of the panel's centre over the table, m."""
FIXTURE_LEAN = 0.26
"""Lean of the panel back from vertical, rad (15 degrees): its face looks up by this much."""
FIXTURE_SCREW_Y = (-0.07, 0.0)
"""Fixture-frame y of the two screws, m; the panel's +y end is the steadying hand's."""
FIXTURE_SCREW_Z = 0.085
"""Panel-frame height of the screws over the panel's centre, m (slots ~0.25 m up)."""
FIXTURE_STEADY_Y = 0.20
"""Fixture-frame y of the steadying point on the panel's top edge, m (near its free +y
end, clear of the drill working at the screws)."""
FIXTURE_FOOT_GEOM = "assembly_foot"

# ---------------------------------------------------------------------------------------
# Tray for the removed fasteners (static, like the parts' bins)
# ---------------------------------------------------------------------------------------
TRAY_CENTRE = (0.50, -0.30)
"""World (x, y) of the tray's centre, m: right of the assembly, in the right arm's reach."""
TRAY_INNER_HALF = 0.05
"""Half of the tray's inside width (square), m."""
TRAY_WALL_HALF_THICKNESS = 0.002
TRAY_WALL_HEIGHT = 0.025
"""Height of the tray's walls above the table, m."""
TRAY_FLOOR_HALF_THICKNESS = 0.0015
TRAY_BODY = "tray"
RGBA_TRAY = (0.30, 0.55, 0.75, 1.0)

WING_NUT = "wing_nut"
SCREW = "screw"
KNOB = "knob"
KINDS = (WING_NUT, SCREW, KNOB)
_ON_STUD = (WING_NUT, KNOB)
"""Kinds that sit on a stud standing out of the block (the others are screwed into it)."""

RGBA_BASE = (0.55, 0.57, 0.60, 1.0)
RGBA_STUD = (0.75, 0.77, 0.80, 1.0)
RGBA = {WING_NUT: (0.95, 0.55, 0.10, 1.0), SCREW: (0.80, 0.80, 0.35, 1.0),
        KNOB: (0.12, 0.12, 0.13, 1.0)}
_RGBA_DARK = (0.10, 0.10, 0.11, 1.0)


@dataclasses.dataclass(frozen=True)
class FastenerNames:
    """Names of one fastener's elements in the compiled model."""

    name: str

    @property
    def body(self) -> str:
        return self.name

    @property
    def freejoint(self) -> str:
        return f"{self.name}_free"

    @property
    def carrier(self) -> str:
        return f"{self.name}_thread"

    @property
    def turn_joint(self) -> str:
        return f"{self.name}_turn"

    @property
    def rise_joint(self) -> str:
        return f"{self.name}_rise"

    @property
    def coupling(self) -> str:
        return f"{self.name}_coupling"

    @property
    def weld(self) -> str:
        return f"{self.name}_engaged"

    @property
    def stud_body(self) -> str:
        return f"{self.name}_stud"

    @property
    def grip_site(self) -> str:
        return f"{self.name}_grip"


def _quat_z(angle: float) -> list[float]:
    return [math.cos(0.5 * angle), 0.0, 0.0, math.sin(0.5 * angle)]


def _prism(body: mujoco.MjsBody, name: str, sides: int, across_flats: float, z0: float,
           z1: float, mass: float, rgba: tuple[float, ...]) -> None:  # fmt: skip
    """A regular prism (``sides`` even) as the union of sides/2 turned boxes (boxes collide
    natively with pads and the table, with several contact points)."""
    side_length = across_flats * math.tan(math.pi / sides)
    for k in range(sides // 2):
        geom = body.add_geom(name=f"{name}_{k}", type=mujoco.mjtGeom.mjGEOM_BOX,
                             pos=[0.0, 0.0, 0.5 * (z0 + z1)], quat=_quat_z(2 * k * math.pi / sides),
                             size=[0.5 * across_flats, 0.5 * side_length, 0.5 * (z1 - z0)],
                             mass=mass / (sides // 2), rgba=list(rgba))  # fmt: skip
        cc.set_object_contact(geom)


def _build_wing_nut(body: mujoco.MjsBody, name: str) -> None:
    hub_mass = 0.4 * NUT_MASS
    _prism(body, f"{name}_hub", 8, HUB_ACROSS_FLATS, 0.0, HUB_HEIGHT, hub_mass, RGBA[WING_NUT])
    # Two wings along the nut's x axis, from inside the hub to WING_OUTER_RADIUS.
    inner = 0.5 * HUB_ACROSS_FLATS - 0.002
    half_len = 0.5 * (WING_OUTER_RADIUS - inner)
    for k, sign in enumerate((1.0, -1.0)):
        geom = body.add_geom(name=f"{name}_wing_{k}", type=mujoco.mjtGeom.mjGEOM_BOX,
                             pos=[sign * (inner + half_len), 0.0, 0.5 * (WING_BOTTOM + WING_HEIGHT)],
                             size=[half_len, 0.5 * WING_THICKNESS, 0.5 * (WING_HEIGHT - WING_BOTTOM)],
                             mass=0.5 * (NUT_MASS - hub_mass), rgba=list(RGBA[WING_NUT]))  # fmt: skip
        cc.set_object_contact(geom)
    body.add_site(name=f"{name}_grip", pos=[WING_GRIP_RADIUS, 0.0, WING_GRIP_HEIGHT],
                  size=[0.002, 0, 0], group=4)  # fmt: skip


def _build_knob(body: mujoco.MjsBody, name: str) -> None:
    _prism(body, f"{name}_body", KNOB_SIDES, KNOB_DIAMETER, 0.0, KNOB_HEIGHT, KNOB_MASS, RGBA[KNOB])
    body.add_site(name=f"{name}_grip", pos=[0.0, 0.0, KNOB_GRIP_HEIGHT], size=[0.002, 0, 0], group=4)


def _build_screw(body: mujoco.MjsBody, name: str) -> None:
    h, d, w = SCREW_HEAD_HEIGHT, SCREW_SLOT_DEPTH, SCREW_SLOT_WIDTH
    r = 0.5 * SCREW_HEAD_ACROSS_FLATS
    head_mass = 0.7 * SCREW_MASS
    # Head below the slot, then the two halves either side of the slot (along x).
    _prism(body, f"{name}_head", 8, 2 * r, 0.0, h - d, 0.5 * head_mass, RGBA[SCREW])
    half_w = 0.5 * (r - 0.5 * w)
    for k, sign in enumerate((1.0, -1.0)):
        geom = body.add_geom(name=f"{name}_head_top_{k}", type=mujoco.mjtGeom.mjGEOM_BOX,
                             pos=[0.0, sign * (0.5 * w + half_w), h - 0.5 * d],
                             size=[r * math.cos(math.pi / 8), half_w, 0.5 * d],
                             mass=0.25 * head_mass, rgba=list(RGBA[SCREW]))  # fmt: skip
        cc.set_object_contact(geom)
    body.add_geom(name=f"{name}_slot", type=mujoco.mjtGeom.mjGEOM_BOX, contype=0,
                  conaffinity=0, pos=[0.0, 0.0, h - 0.5 * d], mass=0.0,
                  size=[r * 0.98, 0.5 * w, 0.5 * d], rgba=list(_RGBA_DARK))  # fmt: skip
    shank = body.add_geom(name=f"{name}_shank", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                          pos=[0.0, 0.0, -0.5 * SCREW_SHANK_LENGTH],
                          size=[STUD_RADIUS, 0.5 * SCREW_SHANK_LENGTH, 0.0],
                          mass=SCREW_MASS - head_mass, rgba=list(RGBA_STUD))  # fmt: skip
    cc.set_object_contact(shank)
    body.add_site(name=f"{name}_grip", pos=[0.0, 0.0, h - d], size=[0.002, 0, 0], group=4)


def _add_fastener(spec: mujoco.MjSpec, base: mujoco.MjsBody, name: str, kind: str,
                  pos: list[float], quat: list[float], thread: tuple[float, float, float],
                  stud: bool) -> FastenerNames:  # fmt: skip
    """One fastener of ``kind`` on ``base``: its thread carrier (hinge + slide along the
    frame's +z, coupled at ``thread`` = (pitch m, turns, dry friction N m)), the free fastener welded to the
    carrier, and a stud when ``stud``. ``pos``, ``quat``: the seated fastener's frame in
    the base's frame."""
    pitch, turns, friction = thread
    n = FastenerNames(name)
    if stud:
        stud_body = base.add_body(name=n.stud_body, pos=pos, quat=quat)
        geom = stud_body.add_geom(name=f"{name}_stud", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                                  pos=[0.0, 0.0, 0.5 * STUD_HEIGHT - SEAT_GAP],
                                  size=[STUD_RADIUS, 0.5 * STUD_HEIGHT, 0.0], rgba=list(RGBA_STUD))  # fmt: skip
        cc.set_object_contact(geom)
    carrier = base.add_body(name=n.carrier, pos=pos, quat=quat)
    carrier.add_joint(name=n.turn_joint, type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 0, 1],
                      armature=THREAD_ARMATURE, frictionloss=friction)  # fmt: skip
    carrier.add_joint(name=n.rise_joint, type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0, 0, 1],
                      range=[0.0, pitch * turns], limited=mujoco.mjtLimited.mjLIMITED_TRUE,
                      solref_limit=list(THREAD_SOLREF))  # fmt: skip
    carrier.add_geom(name=f"{name}_carrier", type=mujoco.mjtGeom.mjGEOM_SPHERE, contype=0,
                     conaffinity=0, size=[0.002, 0, 0], mass=CARRIER_MASS, group=4)  # fmt: skip
    # The fastener is a free body of the world (it is lifted away once released), posed
    # here as if the base were at the origin; reset seats it (ThreadBinding.seat).
    fastener = spec.worldbody.add_body(name=n.body, pos=pos, quat=quat)
    fastener.add_freejoint(name=n.freejoint)
    {WING_NUT: _build_wing_nut, KNOB: _build_knob, SCREW: _build_screw}[kind](fastener, name)
    coupling = [0.0, pitch / (2 * math.pi)] + [0.0] * (mujoco.mjNEQDATA - 2)
    spec.add_equality(name=n.coupling, type=mujoco.mjtEq.mjEQ_JOINT, name1=n.rise_joint,
                      name2=n.turn_joint, data=coupling,
                      solref=list(THREAD_SOLREF), solimp=list(THREAD_SOLIMP))  # fmt: skip
    # relpose (data[3:10]) is the identity: the fastener's frame is the carrier's.
    spec.add_equality(name=n.weld, type=mujoco.mjtEq.mjEQ_WELD, name1=n.body, name2=n.carrier,
                      objtype=mujoco.mjtObj.mjOBJ_BODY,
                      data=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
                      + [0.0] * (mujoco.mjNEQDATA - 11),
                      solref=list(THREAD_SOLREF), solimp=list(THREAD_SOLIMP))  # fmt: skip
    spec.add_exclude(bodyname1=n.body, bodyname2=n.stud_body if stud else base.name)
    return n


def add_assembly(spec: mujoco.MjSpec, kind: str = WING_NUT,
                 names: tuple[str, str] = ("nut_a", "nut_b")) -> dict[str, FastenerNames]:  # fmt: skip
    """Add the base block (mocap body ``assembly`` at the world origin; the task poses it
    at reset) and two fasteners of ``kind`` named ``names`` at :data:`FASTENER_Y`, seated
    and engaged. Returns their names by fastener."""
    if kind not in KINDS:
        raise ValueError(f"unknown fastener kind {kind!r}; kinds: {', '.join(KINDS)}")
    hx, hy, hz = BASE_HALF_SIZE
    top = 2 * hz
    base = spec.worldbody.add_body(name=ASSEMBLY_BODY, mocap=True)
    geom = base.add_geom(name=BASE_GEOM, type=mujoco.mjtGeom.mjGEOM_BOX, pos=[0.0, 0.0, hz],
                         size=[hx, hy, hz], rgba=list(RGBA_BASE))  # fmt: skip
    cc.set_object_contact(geom)
    base.add_site(name="assembly_steady", pos=[0.0, STEADY_Y, top], size=[0.003, 0, 0], group=4)
    seat = top + SEAT_GAP if kind in _ON_STUD else top
    thread = (SCREW_THREAD if kind == SCREW else (THREAD_PITCH, THREAD_TURNS, THREAD_FRICTIONLOSS))
    return {name: _add_fastener(spec, base, name, kind, [0.0, y, seat], [1.0, 0.0, 0.0, 0.0],
                                thread, stud=kind in _ON_STUD)
            for name, y in zip(names, FASTENER_Y)}  # fmt: skip


def fixture_panel_rotation() -> np.ndarray:
    """(3x3) the panel's frame in the fixture's frame (leaning back about +y)."""
    c, s = math.cos(FIXTURE_LEAN), math.sin(FIXTURE_LEAN)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def fixture_steady_point() -> tuple[np.ndarray, np.ndarray]:
    """(point, outward normal) of the steadying point on the panel's top edge, fixture frame."""
    R = fixture_panel_rotation()
    centre = np.array([0.0, FIXTURE_PANEL_Y, FIXTURE_PANEL_CENTRE_Z])
    return centre + R @ np.array([0.0, FIXTURE_STEADY_Y - FIXTURE_PANEL_Y, FIXTURE_PANEL_HALF[2]]), R[:, 2]


def add_screw_fixture(spec: mujoco.MjSpec, names: tuple[str, str] = ("screw_a", "screw_b")
                      ) -> dict[str, FastenerNames]:  # fmt: skip
    """Add the screw fixture (mocap body ``assembly`` at the world origin; the task poses
    it at reset): a foot plate on the table and a panel leaning back by
    :data:`FIXTURE_LEAN`, with two slotted screws in the panel's front (-x) face at
    :data:`FIXTURE_SCREW_Y`, their axes along the face's outward normal, seated and
    engaged. A drill held in a hand points its bit a little down (FR3 wrist limits keep a
    held drill from being levelled this close to the base), so the face leans back to
    meet it square. Returns the screws' names."""
    base = spec.worldbody.add_body(name=ASSEMBLY_BODY, mocap=True)
    fx, fy, fz = FIXTURE_FOOT_HALF
    foot = base.add_geom(name=FIXTURE_FOOT_GEOM, type=mujoco.mjtGeom.mjGEOM_BOX,
                         pos=[0.0, FIXTURE_FOOT_Y, fz], size=[fx, fy, fz], rgba=list(RGBA_BASE))  # fmt: skip
    cc.set_object_contact(foot)
    lean = [math.cos(0.5 * FIXTURE_LEAN), 0.0, math.sin(0.5 * FIXTURE_LEAN), 0.0]
    panel_rot = fixture_panel_rotation()
    px, py, pz = FIXTURE_PANEL_HALF
    centre = np.array([0.0, FIXTURE_PANEL_Y, FIXTURE_PANEL_CENTRE_Z])
    panel = base.add_geom(name=BASE_GEOM, type=mujoco.mjtGeom.mjGEOM_BOX, pos=list(centre),
                          quat=lean, size=[px, py, pz], rgba=list(RGBA_BASE))  # fmt: skip
    cc.set_object_contact(panel)
    base.add_site(name="assembly_steady", pos=list(fixture_steady_point()[0]), size=[0.003, 0, 0], group=4)
    # A screw's frame: +z along the face's outward normal (panel -x), +x along the panel's up.
    to_face = panel_rot @ np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    face_quat = np.empty(4)
    mujoco.mju_mat2Quat(face_quat, to_face.ravel())
    out = {}
    for name, y in zip(names, FIXTURE_SCREW_Y):
        seat = centre + panel_rot @ np.array([-px, y - FIXTURE_PANEL_Y, FIXTURE_SCREW_Z])
        out[name] = _add_fastener(spec, base, name, SCREW, list(seat), list(face_quat),
                                  SCREW_THREAD, stud=False)  # fmt: skip
    return out


@dataclasses.dataclass(frozen=True)
class ThreadBinding:
    """Ids and addresses of one fastener's thread, bound once after compile."""

    names: FastenerNames
    body: int
    qpos: int
    """qpos address of the fastener's free joint (position 3, quaternion 4)."""
    dof: int
    turn_qpos: int
    rise_qpos: int
    turn_dof: int
    rise_dof: int
    weld: int
    coupling: int
    grip_site: int
    pitch: float
    """Thread pitch, m per turn."""
    travel: float
    """Rise from seated to the top of the thread, m."""

    @classmethod
    def bind(cls, model: mujoco.MjModel, names: FastenerNames) -> ThreadBinding:
        free, turn, rise = (model.joint(j) for j in (names.freejoint, names.turn_joint, names.rise_joint))
        return cls(names, model.body(names.body).id, int(free.qposadr[0]), int(free.dofadr[0]),
                   int(turn.qposadr[0]), int(rise.qposadr[0]), int(turn.dofadr[0]),
                   int(rise.dofadr[0]), model.equality(names.weld).id,
                   model.equality(names.coupling).id, model.site(names.grip_site).id,
                   float(model.eq_data[model.equality(names.coupling).id][1] * 2 * math.pi),
                   float(model.jnt_range[rise.id][1]))  # fmt: skip

    def turn(self, data: mujoco.MjData) -> float:
        """Thread angle, rad (+: unscrewed counter-clockwise from the seated start)."""
        return float(data.qpos[self.turn_qpos])

    def rise(self, data: mujoco.MjData) -> float:
        """Thread rise above seated, m."""
        return float(data.qpos[self.rise_qpos])

    def engaged(self, data: mujoco.MjData) -> bool:
        """The fastener is still on its thread (welded to the carrier)."""
        return bool(data.eq_active[self.weld])

    def seat(self, model: mujoco.MjModel, data: mujoco.MjData, angle: float) -> None:
        """Engage the fastener at thread angle ``angle`` (rad, 0..2 pi turns): the
        carrier's joints on the thread, the fastener on the carrier, all at rest, weld
        active. Needs the assembly's mocap pose set; call ``mj_forward`` after."""
        rise = self.pitch / (2 * math.pi) * angle
        data.qpos[self.turn_qpos] = angle
        data.qpos[self.rise_qpos] = rise
        data.qvel[[self.turn_dof, self.rise_dof]] = 0.0
        data.eq_active[self.weld] = 1
        data.eq_active[self.coupling] = 1
        mujoco.mj_kinematics(model, data)
        carrier = model.body(self.names.carrier).id
        data.qpos[self.qpos : self.qpos + 3] = data.xpos[carrier]
        q = np.empty(4)
        mujoco.mju_mat2Quat(q, data.xmat[carrier])
        data.qpos[self.qpos + 3 : self.qpos + 7] = q
        data.qvel[self.dof : self.dof + 6] = 0.0

    def release_if_unscrewed(self, data: mujoco.MjData) -> bool:
        """Deactivate the weld once the thread is at its top; True when it did now."""
        if data.eq_active[self.weld] and data.qpos[self.rise_qpos] >= self.travel - RELEASE_MARGIN:
            data.eq_active[self.weld] = 0
            return True
        return False


def add_tray(spec: mujoco.MjSpec) -> None:
    """Add the tray (static body ``tray``, an open box of a floor and four low walls) at
    :data:`TRAY_CENTRE`; its frame is at the centre of the floor's underside."""
    x, y = TRAY_CENTRE
    body = spec.worldbody.add_body(name=TRAY_BODY, pos=[x, y, 0.0])
    outer = TRAY_INNER_HALF + 2 * TRAY_WALL_HALF_THICKNESS
    floor = body.add_geom(name="tray_floor", type=mujoco.mjtGeom.mjGEOM_BOX,
                          pos=[0.0, 0.0, TRAY_FLOOR_HALF_THICKNESS],
                          size=[outer, outer, TRAY_FLOOR_HALF_THICKNESS], rgba=list(RGBA_TRAY))  # fmt: skip
    cc.set_object_contact(floor)
    wall_centre = TRAY_INNER_HALF + TRAY_WALL_HALF_THICKNESS
    half_h = 0.5 * TRAY_WALL_HEIGHT
    for k, (sx, sy) in enumerate(((1, 0), (-1, 0), (0, 1), (0, -1))):
        size = [TRAY_WALL_HALF_THICKNESS, outer, half_h] if sx else [outer, TRAY_WALL_HALF_THICKNESS, half_h]
        wall = body.add_geom(name=f"tray_wall_{k}", type=mujoco.mjtGeom.mjGEOM_BOX,
                             pos=[sx * wall_centre, sy * wall_centre, half_h], size=size,
                             rgba=list(RGBA_TRAY))  # fmt: skip
        cc.set_object_contact(wall)
