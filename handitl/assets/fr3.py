"""The FR3 arm built in code from its DH parameters (see :mod:`fr3_constants`)."""

from __future__ import annotations

import math

import mujoco
import numpy as np

from handitl.assets import contact_constants as cc
from handitl.assets import fr3_constants as fr3

PREFIX = "fr3_"
FLANGE_BODY = f"{PREFIX}flange"
FLANGE_SITE = f"{PREFIX}flange"
BASE_BODY = f"{PREFIX}link0"
JOINT_NAMES: tuple[str, ...] = tuple(f"{PREFIX}joint{i + 1}" for i in range(fr3.NUM_JOINTS))
ACTUATOR_NAMES: tuple[str, ...] = tuple(f"{PREFIX}act{i + 1}" for i in range(fr3.NUM_JOINTS))
LINK_RGBA = (0.92, 0.92, 0.94, 1.0)
JOINT_RGBA = (0.25, 0.25, 0.28, 1.0)


def _rotx_quat(angle: float) -> list[float]:
    """Quaternion (w, x, y, z) of a rotation by ``angle`` rad about x."""
    return [math.cos(angle / 2), math.sin(angle / 2), 0.0, 0.0]


def _capsule_volume(p0: np.ndarray, p1: np.ndarray, radius: float) -> float:
    length = float(np.linalg.norm(p1 - p0))
    return math.pi * radius**2 * length + 4.0 / 3.0 * math.pi * radius**3


def _add_link_geoms(body: mujoco.MjsBody, link: str, mass: float) -> None:
    """Capsules of one link; the link mass is split over them by volume."""
    capsules = fr3.LINK_CAPSULES[link]
    volumes = [_capsule_volume(np.array(a), np.array(b), r) for a, b, r in capsules]
    for k, ((a, b, r), volume) in enumerate(zip(capsules, volumes)):
        geom = body.add_geom(
            name=f"{PREFIX}{link}_c{k}",
            type=mujoco.mjtGeom.mjGEOM_CAPSULE,
            fromto=[*a, *b],
            size=[r, 0.0, 0.0],
            mass=mass * volume / sum(volumes),
            rgba=LINK_RGBA if k == 0 else JOINT_RGBA,
        )
        cc.set_robot_contact(geom)


def build_fr3() -> mujoco.MjSpec:
    """Return a spec of one FR3 whose base (``fr3_link0``) sits at the spec's origin.

    Bodies ``fr3_link0..7`` follow the Craig DH frames, so joint i turns about the z axis
    of ``fr3_link{i}``. The flange body/site ``fr3_flange`` is the attachment point for a
    hand (z out of the flange). Each joint has a position servo ``fr3_act{i}`` whose
    control is the target angle in rad and whose force is limited to the joint's rated
    torque. Every body compensates gravity, as the FR3's own controller does.
    """
    spec = mujoco.MjSpec()
    spec.modelname = "fr3"
    spec.compiler.degree = False  # MjSpec defaults to degrees; all our angles are rad
    parent = spec.worldbody.add_body(name=BASE_BODY)
    _add_link_geoms(parent, "link0", fr3.BASE_MASS)
    for i in range(fr3.NUM_JOINTS):
        alpha, a, d = fr3.DH_ALPHA[i], fr3.DH_A[i], fr3.DH_D[i]
        body = parent.add_body(
            name=f"{PREFIX}link{i + 1}",
            pos=[a, -math.sin(alpha) * d, math.cos(alpha) * d],
            quat=_rotx_quat(alpha),
            gravcomp=1.0,
        )
        body.add_joint(
            name=JOINT_NAMES[i],
            type=mujoco.mjtJoint.mjJNT_HINGE,
            axis=[0.0, 0.0, 1.0],
            range=[fr3.JOINT_LOWER[i], fr3.JOINT_UPPER[i]],
            limited=mujoco.mjtLimited.mjLIMITED_TRUE,
            armature=fr3.ARMATURE[i],
            damping=fr3.JOINT_DAMPING[i],
        )
        _add_link_geoms(body, f"link{i + 1}", fr3.LINK_MASS[i])
        parent = body
    flange = parent.add_body(name=FLANGE_BODY, pos=[0.0, 0.0, fr3.FLANGE_D], gravcomp=1.0)
    flange.add_site(name=FLANGE_SITE, size=[0.01, 0.0, 0.0], rgba=[1, 0.4, 0, 0.4], group=4)
    for i in range(fr3.NUM_JOINTS):
        _add_servo(spec, i)
    return spec


def _add_servo(spec: mujoco.MjSpec, i: int) -> None:
    kp = fr3.SERVO_KP[i]
    inertia = fr3.ARMATURE[i] + fr3.NOMINAL_JOINT_INERTIA[i]
    kv = 2.0 * fr3.SERVO_DAMPING_RATIO * math.sqrt(kp * inertia)
    act = spec.add_actuator(name=ACTUATOR_NAMES[i], target=JOINT_NAMES[i],
                            trntype=mujoco.mjtTrn.mjTRN_JOINT)  # fmt: skip
    act.set_to_position(kp=kp, kv=kv)
    act.ctrlrange = [fr3.JOINT_LOWER[i], fr3.JOINT_UPPER[i]]
    act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
    act.forcerange = [-fr3.TORQUE_LIMIT[i], fr3.TORQUE_LIMIT[i]]
    act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
