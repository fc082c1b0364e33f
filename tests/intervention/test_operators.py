"""Simulated operators: profiles, tremor, gesture scripts, takeover schedules, intent following.

Closed-loop tests run the operator against a fake robot: its palm follows the operator's
wrist motion (rotated into the robot world) while the takeover pedal is down, and its
fingertips follow the operator's fingertip motion scaled to the robot hand, both one
control tick late (the env loop: observe(t) -> frame_at(t) -> robot acts).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from handitl.assets.hand_description import SIDES, Side
from handitl.intervention.streams.frame import HumanFrame
from handitl.intervention.streams.human_hand import (
    FINGERTIP_INDICES,
    HumanHandModel,
    named_pose,
    quat_from_rotation,
    rotation_from_quat,
    rotation_from_rotvec,
    rotvec_from_rotation,
)
from handitl.intervention.streams.operators import (
    OPERATOR_A,
    OPERATOR_B,
    PROFILES,
    GestureScript,
    IntentFollowingConfig,
    IntentFollowingOperator,
    IntentTarget,
    OperatorProfile,
    ProfileError,
    RandomTakeovers,
    ScriptedOperator,
    TakeoverSchedule,
    WristPath,
    get_profile,
    three_takeovers,
)
from handitl.intervention.streams.source import ClosedLoopSource, HumanSource, RobotFeedback

DT = 0.02
"""Control tick, s (50 Hz, the paper's VR tick)."""
MIRROR = np.array([1.0, -1.0, 1.0])
ROBOT_START_POS = np.array([0.5, -0.3, 1.0])
ROBOT_START_ROT = rotation_from_rotvec(np.array([0.0, 1.2, 0.2]))


class FakeRobot:
    """A robot hand that follows the operator relatively, one tick late (see module doc)."""

    def __init__(self, side: Side, size_ratio: float, operator_to_robot: np.ndarray | None = None) -> None:
        self.side = side
        self.ratio = size_ratio
        self.r_or = np.eye(3) if operator_to_robot is None else operator_to_robot
        self.pos = ROBOT_START_POS * (MIRROR if side is Side.LEFT else 1.0)
        self.rot = ROBOT_START_ROT.copy()
        # A robot hand pose unlike the operator's: its own (1.1x) relaxed hand, offset.
        self.tips = HumanHandModel(1.1).fingertips(named_pose("relaxed"), side) + 0.003
        self._prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def feedback(self) -> dict[Side, RobotFeedback]:
        return {self.side: RobotFeedback(self.side, self.pos.copy(), quat_from_rotation(self.rot),
                                         self.tips.copy(), named_pose("relaxed"))}  # fmt: skip

    def apply(self, frame: HumanFrame) -> None:
        hand = frame.hand(self.side)
        now = (hand.wrist_pos, rotation_from_quat(hand.wrist_quat), hand.keypoints[FINGERTIP_INDICES])
        if self._prev is not None and frame.pedals.takeover:
            self.pos = self.pos + self.r_or @ (now[0] - self._prev[0])
            self.rot = self.r_or @ now[1] @ self._prev[1].T @ self.r_or.T @ self.rot
            self.tips = self.tips + (now[2] - self._prev[2]) / self.ratio
        self._prev = now


def _closed_loop(op: IntentFollowingOperator, robot: FakeRobot, duration: float) -> list[HumanFrame]:
    frames = []
    for k in range(round(duration / DT)):
        t = k * DT
        op.observe(t, robot.feedback())
        frames.append(op.frame_at(t))
        robot.apply(frames[-1])
    return frames


def _size_ratio(profile: OperatorProfile) -> float:
    return HumanHandModel(profile.hand_scale).hand_length / IntentFollowingConfig().robot_hand_length


def _assert_frames_equal(a: HumanFrame, b: HumanFrame) -> None:
    assert a.t == b.t and a.pedals == b.pedals
    for side in SIDES:
        ha, hb = a.hand(side), b.hand(side)
        assert (ha is None) == (hb is None)
        if ha is not None:
            for name in ("wrist_pos", "wrist_quat", "keypoints", "valid", "confidence"):
                assert np.array_equal(getattr(ha, name), getattr(hb, name)), name


# ---------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------
def test_profiles_are_two_different_people() -> None:
    """operator_a / operator_b: the sizes, delays and reaches of the brief; neutral poses
    differ from each other and from the robot's zero pose; homes lie inside the reach."""
    assert set(PROFILES) == {"operator_a", "operator_b"}
    a, b = get_profile("operator_a"), get_profile("operator_b")
    assert (a.hand_scale, a.reaction_delay, a.workspace.reach) == (1.05, 0.15, 0.45)
    assert (b.hand_scale, b.reaction_delay, b.workspace.reach) == (0.92, 0.25, 0.35)
    assert b.tremor_rms > a.tremor_rms
    assert 8.0 <= a.tremor_frequency <= 12.0 and 8.0 <= b.tremor_frequency <= 12.0
    assert np.linalg.norm(a.neutral - b.neutral) > 0.4
    assert min(np.linalg.norm(a.neutral), np.linalg.norm(b.neutral)) > 0.4
    assert b.neutral[5:].sum() > a.neutral[5:].sum()  # operator_b's rest is more flexed
    for p in (a, b):
        for side in SIDES:
            assert p.workspace.excess(p.workspace.home_pos(side), side) < -0.1
    with pytest.raises(ProfileError):
        get_profile("operator_c")
    with pytest.raises(ProfileError):
        dataclasses.replace(a, neutral_pose=(5.0,) * 21)


def test_operators_implement_the_source_protocols() -> None:
    """Scripted operators are HumanSources; intent followers are ClosedLoopSources."""
    scripted = ScriptedOperator(OPERATOR_A, GestureScript.of(("relaxed", 1.0)), seed=0)
    follower = IntentFollowingOperator(OPERATOR_A, lambda t: {}, seed=0)
    assert isinstance(scripted, HumanSource) and isinstance(follower, ClosedLoopSource)


# ---------------------------------------------------------------------------------------
# Scripted operators
# ---------------------------------------------------------------------------------------
def _gesture_tour() -> GestureScript:
    """Every gesture once, with a wrist path of three waypoints (8 s)."""
    wrist = WristPath(times=(0.0, 2.0, 5.0), offsets=((0, 0, 0), (0.1, 0.05, -0.05), (0.05, -0.05, 0.1)),
                      rotvecs=((0, 0, 0), (0.3, 0.0, 0.2), (-0.2, 0.4, 0.0)))  # fmt: skip
    return GestureScript.of(("open", 1.0), ("relaxed", 1.0), ("power_grasp", 1.0), ("trigger", 1.0),
                            ("hold", 0.5), ("pinch", 1.0), ("open", 1.0), ("fist", 1.0), ("relaxed", 1.5),
                            wrist=wrist)  # fmt: skip


def test_scripted_operator_is_deterministic() -> None:
    """Same seed -> identical frames bit for bit (also after reset); another seed differs."""
    plan = RandomTakeovers()
    first = ScriptedOperator(OPERATOR_B, _gesture_tour(), plan, seed=7)
    second = ScriptedOperator(OPERATOR_B, _gesture_tour(), plan, seed=7)
    times = np.arange(0.0, 9.0, 0.13)
    frames = [first.frame_at(t) for t in times]
    for t, frame in zip(times, frames):
        _assert_frames_equal(frame, second.frame_at(t))
    first.reset(7)
    for t, frame in zip(times, frames):
        _assert_frames_equal(frame, first.frame_at(t))
    other = ScriptedOperator(OPERATOR_B, _gesture_tour(), plan, seed=8)
    assert times[8] == pytest.approx(1.04)
    other_kp = other.frame_at(times[8]).hand(Side.RIGHT).keypoints
    assert not np.array_equal(other_kp, frames[8].hand(Side.RIGHT).keypoints)
    assert other.schedule != first.schedule


@pytest.mark.parametrize("profile", [OPERATOR_A, OPERATOR_B], ids=lambda p: p.name)
def test_tremor_frequency_and_amplitude(profile: OperatorProfile) -> None:
    """Holding still (no tracker noise): the wrist and fingertip spectra peak within the
    profile's tremor band (slow drift on), and without drift the RMS displacement of the
    wrist is the profile's wrist tremor, of the fingertips (mean of five) its fingertip
    tremor, within 30%."""
    script = GestureScript.of(("relaxed", 6.0))
    t = np.arange(0.0, 6.0, 0.01)
    freqs = np.fft.rfftfreq(len(t), 0.01)
    quiet = dataclasses.replace(profile, tracking_noise_rms=0.0)
    traj = ScriptedOperator(quiet, script, seed=3).trajectory(Side.RIGHT, t)
    points = np.concatenate([traj.wrist_pos[:, None], traj.keypoints[:, FINGERTIP_INDICES]], axis=1)
    basis = np.stack([np.ones_like(t), t, t**2], axis=1)  # remove the slow drift's trend
    for k in range(points.shape[1]):
        x = points[:, k] - basis @ np.linalg.lstsq(basis, points[:, k], rcond=None)[0]
        power = (np.abs(np.fft.rfft(x, axis=0)) ** 2).sum(axis=1)
        above = freqs > 3.0
        peak = freqs[above][np.argmax(power[above])]
        near = 2.0 * profile.tremor_bandwidth + 1.0 / t[-1]  # component spread + FFT resolution
        assert abs(peak - profile.tremor_frequency) <= near, (k, peak)

    no_drift = dataclasses.replace(quiet, drift_rms=0.0, finger_drift_rms=0.0)
    traj = ScriptedOperator(no_drift, script, seed=3).trajectory(Side.RIGHT, t)
    points = np.concatenate([traj.wrist_pos[:, None], traj.keypoints[:, FINGERTIP_INDICES]], axis=1)
    rms = np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=-1).mean(axis=0))
    assert rms[0] == pytest.approx(profile.wrist_tremor_rms, rel=0.3)
    assert rms[1:].mean() == pytest.approx(profile.tremor_rms, rel=0.3)
    assert (rms[1:] < 2.0 * profile.tremor_rms).all()


