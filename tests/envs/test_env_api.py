"""Gymnasium contract, determinism, bad input and registry of the bimanual env."""

from __future__ import annotations

import importlib.util

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import handitl  # noqa: F401  (registers the ids)
from handitl.assets.fr3_constants import VELOCITY_LIMIT
from handitl.envs import (
    ActionError,
    ActionMode,
    ConfigError,
    PhysicsError,
    RegistryError,
    env_ids,  # fmt: skip
    make_env,
    register_task,
)
from handitl.envs.tasks.reach import Reach


@pytest.mark.parametrize("env_id", env_ids())
def test_check_env_passes(env_id: str) -> None:
    """gymnasium's env checker passes on every registered env (spaces, seeding, API)."""
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("mode", list(ActionMode))
def test_check_env_passes_in_every_action_mode(mode: ActionMode) -> None:
    """The checker also passes for each arm action mode."""
    env = make_env("Reach", action_mode=mode)
    check_env(env, skip_render_check=True)
    env.close()


def _rollout(seed: int, task: str = "Reach", steps: int = 40) -> list[dict[str, np.ndarray]]:
    env = make_env(task, reset_joint_noise=0.05)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    trace = [obs]
    hold = env.hold_action()
    for _ in range(steps):
        # Random hand targets and small random arm moves around the hold pose.
        action = 0.8 * hold + 0.2 * env.action_space.sample()
        obs, *_ = env.step(action)
        trace.append(obs)
    env.close()
    return trace


@pytest.mark.parametrize("env_id", env_ids())
def test_same_seed_gives_bit_identical_rollouts(env_id: str) -> None:
    """Two envs reset with the same seed and fed the same actions produce bit-identical
    observations at every step; another seed gives a different initial state."""
    task = env_id.split("/")[1].split("-v")[0]
    a, b = _rollout(7, task=task), _rollout(7, task=task)
    for obs_a, obs_b in zip(a, b):
        for key in obs_a:
            assert np.array_equal(obs_a[key], obs_b[key]), key
    c = _rollout(8, steps=0, task=task)
    assert not np.array_equal(a[0]["arm_qpos"], c[0]["arm_qpos"])


@pytest.mark.parametrize("env_id", env_ids())
def test_initial_conditions_name_what_reset_drew(env_id: str) -> None:
    """Every task reports the parameters its reset drew (at least two, finite, each name
    ending in its unit); a seed gives the same values again, another seed different ones."""
    task = env_id.split("/")[1].split("-v")[0]
    env = make_env(task)

    def drawn(seed: int) -> dict[str, float]:
        env.reset(seed=seed)
        return env.task.initial_conditions

    a, b, c = drawn(3), drawn(3), drawn(4)
    env.close()
    assert len(a) >= 2 and all(np.isfinite(v) for v in a.values())
    assert all(name.endswith(("_m", "_rad")) for name in a), list(a)
    assert a == b and a.keys() == c.keys() and a != c


def test_an_episode_does_not_depend_on_the_episodes_before_it() -> None:
    """Seed 1 after a 30-step expert episode of seed 0 is bit-identical to seed 1 in a
    fresh env (the IK's box-QP warm start was carried across resets: 1e-15 rad apart)."""
    from handitl.agents.experts import expert_for

    def episode(env, expert, seed: int, steps: int) -> np.ndarray:
        obs, _ = env.reset(seed=seed)
        expert.reset()
        trace = []
        for _ in range(steps):
            obs, *_ = env.step(expert(obs))
            trace.append(obs["arm_qpos"].copy())
        return np.array(trace)

    used = make_env("BreadClip")
    used_expert = expert_for(used)
    episode(used, used_expert, 0, 30)
    fresh = make_env("BreadClip")
    np.testing.assert_array_equal(episode(used, used_expert, 1, 40), episode(fresh, expert_for(fresh), 1, 40))


def test_reward_is_sum_of_terms_and_obs_stay_in_space() -> None:
    """reward == sum(info['reward_terms']) every step, and every observation lies in the
    observation space."""
    env = make_env("Reach")
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    for _ in range(20):
        obs, reward, _, _, info = env.step(env.hold_action())
        assert reward == pytest.approx(sum(info["reward_terms"].values()), abs=1e-12)
        assert env.observation_space.contains(obs)
    env.close()


