"""Small parts to sort and their sorting bins, built in code with ``MjSpec``.

Four kinds of part, each a free body standing upright on the table: a hex coupling nut,
a hex bolt standing on its head, a compression spring and a spur gear (pinion). Every
collision shape is a box or a capsule (a hexagonal or octagonal prism is the union of
3 or 4 boxes turned about its axis), because MuJoCo collides those natively with the
table box and the fingertip pads with several contact points; cylinders and meshes
would rest on one convex-collision point and rock.

Sizes are real parts' (cited per kind); heights let the fingertip pads pinch them: a
palm-down thumb-index pad pinch puts the pads' centres >= 16 mm above the table before
the fingertips' round caps touch it, and a pad is 13 mm tall, so every part offers flat
or round faces 20-36 mm tall. Masses are 14-20 g, lighter than steel parts of these
sizes (physics_notes.md: gram-scale parts penetrate the pads by 2-9 mm; give them
10-20 g and squeeze them 0.1-0.3 rad past contact) - aluminium or plastic parts.

Part frame (body ``part_<kind>``, free joint ``part_<kind>_free``): origin at the centre
of the part's base on the table, +z up along its axis; its pinch directions repeat with
period :attr:`PartGeometry.pinch_period` in yaw. Site ``part_<kind>_grip`` marks the pinch point on
the axis at :attr:`PartGeometry.grip_height`.

Bins (static bodies ``bin_<kind>``): an open box of a floor plate and four low walls, a
hand can drop a part in from above; each bin and its part share a colour. Bin frame:
origin at the centre of the floor's underside (on the table), axes as the world's.

Units: m, kg, rad.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco

from handitl.assets import contact_constants as cc

KINDS: tuple[str, ...] = ("nut", "bolt", "spring", "gear")
"""The part kinds, in task order (one part and one bin of each)."""

# ---------------------------------------------------------------------------------------
# Hex coupling nut (DIN 6334, M12)
# ---------------------------------------------------------------------------------------
NUT_ACROSS_FLATS = 0.019
"""Width across flats, m (DIN 6334 M12: s = 19 mm); the pads pinch two opposite flats."""
NUT_LENGTH = 0.036
"""Length, m (DIN 6334 M12: 36 mm); the nut stands on one end face."""
NUT_BORE_RADIUS = 0.005
"""Visual bore radius, m (M12 minor diameter ~10.1 mm)."""
NUT_MASS = 0.020
"""kg: an aluminium one weighs ~23 g (steel ~66 g); physics_notes: 10-20 g."""

# ---------------------------------------------------------------------------------------
# Hex bolt (ISO 4017 / DIN 933, M10 x 40), standing on its head
# ---------------------------------------------------------------------------------------
BOLT_HEAD_ACROSS_FLATS = 0.016
"""Head width across flats, m (ISO 4017 M10: s = 16 mm)."""
BOLT_HEAD_HEIGHT = 0.0064
"""Head height, m (ISO 4017 M10: k = 6.4 mm)."""
BOLT_SHANK_RADIUS = 0.005
"""Shank radius, m (M10)."""
BOLT_SHANK_LENGTH = 0.040
"""Shank length under the head, m (M10 x 40)."""
BOLT_MASS = 0.020
"""kg: ~13 g in aluminium, ~34 g in steel; physics_notes: 10-20 g."""

# ---------------------------------------------------------------------------------------
# Compression spring (2.5 mm wire, 22 mm outside diameter, 30 mm free length)
# ---------------------------------------------------------------------------------------
SPRING_OUTER_DIAMETER = 0.022
"""Outside diameter, m; the collision shape is an octagonal prism of this width across
flats (the pinched coil is modelled rigid: a 2.5 mm-wire spring this short barely
shortens under a 1-2 N pinch)."""
SPRING_LENGTH = 0.030
"""Free length, m; the spring stands on one ground end."""
SPRING_WIRE_RADIUS = 0.00125
"""Wire radius, m (2.5 mm wire; visual coils only)."""
SPRING_COILS = 6
"""Number of (visual) coils."""
SPRING_MASS = 0.014
"""kg: 6 coils of 2.5 mm steel wire on a 19.5 mm mean diameter weigh ~14 g."""

# ---------------------------------------------------------------------------------------
# Spur gear (pinion, module 2, 12 teeth, 20 mm face width), lying on a face
# ---------------------------------------------------------------------------------------
GEAR_MODULE = 0.002
"""Module, m."""
GEAR_TEETH = 12
"""Tooth count; the pads pinch two opposite tooth tips."""
GEAR_FACE_WIDTH = 0.020
"""Face width (the gear's height on the table), m."""
GEAR_OUTER_RADIUS = 0.5 * GEAR_MODULE * (GEAR_TEETH + 2)
"""Tip radius, m (14 mm: tip diameter m (z + 2))."""
GEAR_ROOT_RADIUS = 0.5 * GEAR_MODULE * (GEAR_TEETH - 2.5)
"""Root radius, m (9.5 mm: root diameter m (z - 2.5))."""
GEAR_TOOTH_HALF_THICKNESS = 0.25 * math.pi * GEAR_MODULE
"""Half the tooth thickness, m (pi m / 2 at the pitch circle; teeth are boxes)."""
GEAR_BORE_RADIUS = 0.004
"""Visual bore radius, m."""
GEAR_MASS = 0.015
"""kg: ~11 g in POM (1.41 g/cm^3), ~63 g in steel; physics_notes: 10-20 g."""

# ---------------------------------------------------------------------------------------
# Bins
# ---------------------------------------------------------------------------------------
BIN_INNER_HALF = 0.045
"""Half of the bin's inside width (square), m: 9 cm inside, three times the widest part."""
BIN_WALL_HALF_THICKNESS = 0.002
"""Half thickness of the walls, m (4 mm plastic)."""
BIN_WALL_HEIGHT = 0.030
"""Height of the walls above the table, m: low, so a hand drops parts in from above."""
BIN_FLOOR_HALF_THICKNESS = 0.0015
"""Half thickness of the floor plate, m (3 mm)."""
BIN_SPACING = 0.105
"""Distance between neighbouring bins' centres, m (1.7 cm between their walls)."""
BIN_GRID_CENTRE = (0.52, 0.0)
"""Centre of the 2 x 2 bin grid on the table, m (world x, y): on the centre line, within
reach of both arms."""
BIN_CENTRES: dict[str, tuple[float, float]] = {
    "nut": (BIN_GRID_CENTRE[0] - 0.5 * BIN_SPACING, BIN_GRID_CENTRE[1] - 0.5 * BIN_SPACING),
    "bolt": (BIN_GRID_CENTRE[0] + 0.5 * BIN_SPACING, BIN_GRID_CENTRE[1] - 0.5 * BIN_SPACING),
    "spring": (BIN_GRID_CENTRE[0] - 0.5 * BIN_SPACING, BIN_GRID_CENTRE[1] + 0.5 * BIN_SPACING),
    "gear": (BIN_GRID_CENTRE[0] + 0.5 * BIN_SPACING, BIN_GRID_CENTRE[1] + 0.5 * BIN_SPACING),
}
"""World (x, y) of each kind's bin centre, m."""

RGBA: dict[str, tuple[float, float, float, float]] = {
    "nut": (0.85, 0.25, 0.20, 1.0),
    "bolt": (0.20, 0.45, 0.85, 1.0),
    "spring": (0.95, 0.75, 0.15, 1.0),
    "gear": (0.25, 0.70, 0.35, 1.0),
}
"""Colour of each kind's part and bin (bins are drawn lighter)."""
_RGBA_DARK = (0.12, 0.12, 0.13, 1.0)


@dataclasses.dataclass(frozen=True)
class PartGeometry:
    """What a hand needs to know to pinch a part (part frame, m, rad, kg)."""

    kind: str
    height: float
    """Top of the part above its base."""
    pinch_width: float
    """Distance between the two faces the pads pinch."""
    grip_height: float
    """Height above the base of the pinch point (centre of the pads' contact)."""
    pinch_period: float
    """Yaw period of the pinch directions (the part's symmetry about +z where it is
    pinched); 0: any direction (a round face)."""
    pinch_yaw: float
    """Yaw (part frame) of a pinch axis across two pinchable faces (flats, tooth tips)."""
    mass: float


GEOMETRY: dict[str, PartGeometry] = {
    "nut": PartGeometry("nut", NUT_LENGTH, NUT_ACROSS_FLATS, 0.020, math.pi / 3, 0.0, NUT_MASS),
    "bolt": PartGeometry("bolt", BOLT_HEAD_HEIGHT + BOLT_SHANK_LENGTH, 2 * BOLT_SHANK_RADIUS,
                         0.030, 0.0, 0.0, BOLT_MASS),
    "spring": PartGeometry("spring", SPRING_LENGTH, SPRING_OUTER_DIAMETER, 0.019, math.pi / 4,
                           0.0, SPRING_MASS),
    "gear": PartGeometry("gear", GEAR_FACE_WIDTH, 2 * GEAR_OUTER_RADIUS, 0.0165,
                         2 * math.pi / GEAR_TEETH, 0.0, GEAR_MASS),
}  # fmt: skip
"""Pinch geometry of each kind. Grip heights put the pads' centres 16.5-30 mm up: above
the 16 mm the fingertip caps need, inside the part's pinchable faces (the bolt's
shank, clear of its head)."""


@dataclasses.dataclass(frozen=True)
class PartNames:
    """Names of one part's and its bin's elements in the compiled model."""

    kind: str

    @property
    def body(self) -> str:
        return f"part_{self.kind}"

    @property
    def freejoint(self) -> str:
        return f"part_{self.kind}_free"

    @property
    def grip_site(self) -> str:
        return f"part_{self.kind}_grip"

    @property
    def bin_body(self) -> str:
        return f"bin_{self.kind}"

    @property
    def bin_site(self) -> str:
        return f"bin_{self.kind}_centre"


NAMES: dict[str, PartNames] = {kind: PartNames(kind) for kind in KINDS}


def _quat_z(angle: float) -> list[float]:
    return [math.cos(0.5 * angle), 0.0, 0.0, math.sin(0.5 * angle)]


def _add_prism(body: mujoco.MjsBody, name: str, sides: int, across_flats: float, z0: float,
               z1: float, mass: float, rgba: tuple[float, ...]) -> list[mujoco.MjsGeom]:  # fmt: skip
    """A regular prism with ``sides`` (even) flats, from z0 to z1 on the body's z axis: the
    union of sides/2 boxes of width ``across_flats`` and one side's length, turned by
    2 pi / sides from each other; one flat faces +x."""
    side_length = across_flats * math.tan(math.pi / sides)
    boxes = sides // 2
    geoms = []
    for k in range(boxes):
        geom = body.add_geom(name=f"{name}_{k}", type=mujoco.mjtGeom.mjGEOM_BOX,
                             pos=[0.0, 0.0, 0.5 * (z0 + z1)], quat=_quat_z(k * math.pi / boxes),
                             size=[0.5 * across_flats, 0.5 * side_length, 0.5 * (z1 - z0)],
                             mass=mass / boxes, rgba=list(rgba))  # fmt: skip
        cc.set_object_contact(geom)
        geoms.append(geom)
    return geoms


def _add_visual_disc(body: mujoco.MjsBody, name: str, radius: float, z: float) -> None:
    body.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_CYLINDER, contype=0, conaffinity=0,
                  size=[radius, 0.0005, 0.0], pos=[0.0, 0.0, z], mass=0.0,
                  rgba=list(_RGBA_DARK))  # fmt: skip