@pytest.mark.parametrize("profile", [OPERATOR_A, OPERATOR_B], ids=lambda p: p.name)
def test_tracking_noise_is_white_at_the_profiles_rms(profile: OperatorProfile) -> None:
    """A still hand seen through the profile's tracker: every keypoint and the wrist jitter
    frame to frame with the profile's per-axis RMS (within 10%), independently from one
    frame to the next (lag-1 correlation near 0); the same times give the same noise."""
    tracker_only = dataclasses.replace(profile.still(), tracking_noise_rms=profile.tracking_noise_rms)
    op = ScriptedOperator(tracker_only, GestureScript.of(("relaxed", 5.0)), seed=4)
    t = np.arange(0.0, 5.0, 0.01)
    traj = op.trajectory(Side.RIGHT, t)
    points = np.concatenate([traj.wrist_pos[:, None], traj.keypoints], axis=1)  # (T, 22, 3)
    x = points - points.mean(axis=0)
    assert np.sqrt((x**2).mean()) == pytest.approx(profile.tracking_noise_rms, rel=0.1)
    lag1 = (x[1:] * x[:-1]).mean() / (x**2).mean()
    assert abs(lag1) < 0.05
    again = op.trajectory(Side.RIGHT, t[::-1])
    np.testing.assert_array_equal(again.keypoints[::-1], traj.keypoints)


