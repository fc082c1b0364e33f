"""The retargeting properties HandITL relies on, stated with numbers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from handitl.assets.hand_description import KEYPOINT_NAMES, Side
from handitl.retarget import (
    METHODS,
    AbsoluteRetargeter,
    Alignment,
    RelativeConfig,
    RelativeRetargeter,  # fmt: skip
    calibrate_alignment,
)
from handitl.retarget.solver import TIGHT
from tests.retarget.conftest import HANDS, for_side, hand_state, make_kinematics

TIP = {f: KEYPOINT_NAMES.index(f"{f}_tip") for f in ("thumb", "index", "middle", "ring", "little")}


def _absolute_pose(kin, alignment: Alignment, keypoints: np.ndarray) -> np.ndarray:
    """The converged absolute retarget of one human frame (a plausible robot pose)."""
    retargeter = AbsoluteRetargeter(kin, alignment)
    retargeter.reset(hand_state(keypoints), np.zeros(kin.nq))
    return retargeter.retarget(hand_state(keypoints), solver=TIGHT).q


@pytest.mark.parametrize("side", list(Side))
@pytest.mark.parametrize("name", HANDS)
@pytest.mark.parametrize("method", ["relative", "delta", "jacobian"])
def test_still_human_keeps_the_anchor_command(method: str, name: str, side: Side,
                                              mediapipe_right: np.ndarray) -> None:  # fmt: skip
    """After reset, a still human (no motion, no noise) keeps the command equal to q0
    within 1e-6 rad on each of 100 frames, although the robot's q0 differs from the
    human's pose (the human anchor frame is 200 frames after the one q0 came from)."""
    kin = make_kinematics(name, side)
    frames = for_side(mediapipe_right, side)
    alignment = calibrate_alignment(frames[0], kin)
    q0 = _absolute_pose(kin, alignment, frames[0])
    retargeter = METHODS[method](kin, alignment)
    anchor = hand_state(frames[200])
    retargeter.reset(anchor, q0)
    worst = max(float(np.abs(retargeter.retarget(anchor).q - q0).max()) for _ in range(100))
    assert worst < 1e-6


def test_still_pinching_human_is_not_pulled_into_a_tighter_pinch(mediapipe_right) -> None:
    """With the human already pinching at takeover (thumb-index 8 mm) and the robot
    apart, the anchor-relative pinch activation leaves the robot at q0 (1e-6 rad); the
    literal activation alpha(d) would move it."""
    kin = make_kinematics("procedural21", Side.RIGHT)
    frame = mediapipe_right[0].copy()
    direction = frame[TIP["index"]] - frame[TIP["thumb"]]
    frame[TIP["index"]] = frame[TIP["thumb"]] + 0.008 * direction / np.linalg.norm(direction)
    alignment = calibrate_alignment(mediapipe_right[0], kin)
    q0 = _absolute_pose(kin, alignment, mediapipe_right[0])
    retargeter = RelativeRetargeter(kin, alignment)
    retargeter.reset(hand_state(frame), q0)
    for _ in range(20):
        assert np.abs(retargeter.retarget(hand_state(frame)).q - q0).max() < 1e-6


@pytest.mark.parametrize("name", ["procedural21", "allegro"])
def test_absolute_closes_pinch_when_human_pinches(name: str, mediapipe_right) -> None:
    """When the human thumb-index gap falls below 1.5 cm the absolute retargeter brings
    the robot's thumb and index pads within 1 cm."""
    kin = make_kinematics(name, Side.RIGHT)
    alignment = calibrate_alignment(mediapipe_right[0], kin)
    retargeter = AbsoluteRetargeter(kin, alignment)
    retargeter.reset(hand_state(mediapipe_right[0]), np.zeros(kin.nq))
    start = mediapipe_right[0]
    for gap in (0.06, 0.04, 0.025, 0.014, 0.008):
        frame = start.copy()
        mid = 0.5 * (frame[TIP["thumb"]] + frame[TIP["index"]])
        direction = frame[TIP["index"]] - frame[TIP["thumb"]]
        direction /= np.linalg.norm(direction)
        frame[TIP["thumb"]], frame[TIP["index"]] = mid - 0.5 * gap * direction, mid + 0.5 * gap * direction
        for _ in range(5):  # a few frames at each gap, as a stream would give
            q = retargeter.retarget(hand_state(frame)).q
        kin.set_q(q)
        pads = kin.pads()
        robot_gap = np.linalg.norm(pads[kin.fingers.index("index")] - pads[kin.fingers.index("thumb")])
        if gap < 0.015:
            assert robot_gap < 0.01, (gap, robot_gap)


