"""MANO-style importer: rest skeleton, per-joint rotations, joint order, frames, validity."""

from __future__ import annotations

import numpy as np
import pytest

from handitl.assets.hand_description import KEYPOINT_NAMES, SIDES, Side
from handitl.intervention.streams.human_hand import (
    JOINT_NAMES,
    HumanHandModel,
    quat_from_rotation,
    rotation_from_quat,
    rotation_from_rotvec,
    rotvec_from_rotation,
)
from handitl.intervention.streams.importers import StreamImportError
from handitl.intervention.streams.importers.mano import (
    MANO_JOINT_NAMES,
    MANO_KEYPOINT_INDEX,
    ManoImport,
    ManoSequence,
    axis_angle_from_euler,
    import_mano,
    mano_keypoints,
    mano_track,
)
from handitl.intervention.streams.recording import StreamRecording


def _distal(kp: int) -> list[int]:
    """Keypoints moved by a rotation at keypoint ``kp``: the rest of its digit."""
    tip = (kp - 1) // 4 * 4 + 4
    return list(range(kp + 1, tip + 1))


def _sequence(n: int, side: Side = Side.RIGHT, seed: int = 0) -> ManoSequence:
    rng = np.random.default_rng(seed)
    return ManoSequence(side=side, transl=rng.normal(size=(n, 3)), global_orient=rng.normal(size=(n, 3)),
                        hand_pose=0.3 * rng.normal(size=(n, 15, 3)), t=0.1 + np.arange(n) / 30.0)  # fmt: skip


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("scale", [0.92, 1.0])
def test_zero_pose_is_the_flat_rest_skeleton(side: Side, scale: float) -> None:
    """All-zero joint rotations give the human hand model's open (flat) skeleton."""
    hand = HumanHandModel(scale)
    np.testing.assert_array_equal(mano_keypoints(np.zeros((15, 3)), side, hand), hand.rest_keypoints(side))


def test_joint_order_is_manos() -> None:
    """index, middle, pinky (little), ring, thumb; each joint sits at the matching keypoint."""
    assert MANO_JOINT_NAMES[6:9] == ("pinky1", "pinky2", "pinky3")
    assert MANO_JOINT_NAMES[9:12] == ("ring1", "ring2", "ring3")
    names = [KEYPOINT_NAMES[k] for k in MANO_KEYPOINT_INDEX]
    assert names[:3] == ["index_mcp", "index_pip", "index_dip"]
    assert names[6:9] == ["little_mcp", "little_pip", "little_dip"]
    assert names[12:] == ["thumb_cmc", "thumb_mcp", "thumb_ip"]


@pytest.mark.parametrize("joint", range(15))
def test_one_joint_moves_only_its_distal_keypoints(joint: int) -> None:
    """A rotation R at one joint leaves every other keypoint in place and turns the distal
    ones rigidly about that joint by R (expressed in the wrist-aligned rest frame)."""
    rng = np.random.default_rng(joint)
    rotvec = rng.normal(size=3)
    rotvec *= 0.7 / np.linalg.norm(rotvec)
    pose = np.zeros((15, 3))
    pose[joint] = rotvec
    rest = HumanHandModel().rest_keypoints()
    out = mano_keypoints(pose)
    kp = MANO_KEYPOINT_INDEX[joint]
    moved = _distal(kp)
    still = [k for k in range(21) if k not in moved]
    np.testing.assert_array_equal(out[still], rest[still])
    expected = rest[kp] + (rest[moved] - rest[kp]) @ rotation_from_rotvec(rotvec).T
    np.testing.assert_allclose(out[moved], expected, atol=1e-12)
    # The bone leaving the joint turned by the rotation's angle (when not along the axis).
    a, b = rest[kp + 1] - rest[kp], out[kp + 1] - out[kp]
    axis = rotvec / 0.7
    a_perp, b_perp = a - axis * (a @ axis), b - axis * (b @ axis)
    cos = a_perp @ b_perp / (np.linalg.norm(a_perp) * np.linalg.norm(b_perp))
    assert np.arccos(np.clip(cos, -1, 1)) == pytest.approx(0.7, abs=1e-9)