def test_still_operator_does_not_move() -> None:
    """Without tremor and drift a held gesture is exactly still."""
    op = ScriptedOperator(OPERATOR_A.still(), GestureScript.of(("pinch", 2.0)), seed=0)
    traj = op.trajectory(Side.LEFT, np.linspace(0.0, 2.0, 50))
    assert np.ptp(traj.keypoints, axis=0).max() == 0.0 and np.ptp(traj.wrist_pos, axis=0).max() == 0.0


def test_gesture_transitions_are_smooth_and_reach_their_poses() -> None:
    """Minimum-jerk transitions: keypoint velocities (100 Hz, wrist frame and world) never
    jump by more than 0.1 m/s between samples (accelerations < 10 m/s^2, a fast but human
    fist closure; a switch without blending jumps by > 5 m/s), the wrist path blends
    smoothly too, and each gesture's pose is reached once its transition is over."""
    profile = OPERATOR_A.still()
    script = _gesture_tour()
    op = ScriptedOperator(profile, script, seed=0)
    dt = 0.01
    t = np.arange(0.0, script.duration, dt)
    traj = op.trajectory(Side.RIGHT, t)
    rot = rotation_from_quat(traj.wrist_quat)
    world = traj.keypoints @ np.swapaxes(rot, -1, -2) + traj.wrist_pos[:, None]
    for points in (traj.keypoints, world):
        velocity = np.diff(points, axis=0) / dt
        jump = np.linalg.norm(np.diff(velocity, axis=0), axis=-1).max()
        assert jump < 0.1, jump
    hand = HumanHandModel(profile.hand_scale)
    end = 0.0
    for seg in script.segments:
        end += seg.duration
        if seg.gesture not in ("hold", "relaxed"):
            k = int(round((end - 0.05) / dt))
            np.testing.assert_allclose(traj.keypoints[k], hand.forward(named_pose(seg.gesture)), atol=1e-12)
    switch = hand.fingertips(named_pose("fist")) - hand.fingertips(named_pose("open"))
    naive_jump = np.linalg.norm(switch, axis=-1)
    assert naive_jump.max() / dt > 5.0  # what a gesture switch without blending would do


