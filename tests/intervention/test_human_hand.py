"""The human hand model: proportions, frame conventions, mirror symmetry, poses, Jacobian."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from handitl.assets import procedural_hand_constants as C
from handitl.assets.hand_description import FINGERS, KEYPOINT_NAMES, SIDES, Side
from handitl.assets.procedural_hand import build_procedural_hand, joint_names
from handitl.intervention.streams.human_hand import (
    ADULT_HAND_LENGTH,
    FINGERTIP_INDICES,
    JOINT_LOWER,
    JOINT_NAMES,
    JOINT_UPPER,
    KEYPOINT_PARENTS,
    POSE_NAMES,
    HumanHandError,
    HumanHandModel,
    named_pose,
    quat_from_rotation,
    rotation_from_quat,
    rotation_from_rotvec,
    rotvec_from_rotation,
)

MIRROR = np.array([1.0, -1.0, 1.0])


def _random_poses(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(JOINT_LOWER, JOINT_UPPER, (n, len(JOINT_NAMES)))


def test_joint_layout_is_the_robot_hands() -> None:
    """Same 21 joints in the same order, with the robot hand's (adult ROM) limits."""
    assert JOINT_NAMES == joint_names()
    assert all((JOINT_LOWER[i], JOINT_UPPER[i]) == C.JOINT_RANGES[n] for i, n in enumerate(JOINT_NAMES))


@pytest.mark.parametrize("side", SIDES)
def test_matches_the_procedural_robot_hand_at_its_size(side: Side) -> None:
    """At scale 1.1 the model is the robot hand's kinematics (MuJoCo FK), translated so that
    the middle MCP sits on +z: joint axes, signs, thumb geometry and mirroring all agree."""
    asset = build_procedural_hand(side)
    model = asset.spec.compile()
    data = mujoco.MjData(model)
    desc = asset.description
    qadr = [model.joint(n).qposadr[0] for n in desc.joint_names]
    sites = [model.site(s).id for s in desc.keypoint_sites]
    shift = np.array([0.0, -C.MCP_Y["middle"] * side.mirror_sign, 0.0])
    hand = HumanHandModel(C.SIZE_FACTOR)
    for q in _random_poses(5):
        data.qpos[qadr] = q
        mujoco.mj_kinematics(model, data)
        robot = data.site_xpos[sites] + shift
        robot[0] = data.site_xpos[sites[0]]  # the wrist keypoint is the origin of both frames
        np.testing.assert_allclose(hand.forward(q, side), robot, atol=1e-12)


def test_open_pose_proportions() -> None:
    """Open pose: wrist at the origin, middle MCP on +z, fingers straight along +z, phalanx
    lengths = Buchholz ratios x hand length, middle fingertip at the hand length."""
    hand = HumanHandModel()
    kp = hand.rest_keypoints()
    np.testing.assert_array_equal(kp[0], 0.0)
    mcp = kp[KEYPOINT_NAMES.index("middle_mcp")]
    assert abs(mcp[0]) < 1e-12 and abs(mcp[1]) < 1e-12 and mcp[2] > 0.07
    np.testing.assert_allclose(kp[KEYPOINT_NAMES.index("middle_tip"), 2], ADULT_HAND_LENGTH, atol=1e-12)
    bones = hand.bone_lengths()
    for f in FINGERS:
        ends = ("mcp", "ip", "tip") if f == "thumb" else ("pip", "dip", "tip")
        segment_bones = bones[[KEYPOINT_NAMES.index(f"{f}_{e}") for e in ends]]
        expected = np.asarray(C.SEGMENT_RATIOS[f]) * ADULT_HAND_LENGTH
        np.testing.assert_allclose(segment_bones, expected, rtol=1e-12)
    for f in FINGERS[1:]:  # a straight finger: its keypoints differ only in z
        chain = kp[[KEYPOINT_NAMES.index(f"{f}_{j}") for j in ("mcp", "pip", "dip", "tip")]]
        np.testing.assert_allclose(chain[:, :2], chain[:1, :2].repeat(4, 0), atol=1e-12)