def _build_nut(body: mujoco.MjsBody) -> None:
    _add_prism(body, "part_nut", 6, NUT_ACROSS_FLATS, 0.0, NUT_LENGTH, NUT_MASS, RGBA["nut"])
    _add_visual_disc(body, "part_nut_bore", NUT_BORE_RADIUS, NUT_LENGTH)


def _build_bolt(body: mujoco.MjsBody) -> None:
    head_volume = 0.5 * math.sqrt(3) * BOLT_HEAD_ACROSS_FLATS**2 * BOLT_HEAD_HEIGHT
    shank_volume = math.pi * BOLT_SHANK_RADIUS**2 * BOLT_SHANK_LENGTH
    head_mass = BOLT_MASS * head_volume / (head_volume + shank_volume)
    _add_prism(body, "part_bolt_head", 6, BOLT_HEAD_ACROSS_FLATS, 0.0, BOLT_HEAD_HEIGHT,
               head_mass, RGBA["bolt"])  # fmt: skip
    r = BOLT_SHANK_RADIUS
    # The capsule's lower cap lies inside the head; its upper cap is the chamfered end.
    half = 0.5 * BOLT_SHANK_LENGTH - 0.5 * r
    shank = body.add_geom(name="part_bolt_shank", type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                          pos=[0.0, 0.0, BOLT_HEAD_HEIGHT + BOLT_SHANK_LENGTH - r - half],
                          size=[r, half, 0.0], mass=BOLT_MASS - head_mass,
                          rgba=[0.75, 0.78, 0.82, 1.0])  # fmt: skip
    cc.set_object_contact(shank)