def test_observations_do_not_alias_simulation_state() -> None:
    """Writing into a returned observation changes neither MuJoCo's state nor the next
    observation."""
    env = make_env("Reach")
    obs, _ = env.reset(seed=0)
    qpos_before = env.data.qpos.copy()
    for value in obs.values():
        value[...] = 123.0
    np.testing.assert_array_equal(env.data.qpos, qpos_before)
    obs2, *_ = env.step(env.hold_action())
    assert np.abs(obs2["arm_qpos"]).max() < 5.0
    env.close()


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros(3), "shape"),
        (np.zeros((2, 27)), "shape"),
        ("not an action", "numeric"),
    ],
)
def test_malformed_actions_raise_clear_errors(bad, message: str) -> None:
    """A wrong shape or a non-numeric action raises ActionError naming the problem."""
    env = make_env("Reach")
    env.reset(seed=0)
    with pytest.raises(ActionError, match=message):
        env.step(bad)
    env.close()


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_actions_never_reach_mujoco(value: float) -> None:
    """NaN/inf raises ActionError naming the action part, and the simulation state and
    controls are unchanged (nothing reached MuJoCo)."""
    env = make_env("Reach")
    env.reset(seed=0)
    action = env.hold_action()
    action[env.layout.slice("right/hand")][3] = value
    qpos, ctrl = env.data.qpos.copy(), env.data.ctrl.copy()
    with pytest.raises(ActionError, match="right/hand"):
        env.step(action)
    np.testing.assert_array_equal(env.data.qpos, qpos)
    np.testing.assert_array_equal(env.data.ctrl, ctrl)
    env.close()


def test_out_of_range_actions_are_clipped_and_reported() -> None:
    """Out-of-range values are clipped to the action Box (info['action_clipped'] is True)
    and the hand servo targets stay inside the joint ranges."""
    env = make_env("Reach")
    env.reset(seed=0)
    action = env.hold_action()
    action[env.layout.slice("left/hand")] = 50.0
    action[env.layout.slice("right/pos")] = [9.0, -9.0, 9.0]
    _, _, _, _, info = env.step(action)
    assert info["action_clipped"]
    hand = env.robot.hands[next(iter(env.robot.hands))]
    np.testing.assert_array_equal(env.data.ctrl[hand.actuator_ids], hand.q_upper)
    _, _, _, _, info = env.step(env.hold_action())
    assert not info["action_clipped"]
    env.close()


def test_box_bounds_never_exceed_the_exact_limits() -> None:
    """The float32 Box is rounded inward: its bounds lie within the float64 limits (by at
    most one float32 step), so an action at the Box's corner passes validation unchanged
    (no hidden clamp that downstream code would see as a ~5e-8 jump)."""
    layout = make_env("PickUpDrill").layout
    low, high = layout.space.low.astype(np.float64), layout.space.high.astype(np.float64)
    assert (low >= layout._low).all() and (high <= layout._high).all()
    step = np.spacing(np.abs(layout._high).astype(np.float32)).astype(np.float64)
    assert (layout._high - high <= step).all()
    for corner in (low, high):
        checked, clipped = layout.validate(corner)
        assert not clipped
        np.testing.assert_array_equal(checked, corner)


def test_divergence_raises_physics_error() -> None:
    """A state MuJoCo cannot integrate raises PhysicsError instead of continuing from a
    silently reset state."""
    env = make_env("Reach")
    env.reset(seed=0)
    env.data.qvel[:] = 1e30
    with pytest.raises(PhysicsError, match="diverged"):
        env.step(env.hold_action())
    env.close()


def test_inconsistent_config_is_rejected() -> None:
    """control_dt must be a multiple of physics_dt; unknown cameras/hands are named."""
    with pytest.raises(ConfigError, match="multiple"):
        make_env("Reach", control_dt=0.005, physics_dt=0.002)
    with pytest.raises(ConfigError, match="wrist_cam"):
        make_env("Reach", image_cameras=("wrist_cam",))
    with pytest.raises(ValueError, match="known hands"):
        make_env("Reach", hand="no_such_hand")
    with pytest.raises(TypeError, match="unknown EnvConfig"):
        make_env("Reach", not_a_field=1)


def test_registry_rejects_duplicates_and_unknown_tasks() -> None:
    """Registering a task name twice raises; an unknown task name lists the known ones."""
    with pytest.raises(RegistryError, match="already registered"):
        register_task("Reach", Reach, max_episode_steps=10)
    with pytest.raises(RegistryError, match="Reach"):
        make_env("NoSuchTask")


