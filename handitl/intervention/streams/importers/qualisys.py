"""Qualisys TSV marker exports -> :class:`StreamRecording` (one hand).

File layout (Qualisys Track Manager "TSV export", 3D data): header lines
``KEY<TAB>value[<TAB>value...]`` (``FREQUENCY`` and ``MARKER_NAMES`` required;
``NO_OF_FRAMES``, if present, must match the data), then optionally a column-name row
``Frame Time <marker> X <marker> Y <marker> Z ...``, then one row per frame of
millimetres in ``MARKER_NAMES`` order (after the frame number and time, if the
column-name row announces them). A lost marker reads ``0 0 0``, ``nan`` or empty cells,
or its cells are missing from a short row; all of these become NaN. Anything else that
is not a finite number raises :class:`StreamImportError` naming the line and column.

Wrist pose from the three back-of-hand markers (glove of dfki-ric/hand_embodiment:
``hand_top`` distal, ``hand_left`` and ``hand_right`` either side near the wrist; for a
right hand seen from the back ``hand_left`` is on the thumb side). First a *marker frame*
with the handitl axis conventions:

* origin ``o`` = midpoint of the radial (thumb-side) and ulnar markers;
* +z = unit(top - o), toward the fingers;
* +y = the radial - ulnar direction made orthogonal to z, times the side's mirror sign
  (toward the thumb on a right hand, away from it on a left hand, as in the wrist frame);
* +x = y x z, the palmar normal (the markers sit on the back of the hand).

Then a fixed calibration :class:`MarkerCalibration` (given for a right hand, mirrored in
y for a left one) places the handitl wrist frame in the marker frame: the wrist keypoint
lies under the skin, palmar and proximal of the markers, and ``hand_top`` is not over the
middle finger. Defaults, measured on the reference recording
(``qualisys_hand_markers_100hz.tsv``) and from hand anatomy:

* rotation: -13 deg about the marker x axis (z turned 13 deg toward the thumb): with an
  open hand the middle finger's markers (``middle_middle``, ``middle_tip``) lie 12.6-14 deg
  off the marker z axis toward the thumb; ``hand_top`` sits over the ring metacarpal.
* origin: (0.025, 0, -0.035) m in the marker frame: 25 mm palmar (marker centre ~7 mm
  above the skin + ~18 mm to the middle of a ~35 mm thick wrist) and 35 mm proximal (the
  markers' midpoint lies on the back of the hand, distal of the wrist crease). With these,
  wrist-to-fingertip distances in the reference recording are 0.13 m (thumb) to 0.21 m
  (middle), as for an adult hand.

Keypoints (in that wrist frame; everything else invalid):

* ``<finger>_tip`` markers -> ``<finger>_tip`` keypoints, confidence 1 (the marker is on
  the nail, ~1 cm dorsal of the fingertip landmark);
* ``<finger>_middle`` markers (on the middle phalanx) -> ``<finger>_pip`` (the joint at the
  proximal end of that phalanx), and ``thumb_middle`` (on the thumb's proximal phalanx) ->
  ``thumb_mcp`` by the same rule; half a segment (10-20 mm) off the joint, so confidence
  :data:`PHALANX_MARKER_CONFIDENCE`;
* ``wrist``: the frame origin, valid whenever the wrist pose is, confidence 1.

A frame whose three back-of-hand markers are not all present (or are collinear) has an
invalid wrist and therefore no valid keypoint.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

from handitl.assets.hand_description import KEYPOINT_NAMES, Side
from handitl.intervention.streams.geometry import (
    MIRROR_Y,
    frame_from_z_and_x,
    quat_from_matrix,
    to_frame,
    unit,
)
from handitl.intervention.streams.importers import StreamImportError, track_from_arrays
from handitl.intervention.streams.recording import RecordingMetadata, StreamRecording

MM = 1e-3
"""Millimetres in metres."""
PHALANX_MARKER_CONFIDENCE = 0.5
"""Confidence of keypoints taken from mid-phalanx markers (half a segment off the joint)."""

DEFAULT_MARKER_KEYPOINTS: Mapping[str, str] = MappingProxyType(
    {
        "thumb_tip": "thumb_tip",
        "index_tip": "index_tip",
        "middle_tip": "middle_tip",
        "ring_tip": "ring_tip",
        "little_tip": "little_tip",
        "thumb_middle": "thumb_mcp",
        "index_middle": "index_pip",
        "middle_middle": "middle_pip",
        "ring_middle": "ring_pip",
        "little_middle": "little_pip",
    }
)
"""Marker name -> keypoint name (see the module docstring)."""


@dataclasses.dataclass(frozen=True)
class MarkerCalibration:
    """Back-of-hand markers and the handitl wrist frame's pose in their marker frame (right hand)."""

    top: str = "hand_top"
    """Distal marker (toward the fingers)."""
    radial: str = "hand_left"
    """Thumb-side marker near the wrist (``hand_left`` on a right-hand glove seen from the back)."""
    ulnar: str = "hand_right"
    """Little-finger-side marker near the wrist."""
    wrist_in_markers: tuple[float, float, float] = (0.025, 0.0, -0.035)
    """Wrist keypoint in the marker frame of a right hand, m."""
    rotvec_in_markers: tuple[float, float, float] = (-math.radians(13.0), 0.0, 0.0)
    """Wrist frame orientation in the marker frame of a right hand, rotation vector, rad."""

    def pose_in_markers(self, side: Side) -> tuple[np.ndarray, np.ndarray]:
        """(3,) origin and (3, 3) axes of the wrist frame in the marker frame of ``side``.

        For a left hand both are mirrored in y (``M p``, ``M R M``), which keeps the
        anatomical meaning: the same offset toward the palm, the same turn toward the thumb.
        """
        rotvec = np.asarray(self.rotvec_in_markers, dtype=np.float64)
        angle = float(np.linalg.norm(rotvec))
        axis = rotvec / angle if angle > 0 else np.zeros(3)
        skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        rot = np.eye(3) + math.sin(angle) * skew + (1 - math.cos(angle)) * skew @ skew
        pos = np.asarray(self.wrist_in_markers, dtype=np.float64)
        if side is Side.LEFT:
            return MIRROR_Y @ pos, MIRROR_Y @ rot @ MIRROR_Y
        return pos, rot


