"""A cordless power drill built in code: battery base, pistol handle, motor housing,
a motor-driven chuck with a bit, and a spring-loaded trigger.

Drill frame (body ``drill``): origin at the centre of the battery's underside, +z up
along the handle, +x along the chuck (the way the bit points), +y to the drill's left.
The drill stands upright on its battery, so a right hand grasps the handle from the
drill's right side (-y): palm on the -y face, fingers wrapping the front (+x) face,
where the trigger is, index finger uppermost, thumb around the back.

Sizes are metres, masses kg, stiffness N/m, damping N s/m, torques Nm.
Sources: ``shared/docs/physics_notes.md`` (handle 4 x 3 x 12 cm and a 1.4 kg drill hold
20/20 with the project's contact settings; trigger spring and limit values measured to
be pressable by a position-servoed index finger); overall proportions and masses of a
typical 18 V compact drill-driver (about 1.3-1.5 kg with a 2 Ah battery).
"""

from __future__ import annotations

import dataclasses
import math

import mujoco

from handitl.assets import contact_constants as cc

PREFIX = "drill_"
"""Every name of the prop starts with this."""

# ---------------------------------------------------------------------------------------
# Geometry and masses (drill frame, half sizes)
# ---------------------------------------------------------------------------------------
BATTERY_HALF = (0.055, 0.040, 0.025)
"""Battery pack box, m: 11 x 8 x 5 cm, a compact 18 V 2 Ah pack; a wide base to stand on."""
BATTERY_POS = (0.0, 0.0, 0.025)
BATTERY_MASS = 0.40
"""kg: 2 Ah 18 V packs weigh 0.35-0.45 kg."""
HANDLE_HALF = (0.020, 0.015, 0.060)
"""Handle box, m: 4 (front-back) x 3 (side-side) x 12 (height) cm (physics_notes: holds)."""
HANDLE_POS = (0.0, 0.0, 0.110)
"""Handle centre: on top of the battery (2 * 0.025 + 0.060)."""
HANDLE_MASS = 0.20
HOUSING_RADIUS = 0.030
"""Motor housing cylinder along +x, m (6 cm diameter)."""
HOUSING_HALF_LENGTH = 0.080
HOUSING_POS = (0.025, 0.0, 0.200)
"""Housing axis at z = 0.20: it rests on the handle top (0.17 + 0.03); its back end
(x = -0.055) stays just behind the handle so the thumb can wrap the back of the handle."""
HOUSING_MASS = 0.55
"""kg: motor and gearbox are the heaviest part after the battery."""
CHUCK_POS = (0.120, 0.0, 0.200)
"""Chuck body origin (hinge on the housing's front face + chuck half length)."""
CHUCK_RADIUS = 0.018
CHUCK_HALF_LENGTH = 0.015
CHUCK_MASS = 0.10
BIT_RADIUS = 0.003
BIT_HALF_LENGTH = 0.030
BIT_MASS = 0.01
GRIP_POINT = (0.0, -HANDLE_HALF[1], 0.115)
"""Site ``drill_grip`` on the handle's right (-y) face where the palm goes, m."""

# ---------------------------------------------------------------------------------------
# Trigger (physics_notes.md, "drill trigger")
# ---------------------------------------------------------------------------------------
TRIGGER_TRAVEL = 0.010
"""Slide range 0-10 mm into the handle; pressed fraction = qpos / TRIGGER_TRAVEL."""
TRIGGER_STIFFNESS = 800.0
"""N/m (physics_notes)."""
TRIGGER_SPRINGREF = -0.006
"""m: the spring pulls toward -6 mm, so the trigger rests on its 0 mm stop with 4.8 N preload."""
TRIGGER_DAMPING = 2.0
TRIGGER_ARMATURE = 0.01
TRIGGER_LIMIT_SOLREF = (0.005, 1.0)
"""A stiff travel stop (physics_notes)."""
TRIGGER_HALF = (0.006, 0.012, 0.009)
"""Trigger box, m: 12 mm proud of the handle's front face, 2.4 cm wide (across the finger:
the index lands anywhere on it), 1.8 cm tall (the middle finger stays below it)."""
TRIGGER_Z = 0.135
"""Trigger centre height, m: 3.5 cm under the motor housing, so that a hand whose index
lies on it keeps its thumb's base clear of the housing's underside."""
TRIGGER_MASS = 0.01
PRESSED_FRACTION = 0.8
"""The motor runs while the trigger is pressed at least this far (physics_notes)."""

