"""Kinematic model of a human hand: 21 joint angles -> 21 MediaPipe keypoints.

The human twin of the procedural robot hand (:mod:`handitl.assets.procedural_hand`): the
same joint layout, hinge axes and sign conventions, at human size. Simulated operators
pose it, the MANO-style importer uses its rest skeleton, and retargeting can use its
fingertip Jacobian.

Frames and units (see :mod:`handitl.intervention.streams.frame`): keypoints are in the
wrist frame, m, MediaPipe order: origin at the wrist keypoint, +z toward the middle-finger
MCP, +x the palmar normal, +y toward the thumb on a right hand and away from it on a left
hand. A left hand given the same joint vector is the mirror image (y negated).

Joints (:data:`JOINT_NAMES`, radians, the robot hand's order): thumb ``cmc_abd``,
``cmc_flex``, ``mcp_abd``, ``mcp_flex``, ``ip``; then index, middle, ring, little with
``abd``, ``mcp``, ``pip``, ``dip`` each. Signs as on the robot hand: flexion > 0 curls
toward the palm (+x); finger ``abd`` > 0 spreads a finger away from the middle finger
(the middle finger itself toward the thumb); ``thumb_cmc_abd`` > 0 lifts the thumb palmar
(coupled with pronation), ``thumb_cmc_flex`` > 0 swings it across the palm.

Geometry (approximate, a kinematic stand-in for a person, not a biomechanical model):
segment lengths are Buchholz, Armstrong & Goldstein (1992, Ergonomics 35(3):261-273)
fractions of hand length (wrist crease to middle fingertip), an average adult male hand
length of 0.187 m at ``scale`` = 1 (ANSUR-type surveys, rounded), and the palm layout
(knuckle arc, finger spacing, thumb base) of the procedural robot hand divided by its
1.1 size factor, shifted across the palm so that the middle MCP lies on +z, as the wrist
frame convention (and :func:`~handitl.intervention.streams.geometry.wrist_frame_from_keypoints`)
requires: the MCPs and the wrist span the x = 0 plane, so +x is the palmar normal. So
``HumanHandModel(scale=1.1)`` has the robot hand's keypoints translated by
``(0, -procedural_hand_constants.MCP_Y["middle"], 0)`` (the robot's palm frame has the middle
MCP 12 mm toward the thumb).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from handitl.assets import procedural_hand_constants as C
from handitl.assets.hand_description import FINGERS, KEYPOINT_NAMES, Side

ADULT_HAND_LENGTH = C.ADULT_MALE_HAND_LENGTH
"""Wrist to middle fingertip at ``scale`` = 1 and the open pose, m (~0.187)."""

JOINT_NAMES: tuple[str, ...] = (
    "thumb_cmc_abd", "thumb_cmc_flex", "thumb_mcp_abd", "thumb_mcp_flex", "thumb_ip",
    *(f"{f}_{j}" for f in FINGERS[1:] for j in ("abd", "mcp", "pip", "dip")),
)  # fmt: skip
"""The 21 joints in joint-vector order (the procedural robot hand's order)."""
NUM_JOINTS = len(JOINT_NAMES)

JOINT_LOWER = np.array([C.JOINT_RANGES[n][0] for n in JOINT_NAMES])
"""(21,) lower joint limits, rad: adult active range of motion (the robot hand's ranges)."""
JOINT_UPPER = np.array([C.JOINT_RANGES[n][1] for n in JOINT_NAMES])
"""(21,) upper joint limits, rad."""

KEYPOINT_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15,
                                     0, 17, 18, 19)  # fmt: skip
"""Parent keypoint of each MediaPipe keypoint (-1 for the wrist): the skeleton's bones."""

FINGERTIP_INDICES = np.array([KEYPOINT_NAMES.index(f"{f}_tip") for f in FINGERS])
"""(5,) keypoint indices of the fingertips, FINGERS order."""

_FLEX_AXIS = np.array([0.0, 1.0, 0.0])
"""Bone-local hinge axis that curls the bone's +z toward its +x (palmar)."""
_TOWARD_THUMB_AXIS = np.array([-1.0, 0.0, 0.0])
_AWAY_FROM_THUMB_AXIS = np.array([1.0, 0.0, 0.0])
_MIRROR = np.array([1.0, -1.0, 1.0])
"""Wrist-frame reflection right <-> left (y negated)."""
_EYE3 = np.eye(3)