@dataclasses.dataclass(frozen=True)
class QualisysImport:
    """How to turn a Qualisys marker export into one hand's stream."""

    side: Side = Side.RIGHT
    """The gloved hand."""
    calibration: MarkerCalibration = MarkerCalibration()
    """Back-of-hand markers and the marker -> wrist frame offset."""
    marker_keypoints: Mapping[str, str] = dataclasses.field(default_factory=lambda: DEFAULT_MARKER_KEYPOINTS)
    """Finger marker -> keypoint; markers absent from the file give invalid keypoints."""
    operator_profile: str = ""
    """Stored in the metadata."""
    notes: str = ""
    """Stored in the metadata (after a description of the import)."""
    licence: str = ""
    """Licence of the data, stored in the metadata."""


@dataclasses.dataclass(frozen=True)
class QualisysMarkers:
    """A parsed TSV export.

    Attributes:
        header: KEY -> tab-separated values of each header line.
        rate_hz: the FREQUENCY header, Hz.
        t: (N,) frame times, s (the Time column, else k / rate_hz).
        markers: name -> (N, 3) positions in the mocap world frame, m; NaN where lost.
    """

    header: Mapping[str, tuple[str, ...]]
    rate_hz: float
    t: np.ndarray
    markers: Mapping[str, np.ndarray]


def _parse_header(lines: list[str]) -> tuple[dict[str, tuple[str, ...]], int]:
    """Header entries and the index of the first line after the header."""
    header: dict[str, tuple[str, ...]] = {}
    for i, line in enumerate(lines):
        fields = line.rstrip("\r").split("\t")
        key = fields[0].strip()
        if key == "Frame" or _is_number(key):
            return header, i
        if not key or not key.replace("_", "").isalnum() or not key.isupper():
            raise StreamImportError(f"line {i + 1}: expected a header line KEY<TAB>value, got {line[:60]!r}")
        header[key] = tuple(f for f in fields[1:] if f != "")
    return header, len(lines)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _header_rate(header: Mapping[str, tuple[str, ...]], line_of: Mapping[str, int]) -> float:
    values = header.get("FREQUENCY")
    if not values:
        raise StreamImportError("header: FREQUENCY missing")
    try:
        rate = float(values[0])
    except ValueError:
        raise StreamImportError(
            f"line {line_of['FREQUENCY']}: FREQUENCY {values[0]!r} is not a number"
        ) from None
    if not (math.isfinite(rate) and rate > 0):
        raise StreamImportError(f"line {line_of['FREQUENCY']}: FREQUENCY must be > 0, got {values[0]!r}")
    return rate


