"""OpenXR ``XR_EXT_hand_tracking`` joint arrays -> :class:`StreamRecording` (one or both hands).

Input per hand (:class:`OpenXRHandJoints`): the 26 ``XrHandJointLocationEXT`` of each
sample in ``XrHandJointEXT`` order (:class:`XrHandJoint`), i.e. pose positions (m) and
orientations, ``locationFlags`` and the ``isActive`` flag of ``XrHandJointLocationsEXT``,
all located in one reference space (e.g. ``STAGE``). OpenXR quaternions are stored
(x, y, z, w); they are reordered to handitl's (w, x, y, z) here.

Axis conversions (all proper rotations, derived in the test suite):

* Reference space -> operator world frame: OpenXR is +y up, -z forward, +x right;
  handitl's operator frame is +z up. :data:`R_WORLD_FROM_OPENXR` maps
  x_world = -z_xr (forward), y_world = -x_xr (left), z_world = y_xr (up), i.e. the ROS
  convention (x forward, y left, z up) seen from the reference space's forward direction.
* OpenXR joint frame -> handitl wrist frame: OpenXR joint axes are +z back along the
  bone (away from the fingertips), +y out of the back of the hand, +x = y x z. The handitl
  wrist frame has +z toward the fingers (middle MCP), +x palmar, +y = z x x. Hence
  x_wrist = -y_joint, y_wrist = -x_joint, z_wrist = -z_joint (:data:`R_JOINT_WRIST`, a
  180 deg turn about (1, -1, 0)/sqrt 2). Both conventions define their axes from anatomy
  with the right-hand rule, so the same rotation serves both hands: on a right hand
  OpenXR's +x points to the little finger, on a left hand to the thumb, exactly as
  handitl's -y does.

Keypoints (MediaPipe <- OpenXR; "joint" poses are at the base of the named bone): wrist <-
WRIST; thumb CMC <- THUMB_METACARPAL, MCP <- THUMB_PROXIMAL, IP <- THUMB_DISTAL, TIP <-
THUMB_TIP; finger MCP <- <F>_PROXIMAL, PIP <- <F>_INTERMEDIATE, DIP <- <F>_DISTAL, TIP <-
<F>_TIP. PALM and the four finger METACARPAL joints have no MediaPipe counterpart.

Wrist frame (:class:`WristFrameSource`): ``JOINT`` (default) uses the WRIST joint's pose
with :data:`R_JOINT_WRIST`; ``KEYPOINTS`` rebuilds it from the keypoints as the MediaPipe
importer does (use it if a runtime's wrist orientation is not aligned with the middle MCP).

Validity: a keypoint is valid if its joint has ``POSITION_VALID`` and the hand is active
and its wrist frame valid (``POSITION_VALID`` and ``ORIENTATION_VALID`` of WRIST for
``JOINT``); its confidence is 1 with ``POSITION_TRACKED`` and ``untracked_confidence``
otherwise (the runtime inferred it).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

import numpy as np

from handitl.assets.hand_description import Side
from handitl.intervention.streams.geometry import (
    matrix_from_quat,
    quat_from_matrix,
    quat_wxyz_from_xyzw,
    to_frame,
    wrist_frame_from_keypoints,
)
from handitl.intervention.streams.importers import StreamImportError, float_array, track_from_arrays
from handitl.intervention.streams.recording import HandTrack, RecordingMetadata, StreamRecording


class XrHandJoint(enum.IntEnum):
    """``XrHandJointEXT``: index of each joint in the 26-joint arrays."""

    PALM = 0
    WRIST = 1
    THUMB_METACARPAL = 2
    THUMB_PROXIMAL = 3
    THUMB_DISTAL = 4
    THUMB_TIP = 5
    INDEX_METACARPAL = 6
    INDEX_PROXIMAL = 7
    INDEX_INTERMEDIATE = 8
    INDEX_DISTAL = 9
    INDEX_TIP = 10
    MIDDLE_METACARPAL = 11
    MIDDLE_PROXIMAL = 12
    MIDDLE_INTERMEDIATE = 13
    MIDDLE_DISTAL = 14
    MIDDLE_TIP = 15
    RING_METACARPAL = 16
    RING_PROXIMAL = 17
    RING_INTERMEDIATE = 18
    RING_DISTAL = 19
    RING_TIP = 20
    LITTLE_METACARPAL = 21
    LITTLE_PROXIMAL = 22
    LITTLE_INTERMEDIATE = 23
    LITTLE_DISTAL = 24
    LITTLE_TIP = 25


XR_HAND_JOINT_COUNT = len(XrHandJoint)

ORIENTATION_VALID = 0x1
POSITION_VALID = 0x2
ORIENTATION_TRACKED = 0x4
POSITION_TRACKED = 0x8
"""``XrSpaceLocationFlags`` bits."""

_J = XrHandJoint
# fmt: off
KEYPOINT_JOINTS: tuple[XrHandJoint, ...] = (
    _J.WRIST,
    _J.THUMB_METACARPAL, _J.THUMB_PROXIMAL, _J.THUMB_DISTAL, _J.THUMB_TIP,
    _J.INDEX_PROXIMAL, _J.INDEX_INTERMEDIATE, _J.INDEX_DISTAL, _J.INDEX_TIP,
    _J.MIDDLE_PROXIMAL, _J.MIDDLE_INTERMEDIATE, _J.MIDDLE_DISTAL, _J.MIDDLE_TIP,
    _J.RING_PROXIMAL, _J.RING_INTERMEDIATE, _J.RING_DISTAL, _J.RING_TIP,
    _J.LITTLE_PROXIMAL, _J.LITTLE_INTERMEDIATE, _J.LITTLE_DISTAL, _J.LITTLE_TIP,
)
# fmt: on
"""OpenXR joint of each MediaPipe keypoint, in :data:`KEYPOINT_NAMES` order."""
_KEYPOINT_JOINT_INDEX = np.array(KEYPOINT_JOINTS, dtype=np.intp)

R_WORLD_FROM_OPENXR = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
"""Operator world frame (+z up) from an OpenXR reference space (+y up, -z forward)."""
R_JOINT_WRIST = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
"""handitl wrist-frame axes (columns) in the OpenXR WRIST joint frame, either hand."""


class WristFrameSource(str, enum.Enum):
    """Where the wrist frame's orientation comes from."""

    JOINT = "joint"
    KEYPOINTS = "keypoints"


