"""Each safety feature, triggered: the filter only makes commands more conservative."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from handitl.assets import fr3_constants as fr3c
from handitl.assets.hand_description import SIDES
from handitl.real.drivers.base import PedalReading
from handitl.real.drivers.fake import FakeArmDriver
from handitl.real.safety import (
    ArmKinematics,
    CommandWatchdog,
    EStop,
    EStopError,
    SafetyConfig,
    SafetyEvent,
    SafetyFilter,
    StaleStateMonitor,
)


def make_filter(env, **overrides) -> SafetyFilter:
    config = dataclasses.replace(SafetyConfig(), **overrides)
    hands = [env.robot.hands[s] for s in SIDES]
    lower, upper = np.stack([h.q_lower for h in hands]), np.stack([h.q_upper for h in hands])
    return SafetyFilter(config, ArmKinematics(env.model, env.robot), lower, upper)


@pytest.fixture(scope="module")
def hand0(sim_env) -> np.ndarray:
    return np.zeros((2, sim_env.robot.hands[SIDES[0]].num_joints))


def test_safe_command_passes_unchanged(sim_env, home_q, hand0):
    """A small move inside every limit is sent as proposed, with no event."""
    f = make_filter(sim_env)
    target = home_q + 0.005
    out = f.filter(home_q, target, hand0, hand0)
    assert out.events == frozenset()
    np.testing.assert_array_equal(out.arm_q, target)


def test_clipping_to_joint_and_hand_limits(sim_env, home_q, hand0):
    """Targets beyond the joint limits are clipped inside them (minus the margin)."""
    f = make_filter(sim_env, velocity_fraction=100.0, max_ee_step=10.0, min_arm_distance=0.0,
                    workspace_low=(-9, -9, -9), workspace_high=(9, 9, 9))  # fmt: skip
    target = home_q.copy()
    target[:, 3] = 0.5  # joint 4's upper limit is -0.1518
    hand_target = hand0 + 10.0
    out = f.filter(home_q, target, hand0, hand_target)
    assert SafetyEvent.CLIPPED in out.events
    assert (out.arm_q[:, 3] <= fr3c.JOINT_UPPER[3] - 0.02 + 1e-12).all()
    assert (out.hand_q <= np.stack([sim_env.robot.hands[s].q_upper for s in SIDES]) + 1e-12).all()


def test_joint_step_limit(sim_env, home_q, hand0):
    """A 0.5 rad jump on joint 1 is cut to velocity_fraction * v_max * dt."""
    f = make_filter(sim_env)
    target = home_q.copy()
    target[:, 0] += 0.5
    out = f.filter(home_q, target, hand0, hand0)
    assert SafetyEvent.JOINT_STEP in out.events
    limit = SafetyConfig().max_joint_step()[0]
    np.testing.assert_allclose(out.arm_q[:, 0] - home_q[:, 0], limit, rtol=0, atol=1e-12)


def test_end_effector_step_limit(sim_env, home_q, hand0):
    """A joint step that moves a palm by > max_ee_step is scaled to within it."""
    f = make_filter(sim_env, velocity_fraction=100.0, max_ee_step=0.02)
    target = home_q.copy()
    target[:, 1] += 0.2  # shoulder pitch: ~0.1 m of palm travel
    out = f.filter(home_q, target, hand0, hand0)
    assert SafetyEvent.EE_STEP in out.events
    palms0, _ = f.kinematics.points(home_q)
    palms1, _ = f.kinematics.points(out.arm_q)
    moved = np.linalg.norm(palms1 - palms0, axis=1)
    assert (moved <= 0.02 * (1 + 1e-6)).all() and (moved > 0.015).all()


def test_workspace_box_holds_the_arm_leaving_it(sim_env, home_q, hand0):
    """The palm is at z = 0.252; with the ceiling at 0.26, a move up is held (that arm
    only) and a move down still goes through."""
    f = make_filter(sim_env, workspace_high=(0.95, 0.75, 0.26))
    up = home_q.copy()
    up[0, 1] -= 0.1  # left shoulder back: the palm rises
    out = f.filter(home_q, up, hand0, hand0)
    palms, _ = f.kinematics.points(up)
    assert palms[0, 2] > 0.26
    assert SafetyEvent.WORKSPACE in out.events and out.held == (True, False)
    np.testing.assert_array_equal(out.arm_q[0], home_q[0])
    down = home_q.copy()
    down[0, 1] += 0.02
    assert SafetyEvent.WORKSPACE not in f.filter(home_q, down, hand0, hand0).events


def test_minimum_arm_distance(sim_env, home_q, hand0):
    """Arms 0.50 m apart with a 0.55 m minimum: closing in holds both, opening is allowed."""
    f = make_filter(sim_env, min_arm_distance=0.55)
    closer = home_q.copy()
    closer[0, 0] -= 0.05  # left base yaw toward the right arm
    out = f.filter(home_q, closer, hand0, hand0)
    assert SafetyEvent.ARM_DISTANCE in out.events and out.held == (True, True)
    np.testing.assert_array_equal(out.arm_q, home_q)
    apart = home_q.copy()
    apart[0, 0] += 0.05
    assert SafetyEvent.ARM_DISTANCE not in f.filter(home_q, apart, hand0, hand0).events


def test_estop_latches_via_api_and_pedal(sim_env, home_q, hand0):
    """A latched e-stop turns every command into a hold until reset with the pedal up."""
    f = make_filter(sim_env)
    f.estop.trigger("operator")
    out = f.filter(home_q, home_q + 0.01, hand0, hand0 + 0.1)
    assert out.events == {SafetyEvent.ESTOP} and out.held == (True, True)
    np.testing.assert_array_equal(out.arm_q, home_q)
    np.testing.assert_array_equal(out.hand_q, hand0)
    f.estop.reset()
    estop = EStop()
    assert estop.poll(PedalReading(estop=True))
    assert estop.poll(PedalReading(estop=False)), "released pedal must not clear the latch"
    estop.poll(PedalReading(estop=True))
    with pytest.raises(EStopError):
        estop.reset()
    estop.poll(PedalReading(estop=False))
    estop.reset()
    assert not estop.latched


def test_command_watchdog_trips_after_timeout(clock):
    """No command for longer than the timeout: expired; a fresh command re-arms it."""
    dog = CommandWatchdog(0.1, clock=clock)
    assert dog.expired(), "no command yet means hold"
    dog.feed()
    clock.advance(0.09)
    assert not dog.expired()
    clock.advance(0.02)
    assert dog.expired()
    dog.feed()
    assert not dog.expired()


def test_stale_state_by_age_and_by_frozen_sequence(clock):
    """Stale if the measurement is older than the timeout, or if its sequence number
    has not advanced for longer than the timeout even with fresh timestamps."""
    mon = StaleStateMonitor(0.05, clock=clock)
    assert not mon.stale(clock.t, seq=1)
    clock.advance(0.06)
    assert mon.stale(clock.t - 0.06, seq=2), "old measurement"
    assert not mon.stale(clock.t, seq=3)
    clock.advance(0.06)
    assert mon.stale(clock.t, seq=3), "sequence frozen"


def test_shutdown_holds_and_never_torques_off(home_q):
    """Leaving a driver's context holds it before disconnecting, also on an exception."""
    arm = FakeArmDriver(home_q[0])
    with pytest.raises(KeyboardInterrupt), arm:
        raise KeyboardInterrupt
    assert arm.calls == ["connect", "hold", "disconnect"]
