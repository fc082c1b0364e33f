"""Recorded human streams: the in-memory :class:`StreamRecording` and its HDF5 file format.

A recording holds N samples of both hands and the pedals on the recording's own clock
(any origin, seconds). Conventions are those of :mod:`handitl.intervention.streams.frame`:
metres, quaternions (w, x, y, z) of the wrist frame in the operator world frame
(+z up), keypoints in the wrist frame, MediaPipe order; unobserved values are NaN with
their ``valid`` flag False and confidence 0, never invented.

On-disk layout, format ``handitl.stream`` version 1.0 (HDF5, written by
:func:`write_recording`, checked by :func:`read_recording`)::

    /                        attributes (all scalars):
        format               str   "handitl.stream"
        format_version       str   "MAJOR.MINOR"; readers accept their major version and any
                                   minor one (minor versions only add optional content)
        sides                str   comma-separated hands present, in SIDES order:
                                   "left,right", "right", "left" or "" (pedals only)
        source               str   "mediapipe", "qualisys", "openxr", "mano", "simulated",
                                   "live", ...
        nominal_rate_hz      float nominal sample rate, Hz (> 0; samples may still jitter)
        operator_profile     str   operator profile name ("" if none)
        units                str   "m" (the only unit accepted)
        notes                str   free-form provenance
        licence              str   licence of the data ("" if unknown)
        created              str   ISO 8601 UTC time the recording was made
    /t                       float64 (N,)       sample times, s, finite, strictly increasing
    /pedals/takeover         bool    (N,)       full-takeover pedal pressed
    /pedals/copilot          bool    (N,)       copilot pedal pressed
    /<side>/                 one group per entry of ``sides`` ("left", "right"), each with
        wrist_pos            float64 (N, 3)     wrist position, operator world frame, m
        wrist_quat           float64 (N, 4)     wrist-frame orientation (w, x, y, z)
        wrist_valid          bool    (N,)
        keypoints            float64 (N, 21, 3) keypoints in the wrist frame, m
        valid                bool    (N, 21)
        confidence           float64 (N, 21)    in [0, 1]

Content rules (checked on construction and on reading): where ``wrist_valid`` the pose is
finite and ``|wrist_quat| = 1`` within 1e-6, elsewhere both are NaN; a valid keypoint is
finite, an invalid one is NaN with confidence 0. Booleans are HDF5 enums (h5py's bool);
float datasets are stored gzip-compressed with Fletcher-32 checksums, so a corrupted chunk
is reported instead of read back as wrong numbers.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import h5py
import numpy as np

from handitl.assets.hand_description import KEYPOINT_NAMES, SIDES, Side
from handitl.intervention.streams.frame import HandState, HumanFrame, PedalState

FORMAT_NAME = "handitl.stream"
FORMAT_VERSION = "1.0"
"""Version written by this module; files with the same major version are read."""
UNITS = "m"
QUAT_NORM_TOL = 1e-6
"""Allowed deviation of a valid quaternion's norm from 1 (as :class:`HandState`)."""
MAX_FRAMES = 100_000_000
"""Refuse larger files (11 days at 100 Hz): a corrupt header must not trigger a huge read."""
NUM_KEYPOINTS = len(KEYPOINT_NAMES)

_FLOAT_DATASETS: dict[str, tuple[int, ...]] = {
    "wrist_pos": (3,),
    "wrist_quat": (4,),
    "keypoints": (NUM_KEYPOINTS, 3),
    "confidence": (NUM_KEYPOINTS,),
}
_BOOL_DATASETS: dict[str, tuple[int, ...]] = {"wrist_valid": (), "valid": (NUM_KEYPOINTS,)}
_PEDALS = ("takeover", "copilot")
_STR_ATTRS = ("source", "operator_profile", "units", "notes", "licence", "created")


class RecordingError(ValueError):
    """A recording or recording file is malformed; the message names the dataset and problem."""


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _parse_version(version: str) -> tuple[int, int]:
    parts = version.split(".") if isinstance(version, str) else []
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise RecordingError(f"format_version {version!r} is not 'MAJOR.MINOR'")
    return int(parts[0]), int(parts[1])