def _build_spring(body: mujoco.MjsBody) -> None:
    _add_prism(body, "part_spring", 8, SPRING_OUTER_DIAMETER, 0.0, SPRING_LENGTH, SPRING_MASS,
               (*RGBA["spring"][:3], 0.35))  # fmt: skip
    # Visual coils: thin tilted discs at the coils' pitch, so the part reads as a spring.
    pitch = SPRING_LENGTH / SPRING_COILS
    radius = 0.5 * SPRING_OUTER_DIAMETER + 0.0003
    for k in range(SPRING_COILS):
        z = (k + 0.5) * pitch
        body.add_geom(name=f"part_spring_coil_{k}", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                      contype=0, conaffinity=0, size=[radius, SPRING_WIRE_RADIUS, 0.0],
                      pos=[0.0, 0.0, z], quat=[math.cos(0.05), math.sin(0.05), 0.0, 0.0],
                      mass=0.0, rgba=list(RGBA["spring"]))  # fmt: skip


def _build_gear(body: mujoco.MjsBody) -> None:
    tooth_depth = GEAR_OUTER_RADIUS - GEAR_ROOT_RADIUS
    hub_volume = math.pi * GEAR_ROOT_RADIUS**2
    tooth_volume = 2 * GEAR_TOOTH_HALF_THICKNESS * (tooth_depth + 0.001)
    hub_mass = GEAR_MASS * hub_volume / (hub_volume + GEAR_TEETH * tooth_volume)
    tooth_mass = (GEAR_MASS - hub_mass) / GEAR_TEETH
    _add_prism(body, "part_gear_hub", 8, 2 * GEAR_ROOT_RADIUS, 0.0, GEAR_FACE_WIDTH, hub_mass,
               RGBA["gear"])  # fmt: skip
    # Teeth: boxes reaching 1 mm into the hub, one on +x (the pinch axis of pinch_yaw 0).
    half_radial = 0.5 * (tooth_depth + 0.001)
    centre = GEAR_OUTER_RADIUS - half_radial
    for k in range(GEAR_TEETH):
        a = 2 * math.pi * k / GEAR_TEETH
        geom = body.add_geom(name=f"part_gear_tooth_{k}", type=mujoco.mjtGeom.mjGEOM_BOX,
                             pos=[centre * math.cos(a), centre * math.sin(a), 0.5 * GEAR_FACE_WIDTH],
                             quat=_quat_z(a),
                             size=[half_radial, GEAR_TOOTH_HALF_THICKNESS, 0.5 * GEAR_FACE_WIDTH],
                             mass=tooth_mass, rgba=list(RGBA["gear"]))  # fmt: skip
        cc.set_object_contact(geom)
    _add_visual_disc(body, "part_gear_bore", GEAR_BORE_RADIUS, GEAR_FACE_WIDTH)


