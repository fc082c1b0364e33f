"""Geometry shared by the stream importers and the resampler, vectorised over frames.

* Quaternions are (w, x, y, z); a rotation matrix ``R_a_b`` has the axes of frame ``b``
  as its columns, written in frame ``a`` (so ``p_a = R_a_b @ p_b``).
* Every function takes arrays with any leading shape ``(...)`` and works row by row;
  rows that cannot be computed (non-finite input, degenerate geometry) come back NaN
  with a False mask rather than raising, because one bad frame must not sink a file.

The handitl wrist frame built from keypoints (see :mod:`handitl.intervention.streams.frame`):
origin at the wrist keypoint, +z toward the middle MCP, +x the palmar normal of the plane
through the wrist, index MCP and little MCP, +y = z x x (toward the thumb on a right hand).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

from handitl.assets.hand_description import KEYPOINT_NAMES, Side

_WRIST = KEYPOINT_NAMES.index("wrist")
_INDEX_MCP = KEYPOINT_NAMES.index("index_mcp")
_MIDDLE_MCP = KEYPOINT_NAMES.index("middle_mcp")
_LITTLE_MCP = KEYPOINT_NAMES.index("little_mcp")

MIN_AXIS_NORM = 1e-9
"""Vectors shorter than this (m, or m^2 for cross products) define no direction."""

MIRROR_Y = np.diag([1.0, -1.0, 1.0])
"""Reflection across a frame's y = 0 plane: a right hand's wrist frame to a left hand's."""