def test_rotations_compose_in_the_parent_frame() -> None:
    """index1 then index2: the DIP-to-tip bone is turned by R1 R2 (child in its parent's frame)."""
    r1, r2 = np.array([0.1, 0.6, 0.0]), np.array([0.0, 0.8, 0.2])
    pose = np.zeros((15, 3))
    pose[0], pose[1] = r1, r2
    rest = HumanHandModel().rest_keypoints()
    out = mano_keypoints(pose)
    g = rotation_from_rotvec(r1) @ rotation_from_rotvec(r2)
    np.testing.assert_allclose(out[8] - out[7], g @ (rest[8] - rest[7]), atol=1e-12)
    np.testing.assert_allclose(out[6] - out[5], rotation_from_rotvec(r1) @ (rest[6] - rest[5]), atol=1e-12)


@pytest.mark.parametrize("side", SIDES)
def test_finger_poses_agree_with_the_hand_model(side: Side) -> None:
    """Finger frames rest aligned with the wrist frame, so the hand model's finger angles
    (abduction then flexion at the MCP, flexion at PIP/DIP) written as MANO rotations give
    the hand model's keypoints for the four fingers."""
    hand = HumanHandModel()
    rng = np.random.default_rng(3)
    q = np.zeros(21)
    q[5:] = rng.uniform(0.0, 1.0, 16) * np.tile([0.3, 1.4, 1.6, 1.2], 4)
    pose = np.zeros((15, 3))
    chains = {"index": 0, "middle": 3, "little": 6, "ring": 9}
    toward_thumb = np.array([-1.0, 0.0, 0.0])
    flex = np.array([0.0, 1.0, 0.0])
    for f, j in chains.items():
        abd, mcp, pip, dip = (q[JOINT_NAMES.index(f"{f}_{n}")] for n in ("abd", "mcp", "pip", "dip"))
        abd_axis = toward_thumb if f in ("index", "middle") else -toward_thumb
        mcp_rot = rotation_from_rotvec(abd * abd_axis) @ rotation_from_rotvec(mcp * flex)
        pose[j] = rotvec_from_rotation(mcp_rot)
        pose[j + 1], pose[j + 2] = pip * flex, dip * flex
    if side is Side.LEFT:
        # Rotations are physical rotations in the left wrist frame: M R M for the mirrored
        # gesture, whose rotation vector is -M w (axial vectors flip under a reflection).
        pose = -pose * np.array([1.0, -1.0, 1.0])
    fingers = slice(5, 21)
    expected = hand.forward(q, side)[fingers]
    np.testing.assert_allclose(mano_keypoints(pose, side)[fingers], expected, atol=1e-12)


def test_global_orientation_moves_the_wrist_not_the_keypoints() -> None:
    """global_orient -> wrist_quat, transl -> wrist_pos; wrist-frame keypoints unchanged."""
    seq = _sequence(6)
    flat = ManoSequence(seq.side, seq.transl, np.zeros((6, 3)), seq.hand_pose, seq.t)
    rec, rec_flat = import_mano(seq), import_mano(flat)
    track = rec.hands[Side.RIGHT]
    np.testing.assert_array_equal(track.keypoints, rec_flat.hands[Side.RIGHT].keypoints)
    np.testing.assert_array_equal(track.wrist_pos, seq.transl)
    np.testing.assert_allclose(rotation_from_quat(track.wrist_quat), rotation_from_rotvec(seq.global_orient),
                               atol=1e-12)  # fmt: skip
    np.testing.assert_array_equal(rec_flat.hands[Side.RIGHT].wrist_quat[:, 0], 1.0)