def _header_markers(header: Mapping[str, tuple[str, ...]], line_of: Mapping[str, int]) -> tuple[str, ...]:
    names = header.get("MARKER_NAMES")
    if not names:
        raise StreamImportError("header: MARKER_NAMES missing or empty")
    if len(set(names)) != len(names):
        raise StreamImportError(f"line {line_of['MARKER_NAMES']}: MARKER_NAMES has duplicates")
    return names


def _column_layout(line: str, line_no: int, names: tuple[str, ...]) -> None:
    """Check a ``Frame Time <m> X <m> Y <m> Z ...`` row against MARKER_NAMES."""
    fields = line.rstrip("\r").split("\t")
    while fields and fields[-1] == "":
        fields.pop()
    expected = ["Frame", "Time"] + [f"{n} {axis}" for n in names for axis in "XYZ"]
    if fields != expected:
        bad = next(
            (k for k, (a, b) in enumerate(zip(fields, expected)) if a != b), min(len(fields), len(expected))
        )
        got = fields[bad] if bad < len(fields) else "<end of line>"
        want = expected[bad] if bad < len(expected) else "<end of line>"
        raise StreamImportError(f"line {line_no}, column {bad + 1}: column name {got!r}, expected {want!r}")


def _parse_rows(lines: list[str], first_line_no: int, width: int) -> np.ndarray:
    """(N, width) floats; NaN for 'nan', empty or missing trailing cells."""
    rows = np.full((len(lines), width), np.nan)
    for r, line in enumerate(lines):
        fields = line.rstrip("\r").split("\t")
        while len(fields) > width and fields[-1] == "":
            fields.pop()
        if len(fields) > width:
            raise StreamImportError(
                f"line {first_line_no + r}: {len(fields)} cells, expected at most {width}"
            )
        try:
            rows[r, : len(fields)] = [float(cell) if cell.strip() else math.nan for cell in fields]
        except ValueError:
            column = next(c for c, cell in enumerate(fields) if cell.strip() and not _is_number(cell))
            raise StreamImportError(
                f"line {first_line_no + r}, column {column + 1}: {fields[column][:40]!r} is not a number"
            ) from None
    infinite = np.isinf(rows)
    if infinite.any():
        r, c = (int(i) for i in np.argwhere(infinite)[0])
        raise StreamImportError(f"line {first_line_no + r}, column {c + 1}: infinite value")
    return rows


def parse_qualisys_tsv(text: str) -> QualisysMarkers:
    """Parse the text of a Qualisys TSV 3D export (layout in the module docstring)."""
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    header, start = _parse_header(lines)
    line_of = {line.split("\t")[0].strip(): i + 1 for i, line in enumerate(lines[:start])}
    rate = _header_rate(header, line_of)
    names = _header_markers(header, line_of)
    has_time = start < len(lines) and lines[start].split("\t")[0].strip() == "Frame"
    if has_time:
        _column_layout(lines[start], start + 1, names)
        start += 1
    data_lines = lines[start:]
    if not data_lines:
        raise StreamImportError("no data rows after the header")
    offset = 2 if has_time else 0
    rows = _parse_rows(data_lines, start + 1, offset + 3 * len(names))
    declared = header.get("NO_OF_FRAMES")
    if declared is not None and not (declared and declared[0].isdigit()):
        raise StreamImportError(f"line {line_of['NO_OF_FRAMES']}: NO_OF_FRAMES {declared!r} is not a count")
    if declared and int(declared[0]) != len(rows):
        raise StreamImportError(
            f"line {line_of['NO_OF_FRAMES']}: NO_OF_FRAMES is {declared[0]} but the file "
            f"has {len(rows)} data rows (truncated?)"
        )
    if has_time:
        t = rows[:, 1]
        bad = ~np.isfinite(t)
        if bad.any():
            raise StreamImportError(f"line {start + 1 + int(np.argmax(bad))}, column 2: Time missing")
        back = np.diff(t) <= 0
        if back.any():
            raise StreamImportError(f"line {start + 2 + int(np.argmax(back))}, column 2: Time not increasing")
    else:
        t = np.arange(len(rows)) / rate
    markers = {}
    for k, name in enumerate(names):
        xyz = rows[:, offset + 3 * k : offset + 3 * k + 3] * MM
        lost = (xyz == 0.0).all(axis=1) | ~np.isfinite(xyz).all(axis=1)
        markers[name] = np.where(lost[:, None], np.nan, xyz)
    return QualisysMarkers(
        header=MappingProxyType(header), rate_hz=rate, t=t, markers=MappingProxyType(markers)
    )


