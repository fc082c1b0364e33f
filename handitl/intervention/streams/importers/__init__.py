"""Importers: third-party hand data to :class:`~handitl.intervention.streams.recording.StreamRecording`.

* :mod:`.mediapipe` — MediaPipe-21 landmark arrays (wrist-centred, world or image space).
* :mod:`.qualisys` — Qualisys TSV marker exports (back-of-hand + finger markers).
* :mod:`.openxr` — OpenXR ``XR_EXT_hand_tracking`` 26-joint poses.
* :mod:`.mano` — MANO-style pose sequences through a generic human-skeleton FK.

Each importer returns keypoints in the handitl wrist frame and wrist poses in the operator
world frame (conventions in :mod:`handitl.intervention.streams.frame`); whatever the
source did not observe is invalid (NaN), never filled in.
"""

from __future__ import annotations

import numpy as np

from handitl.intervention.streams.recording import HandTrack


class StreamImportError(ValueError):
    """Third-party input is malformed; the message names the line, column or array."""


def track_from_arrays(
    wrist_pos: np.ndarray,
    wrist_quat: np.ndarray,
    wrist_valid: np.ndarray,
    keypoints: np.ndarray,
    valid: np.ndarray,
    confidence: np.ndarray,
) -> HandTrack:
    """A :class:`HandTrack` with the invalid-is-NaN rules applied.

    Args:
        wrist_pos: (N, 3) wrist position, operator world frame, m.
        wrist_quat: (N, 4) unit quaternion (w, x, y, z) of the wrist frame in the world frame.
        wrist_valid: (N,) whether the pose was observed; also False where it is not finite.
        keypoints: (N, 21, 3) in the wrist frame, m.
        valid: (N, 21); also False where a keypoint is not finite.
        confidence: (N, 21) in [0, 1] for valid keypoints.
    """
    wrist_valid = wrist_valid & np.isfinite(wrist_pos).all(axis=1) & np.isfinite(wrist_quat).all(axis=1)
    valid = valid & np.isfinite(keypoints).all(axis=2)
    return HandTrack(
        wrist_pos=np.where(wrist_valid[:, None], wrist_pos, np.nan),
        wrist_quat=np.where(wrist_valid[:, None], wrist_quat, np.nan),
        wrist_valid=wrist_valid,
        keypoints=np.where(valid[..., None], keypoints, np.nan),
        valid=valid,
        confidence=np.where(valid, confidence, 0.0),
    )


def float_array(name: str, value: object, shape: tuple[int | None, ...]) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` (``None`` matches any length), else
    :class:`StreamImportError` naming ``name``."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StreamImportError(f"{name}: not numeric ({exc})") from None
    if array.ndim != len(shape) or any(e is not None and e != a for e, a in zip(shape, array.shape)):
        expected = str(tuple("N" if e is None else e for e in shape)).replace("'", "")
        raise StreamImportError(f"{name}: shape {array.shape}, expected {expected}")
    return array


def timestamps_or_rate(num_frames: int, rate_hz: float, timestamps: object) -> tuple[np.ndarray, float]:
    """Sample times (N,), s, and the nominal rate, Hz: ``timestamps`` checked, else ``k / rate_hz``.

    With timestamps the nominal rate is 1 / (median spacing) (``rate_hz`` for one sample).
    """
    if not (np.isfinite(rate_hz) and rate_hz > 0):
        raise StreamImportError(f"rate must be finite and > 0 Hz, got {rate_hz}")
    if timestamps is None:
        return np.arange(num_frames) / float(rate_hz), float(rate_hz)
    t = float_array("timestamps", timestamps, (num_frames,))
    if not np.isfinite(t).all() or (np.diff(t) <= 0).any():
        raise StreamImportError("timestamps: must be finite and strictly increasing")
    return t, float(1.0 / np.median(np.diff(t))) if num_frames > 1 else float(rate_hz)


# Submodules import StreamImportError from here, so it is defined above these imports.
from handitl.intervention.streams.importers.mano import (  # noqa: E402
    ManoImport,
    ManoSequence,
    import_mano,
    mano_track,
)
from handitl.intervention.streams.importers.mediapipe import (  # noqa: E402
    LandmarkSpace,
    MediaPipeImport,
    import_mediapipe,
    load_mediapipe_npy,
)
from handitl.intervention.streams.importers.openxr import (  # noqa: E402
    OpenXRHandJoints,
    OpenXRImport,
    WristFrameSource,
    XrHandJoint,
    import_openxr,
    seconds_from_xr_time,
)
from handitl.intervention.streams.importers.qualisys import (  # noqa: E402
    MarkerCalibration,
    QualisysImport,
    QualisysMarkers,
    import_qualisys,
    parse_qualisys_tsv,
    read_qualisys_tsv,
)

__all__ = [
    "LandmarkSpace",
    "ManoImport",
    "ManoSequence",
    "import_mano",
    "mano_track",
    "MarkerCalibration",
    "MediaPipeImport",
    "OpenXRHandJoints",
    "OpenXRImport",
    "QualisysImport",
    "QualisysMarkers",
    "StreamImportError",
    "WristFrameSource",
    "XrHandJoint",
    "import_mediapipe",
    "import_openxr",
    "import_qualisys",
    "load_mediapipe_npy",
    "parse_qualisys_tsv",
    "read_qualisys_tsv",
    "seconds_from_xr_time",
    "float_array",
    "timestamps_or_rate",
    "track_from_arrays",
]
