"""MediaPipe-21 hand landmarks -> :class:`StreamRecording` (one hand).

Input: ``(N, 21, 3)`` landmarks in MediaPipe order, one of two spaces
(:class:`LandmarkSpace`):

* ``METRIC``: metres in any right-handed frame. Covers wrist-centred canonical arrays
  (e.g. dex-retargeting's ``human_joint_right.pkl``) and MediaPipe's *world* landmarks
  (``multi_hand_world_landmarks``: origin at the hand's centre, camera axes x right,
  y down, z away from the camera).
* ``IMAGE``: MediaPipe's normalised *image* landmarks (``multi_hand_landmarks``): x and y
  divided by the image width and height (y down), z the depth relative to the wrist at
  roughly the scale of x. They are turned into pixels (x W, y H, z W) and then scaled per
  frame so that the wrist -> middle-MCP distance equals ``palm_length`` (m): metric only
  up to that assumed hand size (a weak-perspective approximation).

In both, the handitl wrist frame is rebuilt from the landmarks of each frame
(:func:`~handitl.intervention.streams.geometry.wrist_frame_from_keypoints`: +z toward the
middle MCP, +x the palmar normal of the wrist/index-MCP/little-MCP plane, +y = z x x), so
the input's orientation does not matter, only its handedness: a selfie-mirrored image (or
any left-handed axes) needs ``mirrored=True``, which negates x first; otherwise a right
hand would come out with its palmar normal reversed.

No world wrist pose exists in this data: the wrist pose is invalid unless the caller
passes ``wrist_pos``/``wrist_quat`` (of the handitl wrist frame in the operator world
frame). A landmark that is not finite is invalid; a frame whose wrist, index, middle or
little MCP is missing (or degenerate) has all keypoints invalid, since no wrist frame can
be built for it.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from pathlib import Path

import numpy as np

from handitl.assets.hand_description import KEYPOINT_NAMES, Side
from handitl.intervention.streams.geometry import to_frame, wrist_frame_from_keypoints
from handitl.intervention.streams.importers import (
    StreamImportError,
    float_array,
    timestamps_or_rate,
    track_from_arrays,
)
from handitl.intervention.streams.recording import RecordingMetadata, StreamRecording

NUM_KEYPOINTS = len(KEYPOINT_NAMES)
_WRIST = KEYPOINT_NAMES.index("wrist")
_MIDDLE_MCP = KEYPOINT_NAMES.index("middle_mcp")


class LandmarkSpace(str, enum.Enum):
    """Which MediaPipe coordinates the landmarks are in (see the module docstring)."""

    METRIC = "metric"
    IMAGE = "image"


@dataclasses.dataclass(frozen=True)
class MediaPipeImport:
    """How to read a MediaPipe landmark array."""

    side: Side = Side.RIGHT
    """Which hand the landmarks belong to (sets the sign of the palmar normal)."""
    fps: float = 30.0
    """Frame rate, Hz: times are k / fps unless timestamps are given."""
    space: LandmarkSpace = LandmarkSpace.METRIC
    """Coordinates of the input."""
    mirrored: bool = False
    """Input axes are left-handed (selfie-mirrored image): x is negated before anything else."""
    image_size: tuple[int, int] | None = None
    """(width, height) in pixels; required for ``IMAGE``."""
    palm_length: float | None = None
    """Wrist to middle-MCP distance, m, that ``IMAGE`` frames are scaled to (e.g. 0.09)."""
    operator_profile: str = ""
    """Stored in the metadata."""
    notes: str = ""
    """Stored in the metadata (after a description of the import)."""
    licence: str = ""
    """Licence of the data, stored in the metadata."""


def _to_metric(landmarks: np.ndarray, config: MediaPipeImport) -> np.ndarray:
    """Landmarks in a right-handed frame; pixels for IMAGE (scaled later in the wrist frame)."""
    points = landmarks.copy()
    if config.mirrored:
        points[..., 0] *= -1.0
    if config.space is LandmarkSpace.IMAGE:
        if config.image_size is None or config.palm_length is None:
            raise StreamImportError("IMAGE landmarks need image_size=(width, height) and palm_length (m)")
        width, height = config.image_size
        if not (width > 0 and height > 0 and np.isfinite(config.palm_length) and config.palm_length > 0):
            raise StreamImportError(
                f"image_size {config.image_size} and palm_length {config.palm_length} must be positive"
            )
        points *= np.array([width, height, width], dtype=np.float64)
    return points


def _wrist_pose(num: int, wrist_pos: object, wrist_quat: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Caller-given wrist poses (or none): (N, 3), (N, 4) normalised, (N,) valid."""
    if wrist_pos is None and wrist_quat is None:
        return np.full((num, 3), np.nan), np.full((num, 4), np.nan), np.zeros(num, bool)
    if wrist_pos is None or wrist_quat is None:
        raise StreamImportError("wrist_pos and wrist_quat must be given together")
    pos = float_array("wrist_pos", wrist_pos, (num, 3))
    quat = float_array("wrist_quat", wrist_quat, (num, 4))
    norm = np.linalg.norm(quat, axis=1)
    finite = np.isfinite(pos).all(axis=1) & np.isfinite(norm)
    if (np.abs(norm[finite] - 1.0) > 1e-3).any():
        raise StreamImportError("wrist_quat: finite quaternions must be unit norm (w, x, y, z)")
    quat = np.where(finite[:, None], quat / np.where(finite, norm, 1.0)[:, None], np.nan)
    return pos, quat, finite