# ---------------------------------------------------------------------------------------
# Motor
# ---------------------------------------------------------------------------------------
MOTOR_SPEED = 40.0
"""Chuck speed while the trigger is pressed, rad/s (~380 rpm, low gear of a drill-driver)."""
MOTOR_KV = 0.02
"""Velocity-servo gain, Nm s/rad: reaches speed in ~10 ms with the chuck's inertia."""
MOTOR_TORQUE_LIMIT = 0.5
"""Nm; a free-running chuck needs little torque, and it keeps the reaction on the hand small."""
CHUCK_ARMATURE = 1e-4
"""Reflected motor inertia, kg m^2 (keeps the gram-scale chuck hinge stable)."""
CHUCK_DAMPING = 1e-3

TOTAL_MASS = BATTERY_MASS + HANDLE_MASS + HOUSING_MASS + CHUCK_MASS + BIT_MASS + TRIGGER_MASS
"""1.27 kg."""

_RGBA_BODY = (0.95, 0.62, 0.10, 1.0)
_RGBA_DARK = (0.15, 0.15, 0.16, 1.0)
_RGBA_METAL = (0.70, 0.72, 0.75, 1.0)
_RGBA_TRIGGER = (0.85, 0.15, 0.12, 1.0)


@dataclasses.dataclass(frozen=True)
class DrillNames:
    """Names of the prop's elements in the compiled model."""

    body: str = PREFIX.rstrip("_")
    freejoint: str = PREFIX + "free"
    handle_geom: str = PREFIX + "handle"
    trigger_geom: str = PREFIX + "trigger"
    trigger_joint: str = PREFIX + "trigger"
    chuck_joint: str = PREFIX + "chuck"
    motor: str = PREFIX + "motor"
    grip_site: str = PREFIX + "grip"
    bit_tip_site: str = PREFIX + "bit_tip"


NAMES = DrillNames()


