"""MANO-style hand pose sequences -> wrist poses and 21 keypoints in the wrist frame.

Input per frame (the MANO parameterisation used by hand reconstruction pipelines such as
HaWoR, whose world-space output VITRA trains on): a wrist translation (3,) and a global
orientation (axis-angle, 3,) in a camera or world frame, and 15 hand joints x 3
axis-angle rotations, each in its parent joint's frame.

MANO's joint order (``MANO_JOINT_NAMES``, as in the MANO release and ``smplx``; note it
is NOT MediaPipe's finger order, the little finger comes before the ring finger and the
thumb is last)::

    0 index1   1 index2   2 index3        (MCP, PIP, DIP)
    3 middle1  4 middle2  5 middle3
    6 pinky1   7 pinky2   8 pinky3        (the little finger)
    9 ring1   10 ring2   11 ring3
   12 thumb1  13 thumb2  14 thumb3        (CMC, MCP, IP)

Each joint rotates about the MediaPipe keypoint of the same anatomical joint
(``MANO_KEYPOINT_INDEX``); the five tips are the chain ends.

Forward kinematics (no MANO model files): a generic skeleton whose rest pose is the flat
(all-zero) :class:`~handitl.intervention.streams.human_hand.HumanHandModel` skeleton in
the wrist frame convention, with that model's bone lengths. As in MANO, every joint
frame at rest is aligned with the root frame, so a joint's rotation is expressed in its
parent's frame and composes along the chain: ``G_j = G_parent R_j``,
``p_child = p_j + G_j (rest_child - rest_j)``. MANO's shape parameters (betas) and
pose-dependent blend shapes are ignored: bone lengths come from the human hand model
(``hand_scale``), and the keypoints are joint centres, not mesh vertices.

Frames: the rotations are read in the wrist frame convention by default (+z toward the
middle MCP, +x palmar, +y toward the thumb on a right hand, away from it on a left hand),
so for a left hand a rotation is a physical rotation in the left wrist frame and a
mirrored gesture has rotation vectors (-x, y, -z). Data in MANO's own canonical axes is
converted with ``ManoImport.mano_to_wrist``; a camera frame with
``ManoImport.source_to_world``. The translation is taken as the wrist joint's position
(MANO's ``transl`` is that of the mesh; add the template's root joint first if needed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from handitl.assets.hand_description import KEYPOINT_NAMES, Side
from handitl.intervention.streams.human_hand import (
    HumanHandModel,
    quat_from_rotation,
    rotation_from_rotvec,
)
from handitl.intervention.streams.importers import (
    StreamImportError,
    float_array,
    timestamps_or_rate,
    track_from_arrays,
)
from handitl.intervention.streams.recording import HandTrack, RecordingMetadata, StreamRecording

MANO_JOINT_NAMES: tuple[str, ...] = (
    "index1", "index2", "index3", "middle1", "middle2", "middle3",
    "pinky1", "pinky2", "pinky3", "ring1", "ring2", "ring3", "thumb1", "thumb2", "thumb3",
)  # fmt: skip
"""The 15 posed MANO joints in MANO's order (the root/wrist is ``global_orient``)."""
NUM_MANO_JOINTS = len(MANO_JOINT_NAMES)

MANO_KEYPOINT_INDEX: tuple[int, ...] = tuple(
    KEYPOINT_NAMES.index(name)
    for name in ("index_mcp", "index_pip", "index_dip", "middle_mcp", "middle_pip", "middle_dip",
                 "little_mcp", "little_pip", "little_dip", "ring_mcp", "ring_pip", "ring_dip",
                 "thumb_cmc", "thumb_mcp", "thumb_ip")  # fmt: skip
)
"""MediaPipe keypoint at which each MANO joint (MANO order) rotates."""


