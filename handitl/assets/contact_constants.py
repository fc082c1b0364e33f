"""Contact and solver settings shared by hands, props and the scene.

Source: ``shared/docs/physics_notes.md`` (measured on these machines with MuJoCo 3.17
and a 21-DoF capsule hand): MuJoCo's defaults (pyramidal cone, impratio 1, solref
0.02) drop 20/20 power grasps of a 1.5 kg cylinder; the values below hold 20/20 with
< 1 mm penetration. Set them on the hand AND on object geoms: MuJoCo averages the two.
"""

from __future__ import annotations

import mujoco

TIMESTEP = 0.002
"""Physics step, s (500 Hz, design.md section 4)."""
IMPRATIO = 10.0
"""Elliptic-cone impedance ratio; 20-50 cuts hold slip further at some speed cost."""
SOLVER_ITERATIONS = 100
LS_ITERATIONS = 50

SOLREF = (0.005, 1.0)
"""Contact (timeconst s, dampratio); keep timeconst >= 2 * timestep."""
SOLIMP = (0.95, 0.99, 0.001, 0.5, 2.0)
FRICTION = (1.0, 0.02, 0.001)
"""(sliding, torsional, rolling); 0.8-1.5 sliding all hold."""
CONDIM = 4
"""Sliding + torsional friction on phalanges and objects."""
CONDIM_PAD = 6
"""Fingertip pads also resist rolling, which pinches need."""

# Collision filtering bits. Robots (arm links, hand geoms) collide with the world and
# objects but not with each other through the broadphase: finger-finger contacts that
# matter are listed as explicit pairs by each hand, and arm-arm distance is a safety
# limit of the controller, not a contact.
CONTYPE_WORLD = 1 << 0
CONTYPE_ROBOT = 1 << 1


def apply_physics_options(spec: mujoco.MjSpec) -> None:
    """Set the solver options that make capsule-hand grasps hold (see module doc)."""
    spec.option.timestep = TIMESTEP
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = IMPRATIO
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.solver = mujoco.mjtSolver.mjSOL_NEWTON
    spec.option.iterations = SOLVER_ITERATIONS
    spec.option.ls_iterations = LS_ITERATIONS
    spec.option.noslip_iterations = 0


def set_robot_contact(geom: mujoco.MjsGeom, *, pad: bool = False) -> None:
    """Contact parameters for a robot geom (hand phalanx, pad, or arm link)."""
    geom.contype = CONTYPE_ROBOT
    geom.conaffinity = CONTYPE_WORLD
    geom.condim = CONDIM_PAD if pad else CONDIM
    geom.friction = FRICTION
    geom.solref = SOLREF
    geom.solimp = SOLIMP
    geom.margin = 0.0


def set_object_contact(geom: mujoco.MjsGeom, *, condim: int = CONDIM) -> None:
    """Contact parameters for a world or object geom: touches robots and other objects."""
    geom.contype = CONTYPE_WORLD
    geom.conaffinity = CONTYPE_WORLD | CONTYPE_ROBOT
    geom.condim = condim
    geom.friction = FRICTION
    geom.solref = SOLREF
    geom.solimp = SOLIMP
    geom.margin = 0.0