def test_relative_fingertips_follow_the_human(mediapipe_right) -> None:
    """Anchored on the real MediaPipe recording, the procedural hand's fingertip
    displacements follow the human's: per-finger correlation of the 3-D displacement
    trajectories >= 0.9 for every finger (621 frames)."""
    kin = make_kinematics("procedural21", Side.RIGHT)
    alignment = calibrate_alignment(mediapipe_right[0], kin)
    q0 = _absolute_pose(kin, alignment, mediapipe_right[0])
    kin.set_q(q0)
    tips0 = kin.fingertips()
    retargeter = RelativeRetargeter(kin, alignment)
    retargeter.reset(hand_state(mediapipe_right[0]), q0)
    tips = [TIP[f] for f in kin.fingers]
    robot, human = [], []
    for frame in mediapipe_right:
        kin.set_q(retargeter.retarget(hand_state(frame)).q)
        robot.append(kin.fingertips() - tips0)
        human.append(alignment.apply(frame[tips] - mediapipe_right[0][tips]))
    robot, human = np.array(robot), np.array(human)
    for f, finger in enumerate(kin.fingers):
        corr = np.corrcoef(robot[:, f].ravel(), human[:, f].ravel())[0, 1]
        assert corr >= 0.9, (finger, corr)


def _collision_stream(start: np.ndarray) -> list[np.ndarray]:
    """Frames moving the human middle fingertip onto the index fingertip (crossing)."""
    frames = []
    for s in np.linspace(0.0, 1.0, 40):
        frame = start.copy()
        frame[TIP["middle"]] = (1 - s) * start[TIP["middle"]] + s * start[TIP["index"]]
        frames.append(frame)
    return frames


def _min_clearance(retargeter, kin, frames) -> float:
    worst = np.inf
    for frame in frames:
        kin.set_q(retargeter.retarget(hand_state(frame)).q)
        pairs = kin.pair_distances()
        used = retargeter._safety_pairs[pairs.pair_index]
        if used.any():
            worst = min(worst, float(pairs.distance[used].min()))
    return worst


def test_safety_term_keeps_links_apart(mediapipe_right) -> None:
    """On a stream that drives the middle fingertip into the index fingertip, the
    safety hinge keeps every used collision pair >= d_safe - 1 mm apart; without it
    (gamma = 0) the same stream brings links closer than that (the test can fail)."""
    kin = make_kinematics("procedural21", Side.RIGHT)
    alignment = calibrate_alignment(mediapipe_right[0], kin)
    q0 = _absolute_pose(kin, alignment, mediapipe_right[0])
    frames = _collision_stream(mediapipe_right[0])
    config = RelativeConfig()
    safe = RelativeRetargeter(kin, alignment, config)
    safe.reset(hand_state(frames[0]), q0)
    clearance = _min_clearance(safe, kin, frames)
    assert clearance >= config.safety_distance - 1e-3
    unsafe = RelativeRetargeter(kin, alignment, dataclasses.replace(config, safety_weight=0.0))
    unsafe.reset(hand_state(frames[0]), q0)
    assert _min_clearance(unsafe, kin, frames) < config.safety_distance - 1e-3


@pytest.mark.parametrize("method", list(METHODS))
def test_limits_hold_and_bad_keypoints_hold_the_command(method: str, mediapipe_right) -> None:
    """On 200 noisy frames every command lies within the joint limits; a frame with a
    NaN or untracked fingertip repeats the previous command, flagged `held` with the
    reason, and never emits NaN."""
    kin = make_kinematics("procedural21", Side.RIGHT)
    alignment = calibrate_alignment(mediapipe_right[0], kin)
    retargeter = METHODS[method](kin, alignment)
    retargeter.reset(hand_state(mediapipe_right[0]), np.zeros(kin.nq))
    rng = np.random.default_rng(3)
    last = None
    for i, frame in enumerate(mediapipe_right[:200]):
        noisy = frame + rng.normal(0.0, 0.01, frame.shape)
        if i % 25 == 7:
            valid = np.ones(21, dtype=bool)
            valid[TIP["ring"]] = False
            result = retargeter.retarget(hand_state(noisy, valid))
            assert result.held and "ring_tip" in result.reason
            np.testing.assert_array_equal(result.q, last)
            continue
        result = retargeter.retarget(hand_state(noisy))
        assert not result.held and np.isfinite(result.q).all()
        assert (result.q >= kin.q_lower - 1e-12).all() and (result.q <= kin.q_upper + 1e-12).all()
        last = result.q
