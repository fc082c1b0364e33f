"""``PickUpDrill``: the drill prop's trigger and motor, the task's scoring, and the geometry
of its scripted expert's grasp.

Physics claims are checked as behaviour with known forces: the trigger's spring holds it
at rest against its preload, a press past the dead travel spins the chuck at the
variable-speed switch's rate, and a release stops it. The expert's full episode is not
tested here because it does not yet succeed (see the expert's module docstring).
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from handitl.agents.experts.drill import PickUpDrillExpert
from handitl.assets.props import drill as dp
from handitl.envs import make_env
from handitl.envs.tasks.drill import STAGES, TRIGGER_DEAD_FRACTION, PickUpDrill

WEIGHTS = {"reach": 0.1, "grasp": 0.2, "lift": 0.3, "trigger": 0.4}


def _env():
    env = make_env("PickUpDrill")
    return env, env.unwrapped


def _press(env, u, force: float, steps: int) -> None:
    """Push the trigger into the handle with ``force`` N for ``steps`` control steps."""
    dof = u.model.joint(dp.NAMES.trigger_joint).dofadr[0]
    for _ in range(steps):
        u.data.qfrc_applied[dof] = force
        env.step(u.hold_action())
    u.data.qfrc_applied[dof] = 0.0


def test_reset_randomises_within_ranges() -> None:
    """Seeds give different drill poses inside the configured box and yaw range, standing
    upright with the trigger released; the task state is a fresh (9,) array."""
    env, u = _env()
    task: PickUpDrill = u.task
    c = task.config
    seen = []
    for seed in range(8):
        obs, info = env.reset(seed=seed)
        state = obs["task_state"]
        assert state.shape == (9,)
        pos, quat = state[:3], state[3:7]
        assert np.all(pos[:2] >= c.drill_xy_low) and np.all(pos[:2] <= c.drill_xy_high)
        yaw = 2.0 * math.atan2(quat[3], quat[0])
        assert abs(yaw) <= c.yaw_range + 1e-9
        assert quat[1] == 0.0 and quat[2] == 0.0 and pos[2] == 0.0
        assert state[7] == 0.0 and state[8] == 0.0
        assert not any(info["stages"].values()) and list(info["stages"]) == list(STAGES)
        seen.append(tuple(state[:7]))
        state[:] = np.nan  # must not alias MuJoCo's buffers
        assert np.isfinite(task.state(u.model, u.data)).all()
    assert len(set(seen)) == len(seen)


def test_drill_stands_still_and_same_seed_same_state() -> None:
    """Left alone for 1 s the drill stays upright (tilt < 0.01 rad) where it was put, and
    two runs with the same seed give bit-identical states."""
    finals = []
    for _ in range(2):
        env, u = _env()
        obs, _ = env.reset(seed=5)
        start = obs["task_state"].copy()
        for _ in range(50):
            obs, _, terminated, _, info = env.step(u.hold_action())
        assert not terminated and not info["failure"]
        assert u.task.measurements["tilt"] < 0.01
        assert np.linalg.norm(obs["task_state"][:2] - start[:2]) < 1e-3
        finals.append(obs["task_state"].copy())
    np.testing.assert_array_equal(finals[0], finals[1])


def test_trigger_spring_motor_and_release() -> None:
    """The spring's preload (k * 6 mm = 4.8 N) keeps a 4 N press from moving the trigger;
    12 N presses it past ``PRESSED_FRACTION`` (the stop is at 10 mm) and the chuck turns
    at full speed; a press held inside the dead travel leaves the motor off; released,
    the trigger returns to rest within 0.2 s and the chuck stops spinning."""
    env, u = _env()
    env.reset(seed=0)
    task: PickUpDrill = u.task
    _press(env, u, 4.0, 10)
    assert task.trigger_fraction(u.data) < 0.01
    assert abs(task.chuck_speed(u.data)) < 0.5
    # 5.6 N: k * (6 mm + x) = F gives x = 1 mm, a fraction of 0.1 (< dead 0.2).
    _press(env, u, 5.6, 15)
    assert 0.05 < task.trigger_fraction(u.data) < TRIGGER_DEAD_FRACTION
    assert abs(task.chuck_speed(u.data)) < 0.5
    _press(env, u, 12.0, 15)
    assert task.trigger_fraction(u.data) >= dp.PRESSED_FRACTION
    speed = task.chuck_speed(u.data)
    print(f"\npressed {task.trigger_fraction(u.data):.2f}, chuck {speed:.1f} rad/s")
    assert speed == pytest.approx(dp.MOTOR_SPEED, rel=0.05)
    for _ in range(10):
        env.step(u.hold_action())
    assert task.trigger_fraction(u.data) < 0.01
    assert abs(task.chuck_speed(u.data)) < 0.05 * dp.MOTOR_SPEED


def test_reward_is_sum_of_terms_and_reach_grows_near_the_handle() -> None:
    """At every step the reward is the sum of the four terms, each in [0, its weight];
    with no contact only ``reach`` is non-zero, and it is larger with the palm 1 cm from
    the grip point than far from it."""
    env, u = _env()
    env.reset(seed=0)
    for _ in range(5):
        _, reward, _, _, info = env.step(u.hold_action())
        terms = info["reward_terms"]
        assert set(terms) == set(WEIGHTS)
        assert reward == pytest.approx(sum(terms.values()), abs=1e-12)
        for name, value in terms.items():
            assert -1e-12 <= value <= WEIGHTS[name] + 1e-12, (name, value)
        assert terms["grasp"] == terms["lift"] == terms["trigger"] == 0.0
    far = terms["reach"]
    m = dict(u.task.measurements, reach=0.01)
    u.task._m = m
    near = u.task.reward(u.model, u.data)["reach"]
    assert 0.0 < far < near <= WEIGHTS["reach"]


def test_lifting_without_a_grasp_does_not_count() -> None:
    """A drill raised 15 cm by hand of the test (teleported) is neither grasped nor
    lifted: stages need contact with the hand, never a pose alone."""
    env, u = _env()
    env.reset(seed=0)
    q = u.model.joint(dp.NAMES.freejoint).qposadr[0]
    u.data.qpos[q + 2] += 0.15
    mujoco.mj_forward(u.model, u.data)
    _, _, _, _, info = env.step(u.hold_action())
    m = u.task.measurements
    assert m["height"] > 0.1 and not m["grasped"] and not m["lifted"]
    assert not any(info["stages"].values())


def test_no_constraint_attaches_the_drill() -> None:
    """No equality constraint touches the drill's bodies (it can only be held by contact)."""
    _, u = _env()
    m = u.model
    root = m.body(dp.NAMES.body).id
    drill_bodies = {b for b in range(m.nbody) if b == root or m.body_rootid[b] == root}
    assert len(drill_bodies) >= 3
    for i in range(m.neq):
        assert not ({m.eq_obj1id[i], m.eq_obj2id[i]} & drill_bodies)