def test_frame_conversions() -> None:
    """Data in other joint axes (W) and a camera frame (A, offset) give the same hand: wrist
    rotation A R W^T, position A p + offset, keypoints as with the rotated rotations."""
    seq = _sequence(4, seed=1)
    w = rotation_from_rotvec(np.array([0.3, -1.2, 0.5]))
    a = rotation_from_rotvec(np.array([-1.5, 0.2, 0.1]))
    offset = np.array([0.1, 0.2, 1.0])
    in_w_axes = ManoSequence(seq.side, seq.transl, seq.global_orient, seq.hand_pose @ w, seq.t)
    track = mano_track(in_w_axes, ManoImport(mano_to_wrist=w, source_to_world=a, world_offset=offset))
    ref = mano_track(seq)
    np.testing.assert_allclose(track.keypoints, ref.keypoints, atol=1e-12)
    np.testing.assert_allclose(track.wrist_pos, seq.transl @ a.T + offset, atol=1e-12)
    np.testing.assert_allclose(rotation_from_quat(track.wrist_quat),
                               a @ rotation_from_rotvec(seq.global_orient) @ w.T, atol=1e-12)  # fmt: skip


def test_recording_and_validity() -> None:
    """Both hands become one StreamRecording (source "mano", pedals up); invalid or
    non-finite frames come out NaN with valid False, the others untouched."""
    left, right = _sequence(5, Side.LEFT, 1), _sequence(5, Side.RIGHT, 2)
    pose = right.hand_pose.reshape(5, 45).copy()
    pose[3, 7] = np.nan
    right = ManoSequence(Side.RIGHT, right.transl, right.global_orient, pose, right.t,
                         valid=np.array([True, False, True, True, True]))  # fmt: skip
    rec = import_mano([left, right], ManoImport(operator_profile="operator_a"))
    assert isinstance(rec, StreamRecording)
    assert rec.metadata.source == "mano" and rec.metadata.nominal_rate_hz == pytest.approx(30.0)
    assert rec.sides == (Side.LEFT, Side.RIGHT) and not rec.takeover.any()
    np.testing.assert_array_equal(rec.t, right.t)
    track = rec.hands[Side.RIGHT]
    assert track.wrist_valid.tolist() == [True, False, True, False, True]
    assert np.isnan(track.keypoints[[1, 3]]).all() and not track.valid[[1, 3]].any()
    assert rec.frame(1).hand(Side.RIGHT) is None and rec.frame(2).hand(Side.RIGHT) is not None
    assert rec.hands[Side.LEFT].valid.all()


def test_malformed_input_is_rejected() -> None:
    """Wrong shapes, mismatched hands and duplicate sides raise StreamImportError."""
    seq = _sequence(3)
    with pytest.raises(StreamImportError):
        mano_track(ManoSequence(Side.RIGHT, seq.transl, seq.global_orient, np.zeros((3, 16, 3))))
    with pytest.raises(StreamImportError):
        import_mano([seq, _sequence(4, Side.LEFT)])
    with pytest.raises(StreamImportError):
        import_mano([seq, seq])


def test_euler_helper() -> None:
    """Euler angles (e.g. VITRA's joint angles) convert to the axis-angle the importer reads."""
    euler = np.array([[0.2, -0.1, 0.4], [0.0, 0.5, 0.0]])
    rotvec = axis_angle_from_euler(euler, "xyz")
    # Lower-case "xyz" is extrinsic: x first, then y, then z, all about fixed axes.
    rx, ry, rz = (rotation_from_rotvec(np.eye(3)[i] * euler[0, i]) for i in range(3))
    expected = rz @ ry @ rx
    np.testing.assert_allclose(rotation_from_rotvec(rotvec[0]), expected, atol=1e-12)
    np.testing.assert_allclose(rotvec[1], [0.0, 0.5, 0.0], atol=1e-12)
    assert quat_from_rotation(np.eye(3)).tolist() == [1.0, 0.0, 0.0, 0.0]