def test_control_and_physics_rates() -> None:
    """One step advances simulated time by control_dt (0.02 s = 10 physics steps at 500 Hz)."""
    env = make_env("Reach")
    env.reset(seed=0)
    assert env.model.opt.timestep == 0.002
    t0 = env.data.time
    env.step(env.hold_action())
    assert env.data.time - t0 == pytest.approx(0.02, abs=1e-12)
    env.close()


def test_time_limit_truncates() -> None:
    """gymnasium.make wraps the env in a TimeLimit from the registry entry."""
    env = gym.make("HandITL/Reach-v0", max_episode_steps=3)
    env.reset(seed=0)
    hold = env.unwrapped.hold_action()
    truncated = [env.step(hold)[3] for _ in range(3)]
    assert truncated == [False, False, True]
    env.close()


def test_joint_mode_tracks_joint_targets() -> None:
    """In joint mode a reachable joint target is tracked within 0.01 rad after 2 s, and
    no step moves a target by more than the FR3 velocity limit times control_dt."""
    env = make_env("Reach", action_mode=ActionMode.JOINT)
    env.reset(seed=0)
    action = env.hold_action()
    sl = env.layout.slice("right/arm_q")
    target = action[sl] + np.array([0.3, -0.2, 0.2, 0.3, -0.3, 0.2, 0.4])
    action[sl] = target
    arm = env.robot.arms[next(s for s in env.robot.arms if s.value == "right")]
    prev = env.data.ctrl[arm.actuator_ids].copy()
    for _ in range(100):
        env.step(action)
        ctrl = env.data.ctrl[arm.actuator_ids].copy()
        assert (np.abs(ctrl - prev) <= VELOCITY_LIMIT * 0.02 + 1e-9).all()
        prev = ctrl
    assert np.abs(env.data.qpos[arm.qpos_idx] - target).max() < 0.01
    env.close()


def test_reset_restores_initial_state() -> None:
    """reset(seed) after a rollout gives back exactly the first reset's observation."""
    env = make_env("Reach")
    first, _ = env.reset(seed=5)
    for _ in range(10):
        env.step(env.hold_action())
    again, _ = env.reset(seed=5)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert env.data.time == 0.0
    assert mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_CAMERA, "top") >= 0
    env.close()


@pytest.mark.parametrize("hand", ["procedural21", "shadow", "leap", "allegro"])
def test_env_runs_with_every_registered_hand(hand: str, hand_urdf_dir, monkeypatch) -> None:
    """The env builds, checks and steps with each hand on both flanges: action and
    observation sizes follow the hand (21/22/16/16 joints), the palms start mirrored
    about the xz plane, and under the hold action the fingertips settle within 3 mm in
    0.5 s (servo offsets under load) and then stay within 0.1 mm for 0.5 s."""
    if hand == "shadow" and importlib.util.find_spec("gymnasium_robotics") is None:
        pytest.skip("Shadow hand needs gymnasium-robotics (pip install 'handitl[shadow]')")
    monkeypatch.setenv("HANDITL_HAND_URDF_DIR", str(hand_urdf_dir))
    env = make_env("Reach", hand=hand)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    n = env.robot.hands[next(iter(env.robot.hands))].num_joints
    assert obs["hand_qpos"].shape == (2, n)
    assert env.action_space.shape == (2 * (6 + n),)
    left, right = obs["palm_pos"]
    np.testing.assert_allclose(left, right * [1, -1, 1], atol=1e-9)
    start = obs["fingertip_pos"]
    hold = env.hold_action()
    for _ in range(25):
        obs, *_ = env.step(hold)
    settled = obs["fingertip_pos"]
    assert np.abs(settled - start).max() < 3e-3
    for _ in range(25):
        obs, *_ = env.step(hold)
    assert np.abs(obs["fingertip_pos"] - settled).max() < 1e-4
    env.close()


def test_subgoal_score_counts_ordered_stages_per_subtask() -> None:
    """Each sub-task is worth one point split over its stages, and a stage counts only
    after the previous ones: (a, b) done + (c done, d not) + (e not, f done) = 1.5 of 3."""
    from handitl.envs.tasks.base import TaskStatus

    status = TaskStatus(
        stages={"a": True, "b": True, "c": True, "d": False, "e": False, "f": True},
        success=False,
        subtasks=(("a", "b"), ("c", "d"), ("e", "f")),
    )
    assert status.score == pytest.approx(1.5)
    assert status.normalized_score == pytest.approx(0.5)
    flat = TaskStatus(stages={"x": True, "y": False, "z": True}, success=False)
    assert flat.score == pytest.approx(1 / 3) and flat.num_subtasks == 1