@pytest.mark.parametrize("pose", ["tipped", "fallen"])
def test_failure_when_drill_tips_over_or_falls(pose: str) -> None:
    """A drill lying on its side with no hand on it, or below the table, is a failure."""
    env, u = _env()
    env.reset(seed=0)
    q = u.model.joint(dp.NAMES.freejoint).qposadr[0]
    if pose == "tipped":
        u.data.qpos[q + 2] = 0.06
        u.data.qpos[q + 3 : q + 7] = [math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0]
    else:
        u.data.qpos[q : q + 3] = [1.2, -0.3, -0.3]
    mujoco.mj_forward(u.model, u.data)
    _, _, terminated, _, info = env.step(u.hold_action())
    assert terminated and info["failure"] and not info["success"]


def test_expert_grasp_geometry() -> None:
    """The expert's grasp pose puts the handle's axis at ``handle_in_palm`` in the palm
    frame (to 1e-9 m) and the straight index's proximal phalanx at trigger height; the
    contact fit closes each finger part-way (0 < closure < 1) before it touches."""
    env, u = _env()
    env.reset(seed=3)
    expert = PickUpDrillExpert(u)
    pos, R = expert.grasp_pose()
    drill_pos, drill_rot = u.task.drill_pose(u.data)
    # The handle axis: the drill's z axis through its origin.
    axis = drill_rot[:, 2]
    c = expert.config
    handle_point = pos + R @ np.array([c.handle_in_palm[0], 0.0, c.handle_in_palm[1]])
    offset = handle_point - drill_pos
    assert np.linalg.norm(offset - (offset @ axis) * axis) < 1e-9
    index = pos + R @ expert._index_proximal_in_palm()
    assert (index - drill_pos) @ axis == pytest.approx(dp.TRIGGER_Z, abs=1e-9)
    assert np.allclose(R.T @ R, np.eye(3), atol=1e-12)
    for finger in ("index", "middle", "ring", "little"):
        assert 0.0 < expert._contact[finger] < 1.0, (finger, expert._contact)


def test_expert_rejects_other_tasks() -> None:
    """The expert refuses an env whose task is not PickUpDrill."""
    env = make_env("Reach")
    with pytest.raises(TypeError):
        PickUpDrillExpert(env.unwrapped)