@dataclasses.dataclass(frozen=True, eq=False)
class OpenXRHandJoints:
    """One hand's ``xrLocateHandJointsEXT`` results over N samples.

    Attributes:
        positions: (N, 26, 3) joint positions in the reference space, m.
        orientations: (N, 26, 4) joint orientations, OpenXR order (x, y, z, w).
        location_flags: (N, 26) ``XrSpaceLocationFlags`` of each joint.
        is_active: (N,) ``isActive`` of each sample (default all True).

    Arrays are converted to float64 / int64 / bool; a wrong shape raises
    :class:`StreamImportError`.
    """

    positions: np.ndarray
    orientations: np.ndarray
    location_flags: np.ndarray
    is_active: np.ndarray | None = None

    def __post_init__(self) -> None:
        positions = float_array("positions", self.positions, (None, XR_HAND_JOINT_COUNT, 3))
        num = positions.shape[0]
        orientations = float_array("orientations", self.orientations, (num, XR_HAND_JOINT_COUNT, 4))
        flags = np.asarray(self.location_flags)
        if flags.shape != (num, XR_HAND_JOINT_COUNT) or flags.dtype.kind not in "iu":
            raise StreamImportError(
                f"location_flags: shape {flags.shape} dtype {flags.dtype}, "
                f"expected integer ({num}, {XR_HAND_JOINT_COUNT})"
            )
        active = np.ones(num, bool) if self.is_active is None else np.asarray(self.is_active)
        if active.shape != (num,) or active.dtype != np.bool_:
            raise StreamImportError(
                f"is_active: shape {active.shape} dtype {active.dtype}, expected bool ({num},)"
            )
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "orientations", orientations)
        object.__setattr__(self, "location_flags", flags.astype(np.int64))
        object.__setattr__(self, "is_active", active.copy())

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def active(self) -> np.ndarray:
        """(N,) bool ``isActive`` (set to all True in construction when not given)."""
        return np.ones(self.num_frames, bool) if self.is_active is None else self.is_active


@dataclasses.dataclass(frozen=True)
class OpenXRImport:
    """How to turn OpenXR hand joints into a stream."""

    world_from_reference: tuple[tuple[float, float, float], ...] = tuple(map(tuple, R_WORLD_FROM_OPENXR))
    """Rotation of the operator world frame from the reference space (3 rows)."""
    wrist_frame: WristFrameSource = WristFrameSource.JOINT
    """WRIST joint orientation (default) or rebuilt from keypoints."""
    untracked_confidence: float = 0.5
    """Confidence of a joint that is valid but not ``POSITION_TRACKED`` (inferred)."""
    nominal_rate_hz: float | None = None
    """Stored rate, Hz; default 1 / median sample spacing (required for one sample)."""
    operator_profile: str = ""
    """Stored in the metadata."""
    notes: str = ""
    """Stored in the metadata (after a description of the import)."""
    licence: str = ""
    """Licence of the data, stored in the metadata."""


def seconds_from_xr_time(xr_time_ns: np.ndarray) -> np.ndarray:
    """(N,) ``XrTime`` stamps (int64 ns) as seconds since the first, float64."""
    stamps = np.asarray(xr_time_ns, dtype=np.int64)
    return (stamps - stamps[0]).astype(np.float64) * 1e-9