@dataclasses.dataclass(frozen=True)
class ManoSequence:
    """One hand's MANO-style pose sequence (N frames)."""

    side: Side
    transl: np.ndarray
    """(N, 3) wrist position in the source frame, m."""
    global_orient: np.ndarray
    """(N, 3) wrist orientation in the source frame, axis-angle, rad."""
    hand_pose: np.ndarray
    """(N, 15, 3) or (N, 45) joint rotations, axis-angle in the parent frame, MANO order."""
    t: np.ndarray | None = None
    """(N,) strictly increasing timestamps, s; None = ``k / ManoImport.rate_hz``."""
    valid: np.ndarray | None = None
    """(N,) bool, False where the hand was not reconstructed; None = all valid."""


@dataclasses.dataclass(frozen=True)
class ManoImport:
    """How to read MANO-style sequences."""

    hand_scale: float = 1.0
    """Scale of the :class:`HumanHandModel` whose bone lengths the skeleton uses."""
    mano_to_wrist: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))
    """(3, 3) rotation taking vectors in the data's joint axes to wrist-frame axes (I:
    the data already uses the wrist frame convention)."""
    source_to_world: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))
    """(3, 3) rotation taking source (camera/world) vectors to the operator world frame."""
    world_offset: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))
    """(3,) added to the rotated translation: the source origin in the operator world, m."""
    rate_hz: float = 30.0
    """Sample rate when a sequence has no timestamps, Hz."""
    operator_profile: str = ""
    """``RecordingMetadata.operator_profile``."""
    notes: str = ""
    """Appended to the recording's provenance notes."""
    licence: str = ""
    """Licence of the data."""