def add_drill(spec: mujoco.MjSpec, pos: tuple[float, float, float] = (0.45, -0.27, 0.0),
              yaw: float = 0.0) -> DrillNames:  # fmt: skip
    """Add the drill as a free body to ``spec`` (radians), standing upright at ``pos``
    (battery underside centre, world frame, m) turned by ``yaw`` (rad) about +z.

    Adds the ``drill_motor`` velocity actuator on the chuck hinge (ctrl: rad/s).
    Returns the element names.
    """
    half = 0.5 * yaw
    drill = spec.worldbody.add_body(name=NAMES.body, pos=list(pos),
                                    quat=[math.cos(half), 0.0, 0.0, math.sin(half)])  # fmt: skip
    drill.add_freejoint(name=NAMES.freejoint)
    geoms = [
        drill.add_geom(name=PREFIX + "battery", type=mujoco.mjtGeom.mjGEOM_BOX,
                       size=list(BATTERY_HALF), pos=list(BATTERY_POS), mass=BATTERY_MASS,
                       rgba=list(_RGBA_DARK)),
        drill.add_geom(name=NAMES.handle_geom, type=mujoco.mjtGeom.mjGEOM_BOX,
                       size=list(HANDLE_HALF), pos=list(HANDLE_POS), mass=HANDLE_MASS,
                       rgba=list(_RGBA_BODY)),
        drill.add_geom(name=PREFIX + "housing", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                       size=[HOUSING_RADIUS, HOUSING_HALF_LENGTH, 0.0], pos=list(HOUSING_POS),
                       quat=[math.sqrt(0.5), 0.0, math.sqrt(0.5), 0.0], mass=HOUSING_MASS,
                       rgba=list(_RGBA_BODY)),
    ]  # fmt: skip
    drill.add_site(name=NAMES.grip_site, pos=list(GRIP_POINT), size=[0.006, 0, 0],
                   rgba=[0.1, 0.8, 0.2, 0.6], group=4)  # fmt: skip

    trigger = drill.add_body(name=PREFIX + "trigger",
                             pos=[HANDLE_HALF[0] + TRIGGER_HALF[0], 0.0, TRIGGER_Z])  # fmt: skip
    trigger.add_joint(name=NAMES.trigger_joint, type=mujoco.mjtJoint.mjJNT_SLIDE,
                      axis=[-1.0, 0.0, 0.0], range=[0.0, TRIGGER_TRAVEL], limited=1,
                      stiffness=TRIGGER_STIFFNESS, springref=TRIGGER_SPRINGREF,
                      damping=TRIGGER_DAMPING, armature=TRIGGER_ARMATURE,
                      solref_limit=list(TRIGGER_LIMIT_SOLREF))  # fmt: skip
    geoms.append(trigger.add_geom(name=NAMES.trigger_geom, type=mujoco.mjtGeom.mjGEOM_BOX,
                                  size=list(TRIGGER_HALF), mass=TRIGGER_MASS,
                                  rgba=list(_RGBA_TRIGGER)))  # fmt: skip

    chuck = drill.add_body(name=PREFIX + "chuck", pos=list(CHUCK_POS))
    chuck.add_joint(name=NAMES.chuck_joint, type=mujoco.mjtJoint.mjJNT_HINGE, axis=[1.0, 0.0, 0.0],
                    armature=CHUCK_ARMATURE, damping=CHUCK_DAMPING)  # fmt: skip
    along_x = [math.sqrt(0.5), 0.0, math.sqrt(0.5), 0.0]
    geoms.append(chuck.add_geom(name=PREFIX + "chuck", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                                size=[CHUCK_RADIUS, CHUCK_HALF_LENGTH, 0.0], quat=along_x,
                                mass=CHUCK_MASS, rgba=list(_RGBA_DARK)))  # fmt: skip
    bit_x = CHUCK_HALF_LENGTH + BIT_HALF_LENGTH
    geoms.append(chuck.add_geom(name=PREFIX + "bit", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                                size=[BIT_RADIUS, BIT_HALF_LENGTH, 0.0], pos=[bit_x, 0.0, 0.0],
                                quat=along_x, mass=BIT_MASS, rgba=list(_RGBA_METAL)))  # fmt: skip
    chuck.add_site(name=NAMES.bit_tip_site, pos=[bit_x + BIT_HALF_LENGTH, 0.0, 0.0],
                   size=[0.003, 0, 0], group=4)  # fmt: skip
    for geom in geoms:
        cc.set_object_contact(geom)

    spec.add_actuator(name=NAMES.motor, target=NAMES.chuck_joint,
                      trntype=mujoco.mjtTrn.mjTRN_JOINT,
                      gaintype=mujoco.mjtGain.mjGAIN_FIXED, gainprm=[MOTOR_KV] + [0.0] * 9,
                      biastype=mujoco.mjtBias.mjBIAS_AFFINE,
                      biasprm=[0.0, 0.0, -MOTOR_KV] + [0.0] * 7,
                      ctrlrange=[-2.0 * MOTOR_SPEED, 2.0 * MOTOR_SPEED], ctrllimited=1,
                      forcerange=[-MOTOR_TORQUE_LIMIT, MOTOR_TORQUE_LIMIT], forcelimited=1)  # fmt: skip
    return NAMES