def _rotation(config: OpenXRImport) -> np.ndarray:
    rot = float_array("world_from_reference", config.world_from_reference, (3, 3))
    if not (np.allclose(rot @ rot.T, np.eye(3), atol=1e-9) and np.linalg.det(rot) > 0):
        raise StreamImportError("world_from_reference: not a proper rotation matrix")
    return rot


def _hand_track(
    joints: OpenXRHandJoints, side: Side, rot_world_xr: np.ndarray, config: OpenXRImport
) -> HandTrack:
    flags = joints.location_flags
    active = joints.active[:, None]
    pos_ok = active & ((flags & POSITION_VALID) != 0) & np.isfinite(joints.positions).all(axis=2)
    points = np.where(pos_ok[..., None], joints.positions, np.nan)[:, _KEYPOINT_JOINT_INDEX]
    wrist_xr = points[:, 0]
    if config.wrist_frame is WristFrameSource.JOINT:
        quat = quat_wxyz_from_xyzw(joints.orientations[:, XrHandJoint.WRIST])
        norm = np.linalg.norm(quat, axis=1)
        # Runtimes give float32 unit quaternions; anything far from unit is not a rotation.
        ori_ok = ((flags[:, XrHandJoint.WRIST] & ORIENTATION_VALID) != 0) & (np.abs(norm - 1.0) < 1e-2)
        quat = np.where(ori_ok[:, None], quat / np.where(ori_ok, norm, 1.0)[:, None], np.nan)
        rot_xr_wrist = matrix_from_quat(quat) @ R_JOINT_WRIST
        frame_ok = ori_ok & pos_ok[:, XrHandJoint.WRIST]
    else:
        rot_xr_wrist, frame_ok = wrist_frame_from_keypoints(points, side)
    keypoints = to_frame(points, wrist_xr, rot_xr_wrist)
    valid = frame_ok[:, None] & pos_ok[:, _KEYPOINT_JOINT_INDEX]
    tracked = (flags[:, _KEYPOINT_JOINT_INDEX] & POSITION_TRACKED) != 0
    confidence = np.where(tracked, 1.0, config.untracked_confidence)
    wrist_pos = wrist_xr @ rot_world_xr.T
    wrist_quat = quat_from_matrix(rot_world_xr @ rot_xr_wrist)
    return track_from_arrays(wrist_pos, wrist_quat, frame_ok, keypoints, valid, confidence)


def import_openxr(
    t: object, hands: Mapping[Side, OpenXRHandJoints], config: OpenXRImport = OpenXRImport()
) -> StreamRecording:
    """Both (or one) hands' OpenXR joints as a recording (rules in the module docstring).

    Args:
        t: (N,) strictly increasing sample times, s (see :func:`seconds_from_xr_time`).
        hands: joints per side; a side left out is absent from the recording.
        config: axis conversion, wrist frame source, confidence and metadata.
    """
    well_typed = all(isinstance(s, Side) and isinstance(j, OpenXRHandJoints) for s, j in hands.items())
    if not hands or not well_typed:
        raise StreamImportError("hands: expected a non-empty mapping Side -> OpenXRHandJoints")
    if not (0.0 <= config.untracked_confidence <= 1.0):
        raise StreamImportError(f"untracked_confidence must lie in [0, 1], got {config.untracked_confidence}")
    times = float_array("t", t, (None,))
    num = times.shape[0]
    for side, joints in hands.items():
        if joints.num_frames != num:
            raise StreamImportError(f"{side.value}: {joints.num_frames} samples but t has {num}")
    if num < 1 or not np.isfinite(times).all() or (np.diff(times) <= 0).any():
        raise StreamImportError("t: must be non-empty, finite and strictly increasing")
    rate = config.nominal_rate_hz
    if rate is None:
        if num < 2:
            raise StreamImportError("nominal_rate_hz is needed for a single sample")
        rate = float(1.0 / np.median(np.diff(times)))
    if not (np.isfinite(rate) and rate > 0):
        raise StreamImportError(f"nominal_rate_hz must be > 0, got {rate}")
    rot = _rotation(config)
    tracks = {side: _hand_track(joints, side, rot, config) for side, joints in hands.items()}
    description = (
        f"OpenXR XR_EXT_hand_tracking joints ({', '.join(s.value for s in tracks)}); "
        f"wrist frame from {config.wrist_frame.value}"
    )
    metadata = RecordingMetadata(
        source="openxr",
        nominal_rate_hz=float(rate),
        operator_profile=config.operator_profile,
        notes=f"{description}. {config.notes}".strip(),
        licence=config.licence,
    )
    return StreamRecording(
        metadata=metadata, t=times, hands=tracks, takeover=np.zeros(num, bool), copilot=np.zeros(num, bool)
    )