def test_left_hand_plays_the_mirror_image() -> None:
    """One script for both hands: without noise the left wrist path and keypoints are the
    right ones mirrored (operator world y and wrist-frame y negated)."""
    op = ScriptedOperator(OPERATOR_B.still(), _gesture_tour(), seed=0)
    t = np.linspace(0.0, 8.0, 41)
    right, left = op.trajectory(Side.RIGHT, t), op.trajectory(Side.LEFT, t)
    np.testing.assert_allclose(left.keypoints, right.keypoints * MIRROR, atol=1e-12)
    np.testing.assert_allclose(left.wrist_pos, right.wrist_pos * MIRROR, atol=1e-12)
    rot_r, rot_l = rotation_from_quat(right.wrist_quat), rotation_from_quat(left.wrist_quat)
    np.testing.assert_allclose(rot_l, np.diag(MIRROR) @ rot_r @ np.diag(MIRROR), atol=1e-12)


def test_three_takeovers_schedule() -> None:
    """three_takeovers: exactly three press/release pairs, spaced by >= min_spacing, inside the
    script; the operator's pedal shows exactly three rising and three falling edges."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        schedule = three_takeovers(rng, 12.0, min_spacing=1.0)
        events = np.ravel(schedule.intervals)
        assert len(schedule.intervals) == 3
        assert events[0] >= 1.0 and events[-1] <= 11.0 and (np.diff(events) >= 1.0 - 1e-9).all()
    op = ScriptedOperator(OPERATOR_A, GestureScript.of(("relaxed", 12.0)), RandomTakeovers(), seed=4)
    pressed = np.array([op.frame_at(t).pedals.takeover for t in np.arange(0.0, 12.5, DT)])
    edges = np.diff(pressed.astype(int))
    assert (edges == 1).sum() == 3 and (edges == -1).sum() == 3 and not pressed[0]
    fixed = ScriptedOperator(OPERATOR_A, GestureScript.of(("relaxed", 3.0)), TakeoverSchedule(((1.0, 2.0),)))
    assert [fixed.frame_at(t).pedals.takeover for t in (0.5, 1.0, 1.5, 2.0)] == [False, True, True, False]
    with pytest.raises(ProfileError):
        three_takeovers(rng, 5.0)


def test_script_end_and_untracked_sides() -> None:
    """Past its end a script repeats its last frame and reports ended; sides without a
    script are untracked (None)."""
    op = ScriptedOperator(OPERATOR_A, {Side.RIGHT: GestureScript.of(("power_grasp", 1.0))}, seed=1)
    last = op.frame_at(1.0)
    assert not op.status().ended and last.hand(Side.LEFT) is None
    later = op.frame_at(3.0)
    assert op.status().ended
    np.testing.assert_array_equal(later.hand(Side.RIGHT).keypoints, last.hand(Side.RIGHT).keypoints)


# ---------------------------------------------------------------------------------------
# Intent following
# ---------------------------------------------------------------------------------------
def _goal(profile: OperatorProfile, robot: FakeRobot) -> IntentTarget:
    """A palm move of ~13 cm and ~15 deg, and a half-closed grasp the robot can reach."""
    hand = HumanHandModel(profile.hand_scale)
    q_goal = profile.neutral + 0.6 * (named_pose("power_grasp") - profile.neutral)
    tips = robot.tips + (hand.fingertips(q_goal) - hand.fingertips(profile.neutral)) / robot.ratio
    rot = rotation_from_rotvec(np.array([0.2, -0.15, 0.1])) @ robot.rot
    return IntentTarget(robot.pos + np.array([0.10, -0.06, 0.05]), quat_from_rotation(rot), tips)


@pytest.mark.parametrize(("profile", "yaw"), [(OPERATOR_A, 0.0), (OPERATOR_B, 0.0), (OPERATOR_B, np.pi / 2)],
                         ids=["operator_a", "operator_b", "operator_b-rotated"])  # fmt: skip
def test_intent_following_converges(profile: OperatorProfile, yaw: float) -> None:
    """Against the fake robot, palm position, palm orientation and every fingertip are
    within 5 mm (0.02 rad) of the intent from 2 s on, also with the operator's world
    rotated against the robot's."""
    r_or = rotation_from_rotvec(np.array([0.0, 0.0, yaw]))
    config = IntentFollowingConfig(operator_to_robot=r_or, sides=(Side.RIGHT,))
    robot = FakeRobot(Side.RIGHT, _size_ratio(profile), r_or)
    goal = _goal(profile, robot)
    op = IntentFollowingOperator(profile, lambda t: {Side.RIGHT: goal}, config, seed=0)
    errors = []
    for k in range(round(2.6 / DT)):
        _closed_loop_step(op, robot, k * DT)
        rot_err = np.linalg.norm(rotvec_from_rotation(rotation_from_quat(goal.palm_quat) @ robot.rot.T))
        errors.append((np.linalg.norm(robot.pos - goal.palm_pos), rot_err,
                       np.linalg.norm(robot.tips - goal.fingertips_in_palm, axis=1).max()))  # fmt: skip
    errors = np.array(errors)
    assert errors[0, 0] > 0.1 and errors[0, 2] > 0.02
    late = errors[round(2.0 / DT) :]
    assert late[:, 0].max() < 0.005 and late[:, 1].max() < 0.02 and late[:, 2].max() < 0.005
    assert op.workspace_resets == 0 and op.engage_events == 1


