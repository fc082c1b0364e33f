"""``PickUpDrill``: the drill prop's trigger and motor, the task's scoring, and its
scripted expert.

Physics claims are checked as behaviour with known forces: the trigger's spring holds it
at rest against its preload, a press past the dead travel spins the chuck at the
variable-speed switch's rate, and a release stops it; the drill is held only by contact
(it falls when the hand opens). Everything is deterministic (fixed seeds).
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
from tests.envs.expert_steps import assert_reward_terms, run_until

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
        assert_reward_terms(reward, terms, WEIGHTS)
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


def _run_until(env, expert, obs, segment: str, max_steps: int = 600):
    return run_until(env, expert, obs, segment, max_steps)


def _rollout(seed: int) -> tuple[dict, np.ndarray, list[tuple[float, dict]]]:
    """One expert episode: final info, final task state, (reward, terms) per step."""
    env, u = _env()
    obs, info = env.reset(seed=seed)
    expert = PickUpDrillExpert(u)
    expert.reset()
    rewards = []
    for _ in range(u.spec.max_episode_steps if u.spec else 600):
        obs, reward, terminated, truncated, info = env.step(expert(obs))
        rewards.append((reward, info["reward_terms"]))
        if terminated or truncated:
            break
    return info, obs["task_state"].copy(), rewards


@pytest.mark.parametrize("seed", [0, 1])
def test_expert_picks_up_the_drill_and_pulls_the_trigger(seed: int) -> None:
    """The expert reaches every stage in order and succeeds; the reward is the sum of its
    terms at every step, each within [0, its weight], and ends at the full 1.0."""
    info, _, rewards = _rollout(seed)
    assert info["success"] and not info["failure"]
    assert list(info["stages"]) == list(STAGES) and all(info["stages"].values())
    for reward, terms in rewards:
        assert reward == pytest.approx(sum(terms.values()), abs=1e-12)
        for name, value in terms.items():
            assert -1e-12 <= value <= WEIGHTS[name] + 1e-12, (name, value)
    assert rewards[-1][0] > 0.95


def test_same_seed_same_final_state() -> None:
    """Two expert episodes with the same seed end bit-identical."""
    _, a, _ = _rollout(2)
    _, b, _ = _rollout(2)
    np.testing.assert_array_equal(a, b)


def test_drill_is_held_by_contact_and_falls_when_the_hand_opens() -> None:
    """Lifted by the expert (no constraint holds it), the drill falls > 5 cm within
    0.5 s once the hand opens with the palm held still."""
    env, u = _env()
    obs, _ = env.reset(seed=3)
    expert = PickUpDrillExpert(u)
    expert.reset()
    _run_until(env, expert, obs, "pull")
    z0 = u.task.drill_pose(u.data)[0][2]
    assert u.task.measurements["lifted"] and z0 > 0.09
    action = u.hold_action()
    action[u.layout.slice("right/hand")] = expert.hand_poses()["open"]
    for _ in range(25):
        env.step(action)
    assert u.task.drill_pose(u.data)[0][2] < z0 - 0.05


def test_hold_keeps_the_lifted_drill() -> None:
    """``hold()`` once the drill is lifted keeps it in the hand (the takeover experiments'
    policy): after the arm settles from the lift (0.5 s; the palm stops ~1 cm on), the
    drill moves < 5 mm and turns < 0.1 rad in the next 2 s, and stays grasped."""
    env, u = _env()
    obs, _ = env.reset(seed=4)
    expert = PickUpDrillExpert(u)
    expert.reset()
    obs = _run_until(env, expert, obs, "pull")
    expert.hold()
    for _ in range(25):
        obs, *_ = env.step(expert(obs))
    start, tilt = u.task.drill_pose(u.data)[0], u.task.measurements["tilt"]
    for _ in range(100):
        obs, *_ = env.step(expert(obs))
    drift = np.linalg.norm(u.task.drill_pose(u.data)[0] - start)
    turn = u.task.measurements["tilt"] - tilt
    print(f"\nhold drift {drift * 1e3:.2f} mm, turn {turn:.3f} rad over 2 s")
    assert drift < 0.005 and abs(turn) < 0.1 and u.task.measurements["grasped"]


def test_initial_conditions_report_the_sampled_drill_pose() -> None:
    """After reset, ``initial_conditions`` holds the drill's sampled position and yaw: equal
    to the drill's pose in the simulation (to 1e-12) and inside the config's ranges."""
    env, u = _env()
    c = u.task.config
    for seed in range(5):
        env.reset(seed=seed)
        ic = u.task.initial_conditions
        pos, rot = u.task.drill_pose(u.data)
        assert ic["drill_x_m"] == pytest.approx(pos[0], abs=1e-12)
        assert ic["drill_y_m"] == pytest.approx(pos[1], abs=1e-12)
        assert ic["drill_yaw_rad"] == pytest.approx(math.atan2(rot[1, 0], rot[0, 0]), abs=1e-12)
        assert c.drill_xy_low[0] <= ic["drill_x_m"] <= c.drill_xy_high[0]
        assert c.drill_xy_low[1] <= ic["drill_y_m"] <= c.drill_xy_high[1]
        assert abs(ic["drill_yaw_rad"]) <= c.yaw_range


def test_grasp_roll_keeps_the_palm_heading_within_its_bounds() -> None:
    """The grasp keeps its configured roll (0.25) while the drill's yaw + roll lies in
    [min_heading, max_heading] = [0.15, 0.4], and rolls more (rounded to roll_step) for a
    drill turned toward the arm, less for one turned away; the palm's world heading then
    lies within the bounds to half a step."""
    env, u = _env()
    env.reset(seed=0)
    expert = PickUpDrillExpert(u)
    c = expert.config
    for yaw, expected in ((0.25, 0.15), (0.2, 0.2), (0.1, 0.25), (-0.1, 0.25), (-0.25, 0.4)):
        cz, sz = math.cos(yaw), math.sin(yaw)
        rot = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
        roll = expert.roll_for(rot)
        assert roll == pytest.approx(expected, abs=1e-9), yaw
        assert c.min_heading - c.roll_step / 2 <= yaw + roll <= c.max_heading + c.roll_step / 2


@pytest.mark.parametrize("seed", [1028, 1091])
def test_expert_on_seeds_the_first_plan_failed(seed: int) -> None:
    """Seeds outside the range the expert was first tuned on that it used to fail: 1028
    (drill close to the arm, yawed +0.2: the turning thumb knocked it over) and 1091
    (yawed -0.24: joint 6 at its limit, the hand pushed it over). Both succeed now."""
    info, _, _ = _rollout(seed)
    assert info["success"], info["stages"]