_BUILDERS = {"nut": _build_nut, "bolt": _build_bolt, "spring": _build_spring, "gear": _build_gear}


def add_part(spec: mujoco.MjSpec, kind: str) -> PartNames:
    """Add one part (free body) standing at the world origin; the task poses it at reset."""
    names = NAMES[kind]
    body = spec.worldbody.add_body(name=names.body)
    body.add_freejoint(name=names.freejoint)
    _BUILDERS[kind](body)
    body.add_site(name=names.grip_site, pos=[0.0, 0.0, GEOMETRY[kind].grip_height],
                  size=[0.002, 0, 0], group=4)  # fmt: skip
    return names


def add_bin(spec: mujoco.MjSpec, kind: str) -> PartNames:
    """Add ``kind``'s bin (a static open box) at :data:`BIN_CENTRES` on the table."""
    names = NAMES[kind]
    x, y = BIN_CENTRES[kind]
    body = spec.worldbody.add_body(name=names.bin_body, pos=[x, y, 0.0])
    rgba = [0.55 + 0.45 * c for c in RGBA[kind][:3]] + [1.0]
    outer = BIN_INNER_HALF + 2 * BIN_WALL_HALF_THICKNESS
    floor = body.add_geom(name=f"bin_{kind}_floor", type=mujoco.mjtGeom.mjGEOM_BOX,
                          pos=[0.0, 0.0, BIN_FLOOR_HALF_THICKNESS],
                          size=[outer, outer, BIN_FLOOR_HALF_THICKNESS], rgba=rgba)  # fmt: skip
    cc.set_object_contact(floor)
    wall_centre = BIN_INNER_HALF + BIN_WALL_HALF_THICKNESS
    half_h = 0.5 * BIN_WALL_HEIGHT
    for k, (sx, sy) in enumerate(((1, 0), (-1, 0), (0, 1), (0, -1))):
        size = [BIN_WALL_HALF_THICKNESS, outer, half_h] if sx else [outer, BIN_WALL_HALF_THICKNESS, half_h]
        wall = body.add_geom(name=f"bin_{kind}_wall_{k}", type=mujoco.mjtGeom.mjGEOM_BOX,
                             pos=[sx * wall_centre, sy * wall_centre, half_h], size=size,
                             rgba=rgba)  # fmt: skip
        cc.set_object_contact(wall)
    body.add_site(name=names.bin_site, pos=[0.0, 0.0, 2 * BIN_FLOOR_HALF_THICKNESS],
                  size=[0.003, 0, 0], group=4)  # fmt: skip
    return names


def add_parts_and_bins(spec: mujoco.MjSpec) -> dict[str, PartNames]:
    """Add one part and one bin of every kind in :data:`KINDS`; returns their names."""
    for kind in KINDS:
        add_bin(spec, kind)
        add_part(spec, kind)
    return dict(NAMES)