def unit(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of ``(..., 3)`` ``vectors`` and a ``(...)`` mask of the usable ones.

    A vector shorter than :data:`MIN_AXIS_NORM` or non-finite gives NaN and False.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    norm = np.linalg.norm(vectors, axis=-1)
    ok = np.isfinite(norm) & (norm > MIN_AXIS_NORM)
    safe = np.where(ok, norm, 1.0)[..., None]
    return np.where(ok[..., None], vectors / safe, np.nan), ok


def frame_from_z_and_x(z_dir: np.ndarray, x_hint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right-handed orthonormal frames ``(..., 3, 3)`` (axes as columns) and a validity mask.

    +z is ``z_dir`` exactly; +x is ``x_hint`` made orthogonal to z (Gram-Schmidt);
    +y = z x x. Rows where either direction is degenerate or they are parallel are NaN.
    """
    z_axis, z_ok = unit(z_dir)
    x_hint = np.asarray(x_hint, dtype=np.float64)
    x_axis, x_ok = unit(x_hint - np.sum(x_hint * z_axis, axis=-1, keepdims=True) * z_axis)
    y_axis = np.cross(z_axis, x_axis)
    rot = np.stack([x_axis, y_axis, z_axis], axis=-1)
    ok = z_ok & x_ok
    return np.where(ok[..., None, None], rot, np.nan), ok


def wrist_frame_from_keypoints(keypoints: np.ndarray, side: Side) -> tuple[np.ndarray, np.ndarray]:
    """The handitl wrist frame of 21 MediaPipe keypoints given in any right-handed frame ``a``.

    Args:
        keypoints: ``(..., 21, 3)`` positions in frame ``a``, m (NaN where unobserved).
        side: which hand; sets the sign of the palmar normal so that +x is palmar for both.

    Returns:
        ``R_a_wrist`` ``(..., 3, 3)`` (wrist axes as columns, in frame ``a``) and a ``(...)``
        mask, False where the wrist, index, middle or little MCP is missing or the three
        MCPs and the wrist are degenerate (collinear).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    wrist = keypoints[..., _WRIST, :]
    z_dir = keypoints[..., _MIDDLE_MCP, :] - wrist
    # Palm plane through wrist, index and little MCPs: spans the whole palm, so the normal
    # is well conditioned, and mirroring the hand flips the cross product (hence the sign).
    palmar = side.mirror_sign * np.cross(
        keypoints[..., _INDEX_MCP, :] - wrist, keypoints[..., _LITTLE_MCP, :] - wrist
    )
    return frame_from_z_and_x(z_dir, palmar)


def to_frame(points: np.ndarray, origin: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Points ``(..., K, 3)`` in frame ``a`` expressed in frame ``b`` with origin ``(..., 3)``
    and axes ``R_a_b`` ``(..., 3, 3)``: ``R_a_b^T (p - origin)``."""
    return np.einsum("...ji,...kj->...ki", rot, points - origin[..., None, :])


def quat_from_matrix(rot: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` (w, x, y, z, w >= 0) of rotation matrices ``(..., 3, 3)``.

    Rows with non-finite entries give NaN.
    """
    rot = np.asarray(rot, dtype=np.float64)
    lead = rot.shape[:-2]
    flat = rot.reshape(-1, 3, 3)
    out = np.full((flat.shape[0], 4), np.nan)
    ok = np.isfinite(flat).all(axis=(1, 2))
    if ok.any():
        xyzw = Rotation.from_matrix(flat[ok]).as_quat()  # scipy order: x, y, z, w
        out[ok] = canonical_quat(quat_wxyz_from_xyzw(xyzw))
    return out.reshape(*lead, 4)


def matrix_from_quat(quat: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of quaternions ``(..., 4)`` (w, x, y, z; normalised here)."""
    q = np.asarray(quat, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def quat_wxyz_from_xyzw(quat_xyzw: np.ndarray) -> np.ndarray:
    """Reorder (x, y, z, w) quaternions (OpenXR, scipy) to handitl's (w, x, y, z)."""
    return np.roll(np.asarray(quat_xyzw, dtype=np.float64), 1, axis=-1)


def canonical_quat(quat: np.ndarray) -> np.ndarray:
    """The cover with w >= 0 (same rotation); makes stored files deterministic."""
    quat = np.asarray(quat, dtype=np.float64)
    return np.where(quat[..., :1] < 0, -quat, quat)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of ``(..., 4)`` quaternions (rotation b, then a)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle ``(...)`` in [0, pi] rad of the rotation between unit quaternions ``a`` and ``b``.

    Uses atan2 of the vector and scalar parts of ``conj(a) * b``, which stays accurate for
    tiny angles where ``arccos(|a . b|)`` loses half the digits.
    """
    conj_a = np.asarray(a, dtype=np.float64) * np.array([1.0, -1.0, -1.0, -1.0])
    delta = quat_multiply(conj_a, b)
    return 2.0 * np.arctan2(np.linalg.norm(delta[..., 1:], axis=-1), np.abs(delta[..., 0]))


def slerp(q0: np.ndarray, q1: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation along the shortest arc, ``(..., 4)`` (w, x, y, z).

    Args:
        q0, q1: ``(..., 4)`` unit quaternions; ``q1`` is negated where ``q0 . q1 < 0`` so the
            path takes the shorter of the two arcs (a rotation and its negation are equal).
        fraction: ``(...)`` in [0, 1]; 0 returns ``q0`` exactly.

    Returns:
        Unit quaternions at constant angular rate between the two rotations.
    """
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    fraction = np.asarray(fraction, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    # Angle between the two unit 4-vectors (half the rotation angle), from the chords
    # rather than arccos(dot), which loses half the digits near 0.
    omega = 2.0 * np.arctan2(
        np.linalg.norm(q1 - q0, axis=-1, keepdims=True), np.linalg.norm(q1 + q0, axis=-1, keepdims=True)
    )
    sin_omega = np.sin(omega)
    small = sin_omega < 1e-12
    safe = np.where(small, 1.0, sin_omega)
    w0 = np.where(small, 1.0 - fraction, np.sin((1.0 - fraction) * omega) / safe)
    w1 = np.where(small, fraction, np.sin(fraction * omega) / safe)
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def slerp_one(q0: np.ndarray, q1: np.ndarray, fraction: float) -> np.ndarray:
    """:func:`slerp` of one pair, (4,) quaternions and a scalar fraction: the same
    formulas on Python floats (one query per control tick; the array version costs
    ~30-70 us in numpy's per-call overhead for 4 numbers). The two agree to a few ulps,
    not bit for bit: numpy's vectorised sin/atan2 may round differently from libm's."""
    a = [float(x) for x in q0]
    b = [float(x) for x in q1]
    if a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3] < 0:
        b = [-x for x in b]
    minus = math.sqrt(sum((y - x) * (y - x) for x, y in zip(a, b)))
    plus = math.sqrt(sum((y + x) * (y + x) for x, y in zip(a, b)))
    omega = 2.0 * math.atan2(minus, plus)
    sin_omega = math.sin(omega)
    if sin_omega < 1e-12:
        w0, w1 = 1.0 - fraction, fraction
    else:
        w0 = math.sin((1.0 - fraction) * omega) / sin_omega
        w1 = math.sin(fraction * omega) / sin_omega
    out = [w0 * x + w1 * y for x, y in zip(a, b)]
    norm = math.sqrt(sum(x * x for x in out))
    return np.array([x / norm for x in out])