def mano_keypoints(hand_pose: np.ndarray, side: Side = Side.RIGHT,
                   hand: HumanHandModel | None = None) -> np.ndarray:  # fmt: skip
    """Keypoints (..., 21, 3) in the wrist frame, m, of joint rotations (..., 15, 3).

    Rotations are axis-angle in the parent frame, MANO order, wrist frame axes (see the
    module docstring). The zero pose gives ``hand.rest_keypoints(side)``.
    """
    hand = hand or HumanHandModel()
    pose = np.asarray(hand_pose, dtype=float)
    if pose.shape[-2:] != (NUM_MANO_JOINTS, 3):
        raise StreamImportError(f"hand_pose: shape {pose.shape}, expected (..., 15, 3)")
    batch = pose.shape[:-2]
    local = rotation_from_rotvec(pose.reshape(-1, NUM_MANO_JOINTS, 3))  # (n, 15, 3, 3)
    rest = hand.rest_keypoints(side)
    out = np.broadcast_to(rest, (len(local), *rest.shape)).copy()
    # Each digit is a chain of three MANO joints (proximal first) ending at its tip.
    for chain in range(NUM_MANO_JOINTS // 3):
        glob = np.broadcast_to(np.eye(3), (len(local), 3, 3))
        for j in range(3 * chain, 3 * chain + 3):
            kp = MANO_KEYPOINT_INDEX[j]
            glob = glob @ local[:, j]
            out[:, kp + 1] = out[:, kp] + glob @ (rest[kp + 1] - rest[kp])
    return out.reshape(*batch, *rest.shape)


def mano_track(seq: ManoSequence, config: ManoImport | None = None) -> HandTrack:
    """One hand's wrist poses (operator world) and wrist-frame keypoints, as a :class:`HandTrack`.

    Frames marked invalid or holding non-finite values come out invalid (NaN, valid False).
    The global orientation sets ``wrist_quat`` only: keypoints stay in the wrist frame.
    """
    cfg = config or ManoImport()
    transl = float_array("transl", seq.transl, (None, 3))
    n = len(transl)
    orient = float_array("global_orient", seq.global_orient, (n, 3))
    pose = np.asarray(seq.hand_pose)
    if pose.shape == (n, 3 * NUM_MANO_JOINTS):
        pose = pose.reshape(n, NUM_MANO_JOINTS, 3)
    pose = float_array("hand_pose", pose, (n, NUM_MANO_JOINTS, 3))
    valid = np.ones(n, bool) if seq.valid is None else np.asarray(seq.valid, dtype=bool)
    if valid.shape != (n,):
        raise StreamImportError(f"valid: shape {valid.shape}, expected ({n},)")
    valid = valid & np.isfinite(transl).all(1) & np.isfinite(orient).all(1) & np.isfinite(pose).all((1, 2))

    w = np.asarray(cfg.mano_to_wrist, dtype=float)
    a = np.asarray(cfg.source_to_world, dtype=float)
    safe_pose = np.where(valid[:, None, None], pose, 0.0)
    safe_orient = np.where(valid[:, None], orient, 0.0)
    # A rotation R given in the data's axes is W R W^T in wrist axes; for axis-angle that
    # is the rotated axis (W is proper), so the chain runs on rotated vectors.
    keypoints = mano_keypoints(safe_pose @ w.T, seq.side, HumanHandModel(cfg.hand_scale))
    # world_R_wrist = A (source_R_mano) W^T: wrist-frame axes are the data's axes rotated.
    wrist_quat = quat_from_rotation(a @ rotation_from_rotvec(safe_orient) @ w.T)
    wrist_pos = np.where(valid[:, None], transl, 0.0) @ a.T + np.asarray(cfg.world_offset, dtype=float)
    kp_valid = np.repeat(valid[:, None], len(KEYPOINT_NAMES), axis=1)
    return track_from_arrays(wrist_pos, wrist_quat, valid, keypoints, kp_valid, kp_valid.astype(float))


def import_mano(hands: ManoSequence | Sequence[ManoSequence],
                config: ManoImport | None = None) -> StreamRecording:  # fmt: skip
    """A :class:`StreamRecording` of one or two hands' MANO-style sequences (pedals up).

    Two hands must share their timestamps (or both have none and the same length).
    """
    cfg = config or ManoImport()
    seqs = [hands] if isinstance(hands, ManoSequence) else list(hands)
    if not seqs or len({s.side for s in seqs}) != len(seqs):
        raise StreamImportError("import_mano needs one sequence per side, at least one")
    num = len(np.asarray(seqs[0].transl))
    t, rate = timestamps_or_rate(num, cfg.rate_hz, seqs[0].t)
    for seq in seqs[1:]:
        other = None if seq.t is None else float_array("t", seq.t, (None,))
        if len(np.asarray(seq.transl)) != num or (other is None) != (seqs[0].t is None) or (
            other is not None and not np.array_equal(other, t)
        ):
            raise StreamImportError("both hands' sequences must share their length and timestamps")
    tracks = {seq.side: mano_track(seq, cfg) for seq in seqs}
    sides = ", ".join(s.side.value for s in seqs)
    description = (f"MANO-style axis-angle poses ({sides}) through the generic skeleton at hand "
                   f"scale {cfg.hand_scale:g}; shapes/blend shapes ignored")  # fmt: skip
    metadata = RecordingMetadata(
        source="mano", nominal_rate_hz=rate, operator_profile=cfg.operator_profile,
        notes=f"{description}. {cfg.notes}".strip(), licence=cfg.licence,
    )  # fmt: skip
    return StreamRecording(metadata=metadata, t=t, hands=tracks,
                           takeover=np.zeros(num, bool), copilot=np.zeros(num, bool))  # fmt: skip


def axis_angle_from_euler(euler: np.ndarray, seq: str = "xyz") -> np.ndarray:
    """(..., 3) axis-angle of (..., 3) Euler angles (rad; scipy ``seq``, e.g. VITRA's joint
    angles), so that such data can go through :func:`import_mano`."""
    from scipy.spatial.transform import Rotation  # lazy: only Euler input needs scipy

    e = np.asarray(euler, dtype=float)
    return Rotation.from_euler(seq, e.reshape(-1, 3)).as_rotvec().reshape(e.shape)