@dataclasses.dataclass(frozen=True)
class RecordingMetadata:
    """Provenance of a recording (root attributes of the file)."""

    source: str
    """Where the data came from: "mediapipe", "qualisys", "openxr", "mano", "simulated", "live"."""
    nominal_rate_hz: float
    """Nominal sample rate, Hz (> 0)."""
    operator_profile: str = ""
    """Name of the operator profile (hand size, calibration) used, "" if none."""
    notes: str = ""
    """Free-form provenance: original file, processing, calibration."""
    licence: str = ""
    """Licence of the data, "" if unknown."""
    created: str = dataclasses.field(default_factory=_utc_now)
    """ISO 8601 UTC time the recording was made (default: now)."""
    units: str = UNITS
    """Length unit; only "m" is accepted."""
    format_version: str = FORMAT_VERSION
    """Format version of the file this came from (files are always written as FORMAT_VERSION)."""

    def __post_init__(self) -> None:
        for name in (*_STR_ATTRS, "format_version"):
            if not isinstance(getattr(self, name), str):
                raise RecordingError(
                    f"metadata {name} must be a str, got {type(getattr(self, name)).__name__}"
                )
        if not self.source:
            raise RecordingError("metadata source must not be empty")
        rate = self.nominal_rate_hz
        if (
            isinstance(rate, bool)
            or not isinstance(rate, (int, float))
            or not (math.isfinite(rate) and rate > 0)
        ):
            raise RecordingError(f"metadata nominal_rate_hz must be a finite number > 0, got {rate!r}")
        if self.units != UNITS:
            raise RecordingError(f"metadata units {self.units!r}: only {UNITS!r} is supported")
        _parse_version(self.format_version)


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _checked_float(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != shape:
        raise RecordingError(f"{name}: shape {array.shape}, expected {shape}")
    if array.dtype.kind not in "fiu":
        raise RecordingError(f"{name}: dtype {array.dtype}, expected float64")
    return array.astype(np.float64)


def _checked_bool(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != shape:
        raise RecordingError(f"{name}: shape {array.shape}, expected {shape}")
    if array.dtype != np.bool_:
        raise RecordingError(f"{name}: dtype {array.dtype}, expected bool")
    return array.copy()


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclasses.dataclass(frozen=True, eq=False)
class HandTrack:
    """One hand over N samples (the arrays of one ``/<side>`` group).

    Attributes:
        wrist_pos: (N, 3) wrist position in the operator world frame, m; NaN where invalid.
        wrist_quat: (N, 4) wrist-frame orientation in the operator world frame (w, x, y, z).
        wrist_valid: (N,) bool.
        keypoints: (N, 21, 3) keypoints in the wrist frame, m, MediaPipe order; NaN where invalid.
        valid: (N, 21) bool.
        confidence: (N, 21) in [0, 1]; 0 where invalid.

    Arrays are stored as read-only float64/bool copies; the content rules of the module
    docstring are checked here and raise :class:`RecordingError` naming the array.
    """

    wrist_pos: np.ndarray
    wrist_quat: np.ndarray
    wrist_valid: np.ndarray
    keypoints: np.ndarray
    valid: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        if np.ndim(self.wrist_valid) != 1:
            raise RecordingError(f"wrist_valid: shape {np.shape(self.wrist_valid)}, expected (N,)")
        n = int(np.shape(self.wrist_valid)[0])
        for name, tail in _FLOAT_DATASETS.items():
            object.__setattr__(self, name, _checked_float(name, getattr(self, name), (n, *tail)))
        for name, tail in _BOOL_DATASETS.items():
            object.__setattr__(self, name, _checked_bool(name, getattr(self, name), (n, *tail)))
        _check_wrist(self.wrist_pos, self.wrist_quat, self.wrist_valid)
        _check_keypoints(self.keypoints, self.valid, self.confidence)
        for name in (*_FLOAT_DATASETS, *_BOOL_DATASETS):
            _read_only(getattr(self, name))

    @property
    def num_frames(self) -> int:
        return int(self.wrist_valid.shape[0])

    @classmethod
    def untracked(cls, num_frames: int) -> HandTrack:
        """A hand never observed over ``num_frames`` samples."""
        return cls(
            wrist_pos=np.full((num_frames, 3), np.nan),
            wrist_quat=np.full((num_frames, 4), np.nan),
            wrist_valid=np.zeros(num_frames, bool),
            keypoints=np.full((num_frames, NUM_KEYPOINTS, 3), np.nan),
            valid=np.zeros((num_frames, NUM_KEYPOINTS), bool),
            confidence=np.zeros((num_frames, NUM_KEYPOINTS)),
        )

    @classmethod
    def from_states(cls, states: Sequence[HandState | None]) -> HandTrack:
        """Stack per-sample hand states; ``None`` (untracked) becomes an all-invalid sample.

        Invalid values are stored as NaN and their confidence as 0, whatever the state held.
        """
        track: dict[str, list[np.ndarray]] = {name: [] for name in (*_FLOAT_DATASETS, *_BOOL_DATASETS)}
        blank = cls.untracked(1)
        for state in states:
            source: Any = blank if state is None else state
            for name, values in track.items():
                value = np.asarray(getattr(source, name))
                values.append(value[0] if state is None else value)
        arrays = {name: np.array(values) for name, values in track.items()}
        arrays["wrist_valid"] = arrays["wrist_valid"].astype(bool).reshape(len(states))
        invalid_wrist = ~arrays["wrist_valid"]
        arrays["wrist_pos"][invalid_wrist] = np.nan
        arrays["wrist_quat"][invalid_wrist] = np.nan
        arrays["keypoints"][~arrays["valid"]] = np.nan
        arrays["confidence"][~arrays["valid"]] = 0.0
        return cls(**arrays)

    def state(self, index: int) -> HandState | None:
        """Sample ``index`` as a :class:`HandState`, or ``None`` if nothing of it was observed."""
        if not (self.wrist_valid[index] or self.valid[index].any()):
            return None
        return HandState(
            wrist_pos=self.wrist_pos[index],
            wrist_quat=self.wrist_quat[index],
            wrist_valid=bool(self.wrist_valid[index]),
            keypoints=self.keypoints[index],
            valid=self.valid[index],
            confidence=self.confidence[index],
        )

    def equals(self, other: HandTrack) -> bool:
        """Exact equality of every array, NaN equal to NaN."""
        return all(
            np.array_equal(getattr(self, n), getattr(other, n), equal_nan=n in _FLOAT_DATASETS)
            for n in (*_FLOAT_DATASETS, *_BOOL_DATASETS)
        )


def _check_wrist(pos: np.ndarray, quat: np.ndarray, valid: np.ndarray) -> None:
    for name, values in (("wrist_pos", pos), ("wrist_quat", quat)):
        bad = valid & ~np.isfinite(values).all(axis=1)
        if bad.any():
            raise RecordingError(f"{name}: not finite where wrist_valid (sample {_first_index(bad)[0]})")
        stray = ~valid & ~np.isnan(values).all(axis=1)
        if stray.any():
            raise RecordingError(
                f"{name}: must be NaN where not wrist_valid (sample {_first_index(stray)[0]})"
            )
    norm = np.linalg.norm(np.where(valid[:, None], quat, 1.0), axis=1)
    off = valid & (np.abs(norm - 1.0) > QUAT_NORM_TOL)
    if off.any():
        i = _first_index(off)[0]
        raise RecordingError(f"wrist_quat: not unit norm where wrist_valid (sample {i}: |q| = {norm[i]:.9g})")


def _check_keypoints(keypoints: np.ndarray, valid: np.ndarray, confidence: np.ndarray) -> None:
    def where(index: tuple[int, ...]) -> str:
        return f"sample {index[0]}, keypoint {index[1]} '{KEYPOINT_NAMES[index[1]]}'"

    bad = valid & ~np.isfinite(keypoints).all(axis=2)
    if bad.any():
        raise RecordingError(f"keypoints: a valid keypoint is not finite ({where(_first_index(bad))})")
    stray = ~valid & ~np.isnan(keypoints).all(axis=2)
    if stray.any():
        raise RecordingError(f"keypoints: an invalid keypoint is not NaN ({where(_first_index(stray))})")
    outside = ~((confidence >= 0.0) & (confidence <= 1.0))  # NaN is outside too
    if outside.any():
        index = _first_index(outside)
        raise RecordingError(f"confidence: {float(confidence[index])!r} outside [0, 1] ({where(index)})")
    nonzero = ~valid & (confidence != 0.0)
    if nonzero.any():
        raise RecordingError(f"confidence: must be 0 where invalid ({where(_first_index(nonzero))})")


def _check_times(t: np.ndarray) -> None:
    if t.shape[0] < 1:
        raise RecordingError("t: empty recording (need at least one sample)")
    if not np.isfinite(t).all():
        raise RecordingError(f"t: not finite (sample {_first_index(~np.isfinite(t))[0]})")
    step = np.diff(t)
    if (step <= 0).any():
        i = _first_index(step <= 0)[0] + 1
        raise RecordingError(
            f"t: not strictly increasing (t[{i}] = {float(t[i])!r} after t[{i - 1}] = {float(t[i - 1])!r})"
        )


@dataclasses.dataclass(frozen=True, eq=False)
class StreamRecording:
    """N samples of both hands and the pedals, on the recording's clock.

    Attributes:
        metadata: provenance (see :class:`RecordingMetadata`).
        t: (N,) sample times, s, finite and strictly increasing (any origin).
        hands: tracks of the hands present, keyed by side (absent side = never recorded).
        takeover: (N,) bool, full-takeover pedal.
        copilot: (N,) bool, copilot pedal.
    """

    metadata: RecordingMetadata
    t: np.ndarray
    hands: Mapping[Side, HandTrack]
    takeover: np.ndarray
    copilot: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.metadata, RecordingMetadata):
            raise RecordingError(f"metadata must be RecordingMetadata, got {type(self.metadata).__name__}")
        t = np.asarray(self.t)
        if t.ndim != 1:
            raise RecordingError(f"t: shape {t.shape}, expected (N,)")
        t = _checked_float("t", t, t.shape)
        _check_times(t)
        n = t.shape[0]
        object.__setattr__(self, "t", _read_only(t))
        for name in _PEDALS:
            object.__setattr__(
                self, name, _read_only(_checked_bool(f"pedals/{name}", getattr(self, name), (n,)))
            )
        unknown = [s for s in self.hands if not isinstance(s, Side)]
        if unknown:
            raise RecordingError(f"hands: keys {unknown} are not Side members; use Side.LEFT / Side.RIGHT")
        for side, track in self.hands.items():
            if not isinstance(track, HandTrack):
                raise RecordingError(f"{side.value}: expected a HandTrack, got {type(track).__name__}")
            if track.num_frames != n:
                raise RecordingError(
                    f"{side.value}/wrist_valid: shape ({track.num_frames},), expected ({n},)"
                )
        ordered = {side: self.hands[side] for side in SIDES if side in self.hands}
        object.__setattr__(self, "hands", MappingProxyType(ordered))

    @property
    def num_frames(self) -> int:
        return int(self.t.shape[0])

    def __len__(self) -> int:
        return self.num_frames

    @property
    def sides(self) -> tuple[Side, ...]:
        """Hands present, in :data:`SIDES` order."""
        return tuple(self.hands)

    @property
    def duration(self) -> float:
        """Time from the first to the last sample, s."""
        return float(self.t[-1] - self.t[0])

    def frame(self, index: int) -> HumanFrame:
        """Sample ``index`` (negative counts from the end) as a :class:`HumanFrame`.

        A side absent from the recording, or with nothing observed in this sample, is ``None``.
        """
        i = range(self.num_frames)[index]  # IndexError with Python's message when out of range
        hands = {side: track.state(i) for side, track in self.hands.items()}
        pedals = PedalState(takeover=bool(self.takeover[i]), copilot=bool(self.copilot[i]))
        return HumanFrame(t=float(self.t[i]), hands=hands, pedals=pedals)

    @classmethod
    def from_frames(
        cls, frames: Sequence[HumanFrame], metadata: RecordingMetadata, sides: Sequence[Side] | None = None
    ) -> StreamRecording:
        """Stack frames (strictly increasing ``t``) into a recording.

        Args:
            frames: the samples.
            metadata: provenance.
            sides: hands to keep; default every side tracked in at least one frame. A frame
                holding a hand of a side not listed raises :class:`RecordingError`.
        """
        if not frames:
            raise RecordingError("t: empty recording (need at least one sample)")
        if sides is None:
            sides = [s for s in SIDES if any(f.hand(s) is not None for f in frames)]
        for i, frame in enumerate(frames):
            extra = [s.value for s in SIDES if s not in sides and frame.hand(s) is not None]
            if extra:
                raise RecordingError(
                    f"frame {i} holds a {extra[0]} hand, not among sides {[s.value for s in sides]}"
                )
        return cls(
            metadata=metadata,
            t=np.array([f.t for f in frames], dtype=np.float64),
            hands={side: HandTrack.from_states([f.hand(side) for f in frames]) for side in sides},
            takeover=np.array([f.pedals.takeover for f in frames], dtype=bool),
            copilot=np.array([f.pedals.copilot for f in frames], dtype=bool),
        )

    def equals(self, other: StreamRecording) -> bool:
        """Exact equality of metadata and every array (NaN equal to NaN)."""
        return (
            self.metadata == other.metadata
            and self.sides == other.sides
            and np.array_equal(self.t, other.t)
            and all(np.array_equal(getattr(self, p), getattr(other, p)) for p in _PEDALS)
            and all(self.hands[s].equals(other.hands[s]) for s in self.sides)
        )


# --------------------------------------------------------------------------------------------
# Writing


def write_recording(path: str | os.PathLike[str], recording: StreamRecording) -> Path:
    """Write ``recording`` to ``path`` (HDF5, layout in the module docstring), atomically.

    The file is written next to ``path`` under a temporary name, flushed to disk and renamed
    over ``path``, so readers see the old file or the complete new one, never a partial
    one. A failure removes the temporary file; a killed process may leave a hidden
    ``.<name>.<id>.tmp`` file behind, but never a half-written ``path``.

    Returns:
        ``path`` as a :class:`Path`.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with h5py.File(tmp, "w") as file:
            _write_contents(file, recording)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _write_contents(file: h5py.File, recording: StreamRecording) -> None:
    meta = recording.metadata
    file.attrs["format"] = FORMAT_NAME
    file.attrs["format_version"] = FORMAT_VERSION
    file.attrs["sides"] = ",".join(side.value for side in recording.sides)
    for name in _STR_ATTRS:
        file.attrs[name] = getattr(meta, name)
    file.attrs["nominal_rate_hz"] = float(meta.nominal_rate_hz)
    _write_dataset(file, "t", recording.t)
    pedals = file.create_group("pedals")
    for name in _PEDALS:
        _write_dataset(pedals, name, getattr(recording, name))
    for side, track in recording.hands.items():
        group = file.create_group(side.value)
        for name in (*_FLOAT_DATASETS, *_BOOL_DATASETS):
            _write_dataset(group, name, getattr(track, name))


def _write_dataset(group: h5py.Group, name: str, data: np.ndarray) -> None:
    group.create_dataset(
        name, data=data, compression="gzip", compression_opts=4, shuffle=True, fletcher32=True
    )


# --------------------------------------------------------------------------------------------
# Reading


def read_recording(path: str | os.PathLike[str]) -> StreamRecording:
    """Read and validate a recording written by :func:`write_recording`.

    Raises:
        RecordingError: (and nothing else) if the file is missing, not HDF5, truncated or
            corrupted, of another format or a newer major version, or any dataset is
            absent, of the wrong shape or dtype, or breaks the content rules; the message
            starts with the path and names the dataset.
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise RecordingError("no such file")
        if not h5py.is_hdf5(path):
            raise RecordingError("not an HDF5 file")
        with h5py.File(path, "r") as file:
            return _read_contents(file)
    except RecordingError as exc:
        raise RecordingError(f"{path}: {exc}") from None
    except (
        OSError,
        KeyError,
        ValueError,
        TypeError,
        RuntimeError,
        AttributeError,
        IndexError,
        MemoryError,
        UnicodeDecodeError,
    ) as exc:
        # h5py reports corrupt or truncated files through several exception types.
        raise RecordingError(f"{path}: unreadable HDF5 content ({type(exc).__name__}: {exc})") from None


def _attr(file: h5py.File, name: str) -> Any:
    if name not in file.attrs:
        raise RecordingError(f"attribute {name!r} missing")
    value = file.attrs[name]
    if isinstance(value, np.ndarray):
        raise RecordingError(f"attribute {name!r}: expected a scalar, got an array of shape {value.shape}")
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return value


def _str_attr(file: h5py.File, name: str) -> str:
    value = _attr(file, name)
    if not isinstance(value, str):
        raise RecordingError(f"attribute {name!r}: expected a string, got {type(value).__name__}")
    return value


def _read_metadata(file: h5py.File) -> RecordingMetadata:
    fmt = _str_attr(file, "format")
    if fmt != FORMAT_NAME:
        raise RecordingError(
            f"attribute 'format' is {fmt!r}, expected {FORMAT_NAME!r} (not a handitl recording)"
        )
    version = _str_attr(file, "format_version")
    major, _ = _parse_version(version)
    supported, _ = _parse_version(FORMAT_VERSION)
    if major > supported:
        raise RecordingError(
            f"format version {version} is newer than this reader ({FORMAT_VERSION}); "
            "upgrade handitl to read it"
        )
    if major < supported:
        raise RecordingError(
            f"format version {version} is older than any this reader supports ({FORMAT_VERSION})"
        )
    rate = _attr(file, "nominal_rate_hz")
    if not (
        isinstance(rate, (float, np.floating, int, np.integer)) and not isinstance(rate, (bool, np.bool_))
    ):
        raise RecordingError(f"attribute 'nominal_rate_hz': expected a number, got {type(rate).__name__}")
    fields = {name: _str_attr(file, name) for name in _STR_ATTRS}
    units = fields["units"]
    if units != UNITS:
        raise RecordingError(f"attribute 'units' is {units!r}, expected {UNITS!r}")
    return RecordingMetadata(nominal_rate_hz=float(rate), format_version=version, **fields)


def _read_sides(file: h5py.File) -> tuple[Side, ...]:
    text = _str_attr(file, "sides")
    names = [s for s in text.split(",") if s] if text else []
    known = {s.value: s for s in SIDES}
    if any(n not in known for n in names) or len(set(names)) != len(names):
        raise RecordingError(f"attribute 'sides' is {text!r}, expected 'left,right', 'left', 'right' or ''")
    for side in SIDES:
        if side.value in file and side.value not in names:
            raise RecordingError(
                f"group '{side.value}' present but not listed in attribute 'sides' ({text!r})"
            )
    return tuple(s for s in SIDES if s.value in names)


def _dataset(group: h5py.Group, name: str, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """Read ``name`` after checking it is a dataset of ``shape`` and kind float64 / bool."""
    full = f"{group.name.strip('/')}/{name}".lstrip("/")
    if name not in group:
        raise RecordingError(f"{full}: missing")
    node = group[name]
    if not isinstance(node, h5py.Dataset):
        raise RecordingError(f"{full}: is a {type(node).__name__}, expected a dataset")
    if node.shape != shape:
        raise RecordingError(f"{full}: shape {node.shape}, expected {shape}")
    dtype = node.dtype
    if kind == "f" and not (dtype.kind == "f" and dtype.itemsize == 8):
        raise RecordingError(f"{full}: dtype {dtype}, expected float64")
    if kind == "b" and dtype != np.bool_:
        raise RecordingError(f"{full}: dtype {dtype}, expected bool")
    data: np.ndarray = np.empty(shape, dtype=np.float64 if kind == "f" else np.bool_)
    if data.size:
        node.read_direct(data)
    return data


def _read_contents(file: h5py.File) -> StreamRecording:
    metadata = _read_metadata(file)
    sides = _read_sides(file)
    node = file.get("t")
    if not isinstance(node, h5py.Dataset):
        raise RecordingError("t: missing")
    if len(node.shape) != 1:
        raise RecordingError(f"t: shape {node.shape}, expected (N,)")
    n = node.shape[0]
    if n > MAX_FRAMES:
        raise RecordingError(f"t: {n} samples exceeds the limit of {MAX_FRAMES}")
    t = _dataset(file, "t", (n,), "f")
    _check_times(t)
    if "pedals" not in file or not isinstance(file["pedals"], h5py.Group):
        raise RecordingError("pedals: missing group")
    pedals = {name: _dataset(file["pedals"], name, (n,), "b") for name in _PEDALS}
    hands: dict[Side, HandTrack] = {}
    for side in sides:
        if not isinstance(file.get(side.value), h5py.Group):
            raise RecordingError(f"{side.value}: missing group (listed in attribute 'sides')")
        group = file[side.value]
        arrays = {name: _dataset(group, name, (n, *tail), "f") for name, tail in _FLOAT_DATASETS.items()}
        arrays |= {name: _dataset(group, name, (n, *tail), "b") for name, tail in _BOOL_DATASETS.items()}
        try:
            hands[side] = HandTrack(**arrays)
        except RecordingError as exc:
            raise RecordingError(f"{side.value}/{exc}") from None
    return StreamRecording(metadata=metadata, t=t, hands=hands, **pedals)