class HumanHandError(ValueError):
    """A joint vector or pose name is malformed."""


# ---------------------------------------------------------------------------------------
# Vectorised rotation helpers (shared with the importer and the operators)
# ---------------------------------------------------------------------------------------
def _skew(v: np.ndarray) -> np.ndarray:
    """(..., 3, 3) cross-product matrices of (..., 3) vectors."""
    z = np.zeros(v.shape[:-1])
    x, y, w = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([np.stack([z, -w, y], -1), np.stack([w, z, -x], -1),
                     np.stack([-y, x, z], -1)], -2)  # fmt: skip


def rotation_from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices of (..., 3) rotation vectors (axis * angle, rad)."""
    rotvec = np.asarray(rotvec, dtype=float)
    angle = np.linalg.norm(rotvec, axis=-1)[..., None, None]
    k = _skew(rotvec)
    # sin(a)/a and (1 - cos a)/a^2 by Taylor series near 0, so tiny angles stay exact.
    small = angle < 1e-6
    safe = np.where(small, 1.0, angle)
    a = np.where(small, 1.0 - angle**2 / 6.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - angle**2 / 24.0, (1.0 - np.cos(safe)) / safe**2)
    return np.eye(3) + a * k + b * (k @ k)


def rotvec_from_rotation(rot: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors (angle in [0, pi]) of (..., 3, 3) rotation matrices."""
    return rotvec_from_quat(quat_from_rotation(rot))


def quat_from_rotation(rot: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions (w, x, y, z), w >= 0, of (..., 3, 3) rotation matrices."""
    rot = np.asarray(rot, dtype=float)
    m = rot.reshape(-1, 3, 3)
    tr = np.trace(m, axis1=1, axis2=2)
    # Shepperd's method: build from the largest of (trace, diagonal) for stability.
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    pick = np.argmax(cand, axis=1)
    q = np.empty((len(m), 4))
    for i in range(4):
        sel = pick == i
        if not sel.any():
            continue
        r = m[sel]
        if i == 0:
            s = 2.0 * np.sqrt(1.0 + tr[sel])
            q[sel] = np.stack([0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s,
                               (r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 1, 0] - r[:, 0, 1]) / s], 1)  # fmt: skip
        else:
            a, b, c = i - 1, i % 3, (i + 1) % 3
            s = 2.0 * np.sqrt(1.0 + r[:, a, a] - r[:, b, b] - r[:, c, c])
            qi = np.empty((len(r), 4))
            qi[:, 0] = (r[:, c, b] - r[:, b, c]) / s
            qi[:, 1 + a] = 0.25 * s
            qi[:, 1 + b] = (r[:, b, a] + r[:, a, b]) / s
            qi[:, 1 + c] = (r[:, c, a] + r[:, a, c]) / s
            q[sel] = qi
    q *= np.where(q[:, :1] < 0.0, -1.0, 1.0)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q.reshape(rot.shape[:-2] + (4,))


def rotation_from_quat(quat: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices of (..., 4) quaternions (w, x, y, z; normalised first)."""
    q = np.asarray(quat, dtype=float)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)  # fmt: skip