def test_bone_lengths_hold_at_every_pose() -> None:
    """Joint angles move bones rigidly: every parent-child distance equals the rest length."""
    hand = HumanHandModel(0.95)
    kp = hand.forward(_random_poses(50))
    parents = np.array(KEYPOINT_PARENTS)
    lengths = np.linalg.norm(kp[:, 1:] - kp[:, parents[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(hand.bone_lengths()[1:], lengths.shape), atol=1e-12)


def test_keypoints_define_the_wrist_frame() -> None:
    """The importers' wrist frame (middle MCP on +z, palm plane normal +x) rebuilt from the
    model's keypoints is the identity, at every named pose and for both sides."""
    from handitl.intervention.streams.geometry import wrist_frame_from_keypoints

    hand = HumanHandModel()
    for side in SIDES:
        q = np.stack([named_pose(n) for n in POSE_NAMES])
        rot, ok = wrist_frame_from_keypoints(hand.forward(q, side), side)
        assert ok.all()
        np.testing.assert_allclose(rot, np.broadcast_to(np.eye(3), rot.shape), atol=1e-12)


def test_left_is_the_mirror_of_right() -> None:
    """Same joint vector: left keypoints and Jacobian are the right ones with y negated."""
    hand = HumanHandModel()
    q = _random_poses(20)
    np.testing.assert_array_equal(hand.forward(q, Side.LEFT), hand.forward(q, Side.RIGHT) * MIRROR)
    right, left = hand.fingertip_jacobian(q, Side.RIGHT), hand.fingertip_jacobian(q, Side.LEFT)
    np.testing.assert_array_equal(left.jacobian, right.jacobian * MIRROR[:, None])


def test_right_thumb_is_on_plus_y() -> None:
    """On a right hand +y points toward the thumb; on a left hand away from it."""
    hand = HumanHandModel()
    for side in SIDES:
        kp = hand.rest_keypoints(side)
        thumb_y = kp[KEYPOINT_NAMES.index("thumb_tip"), 1]
        little_y = kp[KEYPOINT_NAMES.index("little_mcp"), 1]
        assert np.sign(thumb_y) == side.mirror_sign and np.sign(little_y) == -side.mirror_sign


@pytest.mark.parametrize("side", SIDES)
def test_flexion_moves_tips_toward_the_palm(side: Side) -> None:
    """Finger MCP/PIP/DIP flexion moves the tip toward +x (palmar), thumb abduction lifts
    it palmar (+x), thumb flexion swings it across the palm (toward the fingers: -y on a
    right hand, +y on a left one)."""
    hand = HumanHandModel()
    tips0 = hand.fingertips(np.zeros(21), side)
    moves = {f"{f}_{j}": (d, 0, 1.0) for d, f in enumerate(FINGERS[1:], 1) for j in ("mcp", "pip", "dip")}
    moves |= {"thumb_cmc_abd": (0, 0, 1.0), "thumb_mcp_abd": (0, 0, 1.0)}
    moves |= {f"thumb_{j}": (0, 1, -side.mirror_sign) for j in ("cmc_flex", "mcp_flex", "ip")}
    for name, (digit, axis, sign) in moves.items():
        q = np.zeros(21)
        q[JOINT_NAMES.index(name)] = 0.3
        delta = hand.fingertips(q, side)[digit] - tips0[digit]
        assert sign * delta[axis] > 0.005, name


def test_abduction_spreads_away_from_the_middle_finger() -> None:
    """Positive abduction moves index toward the thumb (+y) and ring/little away (-y)."""
    hand = HumanHandModel()
    tips0 = hand.fingertips(np.zeros(21))
    for d, f in enumerate(FINGERS[1:], start=1):
        q = np.zeros(21)
        q[JOINT_NAMES.index(f"{f}_abd")] = 0.2
        dy = hand.fingertips(q)[d, 1] - tips0[d, 1]
        assert np.sign(dy) == (1.0 if f in ("index", "middle") else -1.0) and abs(dy) > 0.005


def test_scale_scales_every_keypoint() -> None:
    """Per-person scale multiplies all keypoints (and Jacobians) and leaves angles alone."""
    q = _random_poses(10)
    ref, big = HumanHandModel(1.0), HumanHandModel(1.08)
    np.testing.assert_allclose(big.forward(q), 1.08 * ref.forward(q), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(big.fingertip_jacobian(q).jacobian, 1.08 * ref.fingertip_jacobian(q).jacobian,
                               rtol=1e-12, atol=1e-15)  # fmt: skip
    assert big.hand_length == pytest.approx(1.08 * ADULT_HAND_LENGTH)


def test_named_poses_are_within_limits_and_distinct() -> None:
    """Every named pose respects the joint limits; the grasps really close the hand."""
    hand = HumanHandModel()
    poses = {n: named_pose(n) for n in POSE_NAMES}
    for name, q in poses.items():
        assert ((q >= JOINT_LOWER) & (q <= JOINT_UPPER)).all(), name
    spread = {n: np.linalg.norm(hand.fingertips(q)[1:, 2]) for n, q in poses.items()}
    assert spread["fist"] < spread["power_grasp"] < spread["relaxed"] < spread["open"]
    index = JOINT_NAMES.index("index_pip")
    assert poses["trigger"][index] > poses["power_grasp"][index]
    others = [i for i in range(21) if not JOINT_NAMES[i].startswith("index_")]
    np.testing.assert_array_equal(poses["trigger"][others], poses["power_grasp"][others])
    with pytest.raises(HumanHandError):
        named_pose("wave")


@pytest.mark.parametrize("scale", [0.9, 1.0, 1.1])
def test_pinch_brings_thumb_and_index_tips_together(scale: float) -> None:
    """Pinch pose: thumb tip and index tip keypoints closer than 5 mm, at any hand size."""
    tips = HumanHandModel(scale).fingertips(named_pose("pinch"))
    assert np.linalg.norm(tips[0] - tips[1]) < 0.005


def test_fingertip_jacobian_matches_finite_differences() -> None:
    """The analytic fingertip Jacobian equals central differences of the FK (both sides)."""
    hand = HumanHandModel(1.05)
    eps = 1e-6
    for side in SIDES:
        for q in _random_poses(3, seed=1):
            jac = hand.fingertip_jacobian(q, side)
            np.testing.assert_array_equal(jac.tips, hand.fingertips(q, side))
            steps = q + eps * np.eye(21)
            num = (hand.fingertips(steps, side) - hand.fingertips(q - eps * np.eye(21), side)) / (2 * eps)
            np.testing.assert_allclose(jac.jacobian, np.moveaxis(num, 0, -1), atol=1e-8)


def test_fk_is_vectorised_over_time() -> None:
    """(T, 21) -> (T, 21, 3) in one call equals per-frame calls; leading dims are kept."""
    hand = HumanHandModel()
    q = _random_poses(12).reshape(3, 4, 21)
    out = hand.forward(q)
    assert out.shape == (3, 4, 21, 3)
    np.testing.assert_allclose(out[1, 2], hand.forward(q[1, 2]), atol=1e-15)
    assert np.array_equal(FINGERTIP_INDICES, [4, 8, 12, 16, 20])
    with pytest.raises(HumanHandError):
        hand.forward(np.zeros(20))


def test_rotation_helpers_round_trip() -> None:
    """rotvec -> matrix -> quaternion -> matrix -> rotvec is the identity (angles < pi)."""
    rng = np.random.default_rng(2)
    axis = rng.normal(size=(200, 3))
    rotvec = axis / np.linalg.norm(axis, axis=1, keepdims=True) * rng.uniform(0, 3.1, (200, 1))
    rotvec[0] = 0.0
    rot = rotation_from_rotvec(rotvec)
    eye = np.broadcast_to(np.eye(3), rot.shape)
    np.testing.assert_allclose(rot @ np.swapaxes(rot, 1, 2), eye, atol=1e-12)
    quat = quat_from_rotation(rot)
    np.testing.assert_allclose(rotation_from_quat(quat), rot, atol=1e-12)
    np.testing.assert_allclose(rotvec_from_rotation(rot), rotvec, atol=1e-9)