def read_qualisys_tsv(path: str | os.PathLike[str]) -> QualisysMarkers:
    """:func:`parse_qualisys_tsv` of a file (UTF-8 or ASCII)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise StreamImportError(f"{path}: cannot read ({exc})") from None
    except UnicodeDecodeError as exc:
        raise StreamImportError(f"{path}: not UTF-8 text ({exc})") from None
    try:
        return parse_qualisys_tsv(text)
    except StreamImportError as exc:
        raise StreamImportError(f"{path}: {exc}") from None


def _wrist_pose(
    markers: QualisysMarkers, config: QualisysImport
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 3) wrist positions, (N, 3, 3) wrist axes in the mocap frame and (N,) validity."""
    cal = config.calibration
    for name in (cal.top, cal.radial, cal.ulnar):
        if name not in markers.markers:
            raise StreamImportError(f"marker {name!r} (back of hand) not in MARKER_NAMES")
    top, radial, ulnar = (markers.markers[n] for n in (cal.top, cal.radial, cal.ulnar))
    origin = 0.5 * (radial + ulnar)
    z_dir, _ = unit(top - origin)
    # Palmar normal x = y x z with y the (mirror-signed) radial direction.
    palmar = np.cross(config.side.mirror_sign * (radial - ulnar), z_dir)
    rot_markers, ok = frame_from_z_and_x(top - origin, palmar)
    pos_cal, rot_cal = cal.pose_in_markers(config.side)
    rot = rot_markers @ rot_cal
    pos = origin + rot_markers @ pos_cal
    return pos, rot, ok


def import_qualisys(markers: QualisysMarkers, config: QualisysImport = QualisysImport()) -> StreamRecording:
    """One gloved hand of a parsed export as a recording (rules in the module docstring).

    The mocap world frame is taken as the operator world frame (Qualisys labs are set up
    z-up); pedals are released throughout.
    """
    num = markers.t.shape[0]
    pos, rot, wrist_ok = _wrist_pose(markers, config)
    points = np.full((num, len(KEYPOINT_NAMES), 3), np.nan)
    confidence = np.zeros((num, len(KEYPOINT_NAMES)))
    for marker, keypoint in config.marker_keypoints.items():
        if keypoint not in KEYPOINT_NAMES:
            raise StreamImportError(f"marker_keypoints: {keypoint!r} is not a MediaPipe keypoint name")
        if marker in markers.markers:
            k = KEYPOINT_NAMES.index(keypoint)
            points[:, k] = markers.markers[marker]
            confidence[:, k] = 1.0 if keypoint.endswith("_tip") else PHALANX_MARKER_CONFIDENCE
    points[:, 0] = pos
    confidence[:, 0] = 1.0
    keypoints = to_frame(points, pos, rot)
    valid = wrist_ok[:, None] & np.isfinite(points).all(axis=2)
    track = track_from_arrays(pos, quat_from_matrix(rot), wrist_ok, keypoints, valid, confidence)
    cal = config.calibration
    description = (
        f"Qualisys markers, {config.side.value} hand; wrist from {cal.top}/{cal.radial}/{cal.ulnar}, "
        f"wrist at {cal.wrist_in_markers} m and rotvec {tuple(round(a, 4) for a in cal.rotvec_in_markers)}"
        " rad in the marker frame (right-hand values)"
    )
    metadata = RecordingMetadata(
        source="qualisys",
        nominal_rate_hz=markers.rate_hz,
        operator_profile=config.operator_profile,
        notes=f"{description}. {config.notes}".strip(),
        licence=config.licence,
    )
    try:
        return StreamRecording(
            metadata=metadata,
            t=markers.t,
            hands={config.side: track},
            takeover=np.zeros(num, bool),
            copilot=np.zeros(num, bool),
        )
    except ValueError as exc:
        raise StreamImportError(f"cannot build the recording: {exc}") from None