def rotvec_from_quat(quat: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors (angle in [0, pi]) of (..., 4) quaternions (w, x, y, z)."""
    q = np.asarray(quat, dtype=float)
    q = q * np.where(q[..., :1] < 0.0, -1.0, 1.0)
    vec = q[..., 1:]
    sin_half = np.linalg.norm(vec, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])
    scale = np.where(sin_half < 1e-12, 2.0, angle / np.where(sin_half < 1e-12, 1.0, sin_half))
    return vec * scale


# ---------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Digit:
    """One digit of a right hand at scale 1 (wrist frame, m)."""

    name: str
    base_pos: np.ndarray
    """(3,) first joint centre (CMC for the thumb, MCP for a finger)."""
    base_rot: np.ndarray
    """(3, 3) orientation of the first segment's frame (+z along the bone, +x palmar)."""
    lengths: np.ndarray
    """(3,) segment lengths, proximal first, m."""
    axes: tuple[tuple[np.ndarray, ...], ...]
    """Bone-local hinge axes of each segment's joints, in kinematic order."""
    joint_index: tuple[tuple[int, ...], ...]
    """Index into the joint vector of each entry of ``axes``."""
    keypoint_index: tuple[int, int, int, int]
    """Keypoints at the three segment origins and the tip."""


def _rot(axis: str, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


@functools.cache
def _digits() -> tuple[_Digit, ...]:
    """The five digits of a right hand at ``scale`` = 1, thumb first.

    The robot hand's layout divided by its size factor; the thumb metacarpal is swung
    toward the thumb side, tilted palmar and pronated ~90 deg so its pad can oppose, and
    its CMC abduction axis is tilted toward the bone (abduction couples with pronation,
    as in the saddle joint). See ``procedural_hand_constants`` for the sources.
    """
    k = 1.0 / C.SIZE_FACTOR
    hand_length = ADULT_HAND_LENGTH
    # The wrist frame's +z points at the middle MCP; the robot layout has it off-axis.
    y_shift = np.array([0.0, -C.MCP_Y["middle"], 0.0])
    psi = C.THUMB_CMC_ABD_PRONATION_COUPLING
    thumb_rot = (_rot("y", C.THUMB_PALMAR_TILT) @ _rot("x", -C.THUMB_SPREAD)
                 @ _rot("z", -C.THUMB_PRONATION))  # fmt: skip
    digits = [
        _Digit(
            name="thumb",
            base_pos=(np.asarray(C.THUMB_CMC_POS) + y_shift) * k,
            base_rot=thumb_rot,
            lengths=np.asarray(C.SEGMENT_RATIOS["thumb"]) * hand_length,
            axes=((np.array([-math.cos(psi), 0.0, -math.sin(psi)]), _FLEX_AXIS),
                  (_TOWARD_THUMB_AXIS, _FLEX_AXIS), (_FLEX_AXIS,)),  # fmt: skip
            joint_index=((0, 1), (2, 3), (4,)),
            keypoint_index=(1, 2, 3, 4),
        )
    ]
    for i, f in enumerate(FINGERS[1:]):
        j0 = 5 + 4 * i
        abd = _TOWARD_THUMB_AXIS if f in ("index", "middle") else _AWAY_FROM_THUMB_AXIS
        kp0 = KEYPOINT_NAMES.index(f"{f}_mcp")
        digits.append(
            _Digit(
                name=f,
                base_pos=(np.array([C.MCP_X, C.MCP_Y[f], C.MIDDLE_MCP_Z + C.MCP_Z_OFFSET[f]])
                          + y_shift) * k,
                base_rot=np.eye(3),
                lengths=np.asarray(C.SEGMENT_RATIOS[f]) * hand_length,
                axes=((abd, _FLEX_AXIS), (_FLEX_AXIS,), (_FLEX_AXIS,)),
                joint_index=((j0, j0 + 1), (j0 + 2,), (j0 + 3,)),
                keypoint_index=(kp0, kp0 + 1, kp0 + 2, kp0 + 3),
            )
        )
    return tuple(digits)


@functools.cache
def _skew_pair(axis: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """K and K @ K of a fixed hinge axis (cached: FK of one frame is overhead-bound)."""
    k = _skew(np.asarray(axis))
    return k, k @ k


_SLOTS = 5
"""Hinge slots per digit: (2, 2, 1) per segment; fingers pad their second segment with a
zero-angle slot so that all five digits run through one vectorised chain."""
_SEGMENT_FIRST_SLOT = (0, 2, 4)
_SEGMENT_LAST_SLOT = (1, 3, 4)


@dataclasses.dataclass(frozen=True)
class _SlotLayout:
    """The five digits as (digit, slot) arrays."""

    joint: np.ndarray
    """(5, 5) joint-vector index of each slot; NUM_JOINTS (an always-zero angle) for padding."""
    axes: np.ndarray
    """(5, 5, 3) bone-local hinge axes."""
    k: np.ndarray
    """(5, 5, 3, 3) cross-product matrices of the axes."""
    k2: np.ndarray
    """(5, 5, 3, 3) their squares."""
    base_rot: np.ndarray
    """(5, 3, 3)."""
    base_pos: np.ndarray
    """(5, 3) at scale 1, m."""
    lengths: np.ndarray
    """(5, 3) at scale 1, m."""
    keypoint: np.ndarray
    """(5, 4) keypoint indices of the segment origins and the tip."""
    digit_of_slot: np.ndarray
    """(5, 5) the digit index of each slot (for scattering Jacobian columns)."""


@functools.cache
def _slot_layout() -> _SlotLayout:
    digits = _digits()
    joint = np.full((len(digits), _SLOTS), NUM_JOINTS)
    axes = np.tile(_FLEX_AXIS, (len(digits), _SLOTS, 1))
    for d, digit in enumerate(digits):
        for seg, first in enumerate(_SEGMENT_FIRST_SLOT):
            for i, (axis, j) in enumerate(zip(digit.axes[seg], digit.joint_index[seg])):
                joint[d, first + i] = j
                axes[d, first + i] = axis
    k = _skew(axes)
    return _SlotLayout(
        joint=joint, axes=axes, k=k, k2=k @ k,
        base_rot=np.stack([d.base_rot for d in digits]),
        base_pos=np.stack([d.base_pos for d in digits]),
        lengths=np.stack([d.lengths for d in digits]),
        keypoint=np.array([d.keypoint_index for d in digits]),
        digit_of_slot=np.repeat(np.arange(len(digits))[:, None], _SLOTS, axis=1),
    )


def _axis_rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about one unit ``axis`` (3,) by ``angle`` (T,) rad (Rodrigues)."""
    k, k2 = _skew_pair(tuple(axis))
    s = np.sin(angle)[:, None, None]
    c = np.cos(angle)[:, None, None]
    return _EYE3 + s * k + (1.0 - c) * k2


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (np.cross costs ~10x more on small arrays)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], axis=-1)


# ---------------------------------------------------------------------------------------
# Named poses
# ---------------------------------------------------------------------------------------
def _pose(thumb: tuple[float, ...], *fingers: tuple[float, float, float, float]) -> np.ndarray:
    """Joint vector from thumb (cmc_abd, cmc_flex, mcp_abd, mcp_flex, ip) and per-finger
    (abd, mcp, pip, dip) in index, middle, ring, little order."""
    return np.array([*thumb, *(v for f in fingers for v in f)], dtype=float)


_POWER_THUMB = (1.0, 0.6, 0.0, 0.5, 0.5)
"""Thumb wrapped around a ~4 cm handle, opposing the middle phalanges."""
_POWER_FINGER = (0.0, 1.0, 1.2, 0.7)
"""Fingers wrapped around a ~4 cm handle."""

_FIXED_POSES: dict[str, np.ndarray] = {
    # Flat hand, fingers together: the rest skeleton (all joints zero).
    "open": np.zeros(NUM_JOINTS),
    # Neutral: slightly flexed, more toward the little finger (the ulnar "cascade").
    "relaxed": _pose((0.5, 0.2, 0.0, 0.2, 0.2), (0.05, 0.25, 0.35, 0.20), (0.0, 0.30, 0.40, 0.20),
                     (0.05, 0.35, 0.45, 0.25), (0.10, 0.40, 0.50, 0.25)),  # fmt: skip
    "power_grasp": _pose(_POWER_THUMB, _POWER_FINGER, _POWER_FINGER, _POWER_FINGER,
                         (0.0, 1.1, 1.25, 0.7)),  # fmt: skip
    # Power grasp with the index pulled in further, as when squeezing a drill trigger.
    "trigger": _pose(_POWER_THUMB, (0.0, 1.3, 1.55, 1.05), _POWER_FINGER, _POWER_FINGER,
                     (0.0, 1.1, 1.25, 0.7)),  # fmt: skip
    "fist": _pose((0.9, 0.9, 0.0, 0.8, 0.8), (0.0, 1.5, 1.7, 1.2), (0.0, 1.5, 1.7, 1.2),
                  (0.0, 1.5, 1.7, 1.2), (0.0, 1.5, 1.7, 1.2)),  # fmt: skip
}
POSE_NAMES: tuple[str, ...] = ("open", "relaxed", "power_grasp", "pinch", "trigger", "fist")
"""Named poses of :func:`named_pose`."""

_PINCH_NOMINAL = _pose((1.2, 0.3, 0.0, 0.3, 0.2), (0.0, 0.8, 0.6, 0.3), (0.0, 0.6, 0.8, 0.4),
                       (0.0, 0.7, 0.9, 0.4), (0.0, 0.8, 1.0, 0.4))  # fmt: skip
"""Pinch start and weak prior: opposed thumb, index flexed at MCP/PIP, others curled away."""


@functools.cache
def _pinch_pose() -> np.ndarray:
    """Tip pinch: thumb and index tip keypoints meet (a least-squares fit in the limits).

    Uniform scale maps a solution to a solution, so one fit at scale 1 serves every hand.
    The weak pull toward ``_PINCH_NOMINAL`` picks a natural, deterministic solution.
    """
    from scipy.optimize import least_squares  # lazy: only this pose needs scipy

    model = HumanHandModel()
    active = np.arange(9)  # thumb 5 + index 4: the other fingers keep their nominal curl
    lo, hi = JOINT_LOWER[active], JOINT_UPPER[active]

    def residual(x: np.ndarray) -> np.ndarray:
        q = _PINCH_NOMINAL.copy()
        q[active] = x
        tips = model.fingertips(q)
        return np.concatenate([tips[0] - tips[1], 0.003 * (x - _PINCH_NOMINAL[active])])

    sol = least_squares(residual, _PINCH_NOMINAL[active], bounds=(lo, hi), xtol=1e-12, ftol=1e-12)
    q = _PINCH_NOMINAL.copy()
    q[active] = sol.x
    return q


def named_pose(name: str) -> np.ndarray:
    """(21,) joint vector of a named pose (:data:`POSE_NAMES`), rad; the same for every scale."""
    if name == "pinch":
        return _pinch_pose().copy()
    try:
        return _FIXED_POSES[name].copy()
    except KeyError:
        raise HumanHandError(f"unknown pose {name!r}; known: {', '.join(POSE_NAMES)}") from None


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FingertipJacobian:
    """Fingertip positions and their derivatives for a batch of joint vectors."""

    tips: np.ndarray
    """(..., 5, 3) fingertip keypoints in the wrist frame, FINGERS order, m."""
    jacobian: np.ndarray
    """(..., 5, 3, 21) d tip / d q, m/rad (zero for joints of other digits)."""


class HumanHandModel:
    """A person's hand skeleton: forward kinematics, fingertip Jacobian, limits, poses.

    All lengths scale with ``scale`` (1 = the average adult male hand of
    :data:`ADULT_HAND_LENGTH`); joint limits and named poses do not depend on it.
    """

    def __init__(self, scale: float = 1.0) -> None:
        if not (scale > 0.0 and math.isfinite(scale)):
            raise HumanHandError(f"scale must be positive and finite, got {scale}")
        self.scale = float(scale)

    @property
    def hand_length(self) -> float:
        """Wrist to middle fingertip at the open pose, m."""
        return ADULT_HAND_LENGTH * self.scale

    @property
    def joint_names(self) -> tuple[str, ...]:
        return JOINT_NAMES

    @property
    def lower(self) -> np.ndarray:
        """(21,) lower joint limits, rad."""
        return JOINT_LOWER.copy()

    @property
    def upper(self) -> np.ndarray:
        """(21,) upper joint limits, rad."""
        return JOINT_UPPER.copy()

    def clip(self, q: np.ndarray) -> np.ndarray:
        """(..., 21) joint vectors clipped into the joint limits."""
        return np.clip(q, JOINT_LOWER, JOINT_UPPER)

    def bone_lengths(self) -> np.ndarray:
        """(21,) length of the bone ending at each keypoint (0 for the wrist), m.

        Joint angles rotate bones rigidly, so these hold at every pose.
        """
        rest = self.rest_keypoints()
        parents = np.array(KEYPOINT_PARENTS)
        lengths = np.linalg.norm(rest - rest[np.maximum(parents, 0)], axis=1)
        return np.where(parents < 0, 0.0, lengths)

    def pose(self, name: str) -> np.ndarray:
        """(21,) joint vector of a named pose (:data:`POSE_NAMES`), rad."""
        return named_pose(name)

    def rest_keypoints(self, side: Side = Side.RIGHT) -> np.ndarray:
        """(21, 3) keypoints at the zero (open, flat) pose in the wrist frame, m."""
        return self.forward(np.zeros(NUM_JOINTS), side)

    def forward(self, q: np.ndarray, side: Side = Side.RIGHT) -> np.ndarray:
        """Keypoints (..., 21, 3) in the wrist frame, m, for joint vectors ``q`` (..., 21), rad.

        Vectorised over the leading dimensions (no Python loop over frames).
        """
        return self._kinematics(q, side, jacobian=False)[0]

    def fingertips(self, q: np.ndarray, side: Side = Side.RIGHT) -> np.ndarray:
        """(..., 5, 3) fingertip keypoints in the wrist frame, FINGERS order, m."""
        return self.forward(q, side)[..., FINGERTIP_INDICES, :]

    def fingertip_jacobian(self, q: np.ndarray, side: Side = Side.RIGHT) -> FingertipJacobian:
        """Fingertips and d tip / d q (analytic: axis x (tip - joint centre)) at ``q`` (..., 21)."""
        keypoints, jac = self._kinematics(q, side, jacobian=True)
        return FingertipJacobian(tips=keypoints[..., FINGERTIP_INDICES, :], jacobian=jac)

    def _kinematics(self, q: np.ndarray, side: Side,
                    jacobian: bool) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
        q = np.asarray(q, dtype=float)
        if q.shape[-1:] != (NUM_JOINTS,):
            raise HumanHandError(f"joint vectors must have shape (..., {NUM_JOINTS}), got {q.shape}")
        batch = q.shape[:-1]
        qf = q.reshape(-1, NUM_JOINTS)
        n = len(qf)
        lay = _slot_layout()
        # All digits at once: slot k of digit d is a hinge (padding slots have angle 0).
        angles = np.concatenate([qf, np.zeros((n, 1))], axis=1)[:, lay.joint]  # (n, 5, 5)
        s = np.sin(angles)[..., None, None]
        c = np.cos(angles)[..., None, None]
        slot_rot = _EYE3 + s * lay.k + (1.0 - c) * lay.k2  # (n, 5, 5, 3, 3)
        rot = np.broadcast_to(lay.base_rot, (n, len(FINGERS), 3, 3))
        pos = np.broadcast_to(lay.base_pos * self.scale, (n, len(FINGERS), 3))
        keypoints = np.zeros((n, len(KEYPOINT_NAMES), 3))
        axes_w, anchors = [], []
        for k in range(_SLOTS):
            if k in _SEGMENT_FIRST_SLOT:
                keypoints[:, lay.keypoint[:, _SEGMENT_FIRST_SLOT.index(k)]] = pos
            rot = rot @ slot_rot[:, :, k]
            if jacobian:
                axes_w.append(rot @ lay.axes[:, k, :, None])
                anchors.append(pos)
            if k in _SEGMENT_LAST_SLOT:
                length = lay.lengths[:, _SEGMENT_LAST_SLOT.index(k)] * self.scale
                pos = pos + length[:, None] * rot[..., :, 2]
        keypoints[:, lay.keypoint[:, 3]] = pos
        jac = None
        if jacobian:
            # Hinge j moves its digit's tip by axis_j x (tip - centre_j) per radian.
            axes_arr = np.stack(axes_w, axis=2)[..., 0]  # (n, 5, slots, 3)
            lever = pos[:, :, None, :] - np.stack(anchors, axis=2)
            cols = _cross(axes_arr, lever)
            full = np.zeros((n, len(FINGERS), NUM_JOINTS + 1, 3))
            full[:, lay.digit_of_slot, lay.joint] = cols  # padding lands in the dropped column
            jac = np.swapaxes(full[:, :, :NUM_JOINTS], -1, -2)
        if side is Side.LEFT:
            keypoints *= _MIRROR
            if jac is not None:
                jac *= _MIRROR[:, None]
        keypoints = keypoints.reshape(*batch, len(KEYPOINT_NAMES), 3)
        if jac is not None:
            jac = jac.reshape(*batch, len(FINGERS), 3, NUM_JOINTS)
        return keypoints, jac

    def __repr__(self) -> str:
        return f"HumanHandModel(scale={self.scale:g})"