def import_mediapipe(
    landmarks: object,
    config: MediaPipeImport = MediaPipeImport(),
    *,
    timestamps: object = None,
    confidence: object = None,
    wrist_pos: object = None,
    wrist_quat: object = None,
) -> StreamRecording:
    """One hand's MediaPipe landmarks as a recording (rules in the module docstring).

    Args:
        landmarks: (N, 21, 3) in ``config.space``; NaN where not detected.
        config: side, rate, input space and metadata.
        timestamps: (N,) strictly increasing sample times, s (default k / fps).
        confidence: (N, 21) per-landmark confidence in [0, 1] (default 1 where valid).
        wrist_pos: (N, 3) wrist positions in the operator world frame, m (NaN = unknown).
        wrist_quat: (N, 4) wrist-frame orientations (w, x, y, z) in that frame.

    Returns:
        A recording with only ``config.side``, pedals released, source "mediapipe".
    """
    raw = float_array("landmarks", landmarks, (None, NUM_KEYPOINTS, 3))
    num = raw.shape[0]
    if num < 1:
        raise StreamImportError("landmarks: no frames")
    t, rate = timestamps_or_rate(num, config.fps, timestamps)
    points = _to_metric(raw, config)
    rot, frame_ok = wrist_frame_from_keypoints(points, config.side)
    keypoints = to_frame(points, points[:, _WRIST], rot)
    if config.space is LandmarkSpace.IMAGE:
        # Weak perspective: each frame's scale from its own palm length.
        assert config.palm_length is not None
        keypoints *= (config.palm_length / keypoints[:, _MIDDLE_MCP, 2])[:, None, None]
    valid = frame_ok[:, None] & np.isfinite(points).all(axis=2)
    if confidence is None:
        conf = np.ones((num, NUM_KEYPOINTS))
    else:
        conf = float_array("confidence", confidence, (num, NUM_KEYPOINTS))
        if not ((conf[valid] >= 0) & (conf[valid] <= 1)).all():
            raise StreamImportError("confidence: must lie in [0, 1] for detected landmarks")
    pos, quat, wrist_valid = _wrist_pose(num, wrist_pos, wrist_quat)
    track = track_from_arrays(pos, quat, wrist_valid, keypoints, valid, conf)
    description = (
        f"MediaPipe-21 {config.side.value} hand, {config.space.value} landmarks"
        f"{' (mirrored input)' if config.mirrored else ''}; wrist frame rebuilt from the "
        f"keypoints; wrist pose {'given' if wrist_valid.any() else 'unknown'}"
    )
    metadata = RecordingMetadata(
        source="mediapipe",
        nominal_rate_hz=rate,
        operator_profile=config.operator_profile,
        notes=f"{description}. {config.notes}".strip(),
        licence=config.licence,
    )
    return StreamRecording(
        metadata=metadata,
        t=t,
        hands={config.side: track},
        takeover=np.zeros(num, bool),
        copilot=np.zeros(num, bool),
    )


def load_mediapipe_npy(
    path: str | os.PathLike[str], config: MediaPipeImport = MediaPipeImport()
) -> StreamRecording:
    """:func:`import_mediapipe` on a ``.npy`` file holding an (N, 21, 3) landmark array.

    Times come from ``config.fps``; for timestamps, confidences or wrist poses call
    :func:`import_mediapipe` on the loaded array. Pickled files are refused.
    """
    path = Path(path)
    try:
        landmarks = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise StreamImportError(f"{path}: not a readable .npy array ({exc})") from None
    if not isinstance(landmarks, np.ndarray):
        raise StreamImportError(f"{path}: holds an archive, not one (N, 21, 3) array")
    notes = f"from {path.name}. {config.notes}".strip()
    return import_mediapipe(landmarks, dataclasses.replace(config, notes=notes))
