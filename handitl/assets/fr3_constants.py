"""Franka Research 3 (FR3) arm constants.

Sources:
* [DH] Kinematics, joint position/velocity/torque limits: Franka Robotics, "Robot and
  interface specifications" (FR3 datasheet values, modified/Craig DH convention), as
  restated in ``shared/docs/design.md`` section 4.
* [GAZ19] Link masses: C. Gaz, M. Cognetti, A. Oliva, P. Robuffo Giordano, A. De Luca,
  "Dynamic identification of the Franka Emika Panda robot with retrieval of feasible
  parameters using penalty-based optimization", IEEE RA-L 4(4), 2019 (Panda; the FR3
  shares the Panda's link structure; franka_description uses these numbers for both).
  Link inertias are those of the capsule collision geometry at that mass (computed by
  MuJoCo from the geoms), a plausible stand-in for the CAD tensors.
* [REFL] Reflected rotor inertia per axis, Franka FR3 data as given in Drake's
  franka_description README; used as joint armature.
* [LIBFRANKA] Joint impedance stiffness of libfranka's example controllers
  (600 Nm/rad on the base axes, 250/150/50 on the wrist), used as servo gains.
"""

from __future__ import annotations

import math

import numpy as np

NUM_JOINTS = 7

# --- kinematics [DH]: frame i = RotX(alpha_i) TransX(a_i) TransZ(d_i) RotZ(q_i) ------
DH_A = np.array([0.0, 0.0, 0.0, 0.0825, -0.0825, 0.0, 0.088])
DH_D = np.array([0.333, 0.0, 0.316, 0.0, 0.384, 0.0, 0.0])
DH_ALPHA = np.array([0.0, -math.pi / 2, math.pi / 2, math.pi / 2, -math.pi / 2, math.pi / 2,
                     math.pi / 2])  # fmt: skip
FLANGE_D = 0.107
"""Flange offset along joint 7's axis, m [DH]."""

# --- limits [DH] ----------------------------------------------------------------------
JOINT_LOWER = np.array([-2.7437, -1.7837, -2.9007, -3.0421, -2.8065, 0.5445, -3.0159])
JOINT_UPPER = np.array([2.7437, 1.7837, 2.9007, -0.1518, 2.8065, 4.5169, 3.0159])
VELOCITY_LIMIT = np.array([2.62, 2.62, 2.62, 2.62, 5.26, 4.18, 5.26])
"""rad/s."""
TORQUE_LIMIT = np.array([87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0])
"""Nm."""

# --- dynamics -------------------------------------------------------------------------
LINK_MASS = np.array([4.970684, 0.646926, 3.228604, 3.587895, 1.225946, 1.666555, 0.735522])
"""kg, links 1-7 [GAZ19]."""
BASE_MASS = 0.629769
"""kg, link 0 (fixed to the table; irrelevant to the dynamics) [GAZ19 / franka_description]."""
ARMATURE = np.array([0.605721, 0.605721, 0.462474, 0.462474, 0.205544, 0.205544, 0.205544])
"""Reflected rotor inertia, kg m^2 [REFL]."""
JOINT_DAMPING = np.array([1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5])
"""Viscous joint friction, Nm s/rad; the order of [GAZ19]'s identified viscous terms."""
SERVO_KP = np.array([600.0, 600.0, 600.0, 600.0, 250.0, 150.0, 50.0])
"""Joint position servo stiffness, Nm/rad [LIBFRANKA]."""
SERVO_DAMPING_RATIO = 1.0
"""Servo damping is set critical for the joint's armature + a nominal link inertia."""
NOMINAL_JOINT_INERTIA = np.array([1.2, 1.2, 0.6, 0.6, 0.15, 0.1, 0.05])
"""Rough apparent inertia about each axis with the hand attached, kg m^2 (for kv only)."""

# --- geometry of the capsule links (m), in each link's own frame ------------------------
# (fromto start, fromto end, radius) per capsule. Segments join the joint centres, plus a
# housing along each joint axis, so the silhouette and reach match the real arm.
LINK_CAPSULES: dict[str, tuple[tuple[tuple[float, float, float], tuple[float, float, float],
                                     float], ...]] = {
    # Radii of capsules that meet at a joint differ by a few mm so their surfaces do not
    # coincide (coincident surfaces flicker in renders).
    "link0": (((-0.04, 0.0, 0.03), (0.0, 0.0, 0.14), 0.075),),
    "link1": (((0.0, 0.0, -0.19), (0.0, 0.0, -0.03), 0.065),
              ((0.0, -0.06, 0.0), (0.0, 0.06, 0.0), 0.063)),
    "link2": (((0.0, 0.0, -0.06), (0.0, 0.0, 0.06), 0.058),
              ((0.0, -0.05, 0.0), (0.0, -0.23, 0.0), 0.06)),
    "link3": (((0.0, 0.0, -0.11), (0.0, 0.0, -0.03), 0.06),
              ((0.0, 0.0, 0.0), (0.0825, 0.0, 0.0), 0.052)),
    "link4": (((0.0, 0.0, -0.055), (0.0, 0.0, 0.055), 0.057),
              ((0.0, 0.0, 0.0), (-0.0825, 0.08, 0.0), 0.054)),
    "link5": (((0.0, 0.0, -0.26), (0.0, 0.0, -0.05), 0.055),
              ((0.0, 0.08, -0.12), (0.0, 0.08, -0.22), 0.035)),
    "link6": (((0.0, 0.0, -0.04), (0.0, 0.0, 0.04), 0.051),
              ((0.0, 0.0, 0.0), (0.088, 0.0, 0.0), 0.045)),
    "link7": (((0.0, 0.0, -0.03), (0.0, 0.0, 0.08), 0.042),),
}  # fmt: skip

HOME_QPOS = np.array([0.0, 0.25, 0.0, -2.7, 0.0, 3.85, 0.0])
"""Start pose inside the limits, rad: hand forward-down over the table, palm down."""


def link_transform(i: int, q: float) -> np.ndarray:
    """Homogeneous 4x4 transform of link i+1's frame in link i's frame (Craig DH)."""
    ca, sa = math.cos(DH_ALPHA[i]), math.sin(DH_ALPHA[i])
    cq, sq = math.cos(q), math.sin(q)
    return np.array([
        [cq, -sq, 0.0, DH_A[i]],
        [sq * ca, cq * ca, -sa, -sa * DH_D[i]],
        [sq * sa, cq * sa, ca, ca * DH_D[i]],
        [0.0, 0.0, 0.0, 1.0],
    ])  # fmt: skip


def flange_forward_kinematics(q: np.ndarray) -> np.ndarray:
    """4x4 pose of the flange in the arm's base (link0) frame for joint angles q (rad)."""
    if np.shape(q) != (NUM_JOINTS,):
        raise ValueError(f"expected {NUM_JOINTS} joint angles, got shape {np.shape(q)}")
    T = np.eye(4)
    for i in range(NUM_JOINTS):
        T = T @ link_transform(i, float(q[i]))
    T_flange = np.eye(4)
    T_flange[2, 3] = FLANGE_D
    return T @ T_flange