def _closed_loop_step(op: IntentFollowingOperator, robot: FakeRobot, t: float) -> HumanFrame:
    op.observe(t, robot.feedback())
    frame = op.frame_at(t)
    robot.apply(frame)
    return frame


def test_intent_following_is_deterministic() -> None:
    """Same seed and the same robot -> identical frames bit for bit, both hands."""
    runs = []
    for _ in range(2):
        robots = {side: FakeRobot(side, _size_ratio(OPERATOR_B)) for side in SIDES}
        goals = {side: _goal(OPERATOR_B, robots[side]) for side in SIDES}
        op = IntentFollowingOperator(OPERATOR_B, lambda t, g=goals: g, seed=11)
        frames = []
        for k in range(60):
            feedback = {side: robots[side].feedback()[side] for side in SIDES}
            op.observe(k * DT, feedback)
            frames.append(op.frame_at(k * DT))
            for robot in robots.values():
                robot.apply(frames[-1])
        runs.append(frames)
    for a, b in zip(*runs):
        _assert_frames_equal(a, b)


@pytest.mark.parametrize("profile", [OPERATOR_A, OPERATOR_B], ids=lambda p: p.name)
def test_reaction_delay(profile: OperatorProfile) -> None:
    """A step in the intent at t = 0.5 s is first answered (the wrist moves) after the
    profile's reaction delay, within one control tick."""
    still = profile.still()
    robot = FakeRobot(Side.RIGHT, _size_ratio(still))
    start = robot.pos.copy()
    step_t = 0.5

    def intent(t: float) -> dict[Side, IntentTarget]:
        offset = np.array([0.1, 0.0, 0.0]) if t >= step_t else np.zeros(3)
        return {Side.RIGHT: IntentTarget(palm_pos=start + offset)}

    op = IntentFollowingOperator(still, intent, IntentFollowingConfig(sides=(Side.RIGHT,)), seed=0)
    home = still.workspace.home_pos(Side.RIGHT)
    frames = _closed_loop(op, robot, 1.2)
    moved = [f.t for f in frames if np.linalg.norm(f.hand(Side.RIGHT).wrist_pos - home) > 1e-9]
    assert moved, "the operator never reacted"
    assert abs(moved[0] - (step_t + still.reaction_delay)) <= DT + 1e-9


@pytest.mark.parametrize("profile", [OPERATOR_A, OPERATOR_B], ids=lambda p: p.name)
def test_workspace_resets(profile: OperatorProfile) -> None:
    """A palm target 0.6 m beyond the arm's reach: the operator clutches (pedal up, back
    home, pedal down) at least once, never takes the wrist more than 1 cm outside the
    workspace, and still brings the robot closer than 5 cm."""
    robot = FakeRobot(Side.RIGHT, _size_ratio(profile))
    goal = robot.pos + np.array([0.6, 0.0, 0.0])
    config = IntentFollowingConfig(sides=(Side.RIGHT,))
    op = IntentFollowingOperator(profile, lambda t: {Side.RIGHT: IntentTarget(palm_pos=goal)}, config, seed=2)
    frames = _closed_loop(op, robot, 8.0)
    wrists = np.array([f.hand(Side.RIGHT).wrist_pos for f in frames])
    assert profile.workspace.excess(wrists, Side.RIGHT).max() < 0.01
    pedal = np.array([f.pedals.takeover for f in frames])
    assert op.workspace_resets >= 1 and op.engage_events == op.workspace_resets + 1
    assert (np.diff(pedal.astype(int)) == -1).sum() == op.workspace_resets
    assert np.linalg.norm(robot.pos - goal) < 0.05
