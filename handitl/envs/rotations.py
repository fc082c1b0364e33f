"""Small rotation helpers on MuJoCo's C functions (quaternions are w, x, y, z).

scipy's Rotation costs ~20 us a call; these run in ~1-2 us, which matters inside the
control loop.
"""

from __future__ import annotations

import mujoco
import numpy as np


def quat_from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation vector (axis * angle, rad)."""
    quat = np.array([1.0, 0.0, 0.0, 0.0])
    mujoco.mju_quatIntegrate(quat, np.asarray(rotvec, dtype=np.float64), 1.0)
    return quat


def rotvec_from_quat(quat: np.ndarray) -> np.ndarray:
    """Rotation vector (axis * angle, |angle| <= pi) of a unit quaternion."""
    rotvec = np.zeros(3)
    mujoco.mju_quat2Vel(rotvec, quat, 1.0)
    return rotvec


def quat_from_mat(mat: np.ndarray) -> np.ndarray:
    """Quaternion of a 3x3 rotation matrix (any contiguous 9-element layout)."""
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(mat, dtype=np.float64).ravel())
    return quat


def mat_from_quat(quat: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix (columns: the rotated frame's axes) of a unit quaternion."""
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat, dtype=np.float64))
    return mat.reshape(3, 3)


def mat_from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix of a rotation vector (axis * angle, rad)."""
    return mat_from_quat(quat_from_rotvec(rotvec))


def orientation_error(quat_target: np.ndarray, quat_current: np.ndarray) -> np.ndarray:
    """World-frame rotation vector that turns ``quat_current`` into ``quat_target``."""
    conj = np.zeros(4)
    mujoco.mju_negQuat(conj, quat_current)
    delta = np.zeros(4)
    mujoco.mju_mulQuat(delta, quat_target, conj)
    return rotvec_from_quat(delta)
