"""``PickAndPlaceParts``: the parts and bins, the task's stages and its scripted expert.

Physics claims are checked as behaviour: the parts stand still on the table, are held
only by contact (no constraints; a pinched part falls when the fingers open), and the
expert sorts all four into their bins. Everything is deterministic (fixed seeds).
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from handitl.agents.experts.parts import PickAndPlacePartsExpert
from handitl.assets.props import parts as pp
from handitl.envs import make_env
from handitl.envs.tasks.parts import KINDS, STAGES, SUBTASKS, WEIGHTS, PickAndPlaceParts
from tests.envs.expert_steps import run_until

MAX_STEPS = 1500


def _env():
    env = make_env("PickAndPlaceParts")
    return env, env.unwrapped


def _run_until(env, expert, obs, segment: str, max_steps: int = MAX_STEPS):
    return run_until(env, expert, obs, segment, max_steps)


def _first_part(u, seed: int) -> str:
    """The part the expert takes first on ``seed``'s layout (the right side's nearest the
    centre line)."""
    ys = {kind: u.task.part_pose(u.data, kind)[0][1] for kind in KINDS}
    return min(KINDS, key=lambda k: (ys[k] > 0.0, abs(ys[k])))


@pytest.mark.parametrize("seed", [0, 1])
def test_expert_sorts_every_part(seed: int) -> None:
    """The expert sorts all four parts (success, every stage reached) within the episode;
    at every step the reward is the sum of its terms, each in [0, its weight]; the
    normalised score only rises, in steps of one stage (1/8), and ends at 1."""
    env, u = _env()
    obs, info = env.reset(seed=seed)
    expert = PickAndPlacePartsExpert(u)
    expert.reset()
    scores = [info["normalized_score"]]
    for _ in range(MAX_STEPS):
        obs, reward, terminated, truncated, info = env.step(expert(obs))
        terms = info["reward_terms"]
        assert set(terms) == set(WEIGHTS)
        assert reward == pytest.approx(sum(terms.values()), abs=1e-12)
        for name, value in terms.items():
            assert -1e-12 <= value <= WEIGHTS[name] + 1e-12, (name, value)
        scores.append(info["normalized_score"])
        if terminated or truncated:
            break
    print(f"\nseed {seed}: sorted in {info['time']:.1f} s")
    assert info["success"] and not info["failure"]
    assert list(info["stages"]) == list(STAGES) and all(info["stages"].values())
    assert reward == pytest.approx(1.0)
    steps = np.diff(scores)
    assert np.all(steps >= 0.0) and scores[-1] == 1.0
    assert np.allclose(np.asarray(scores) * 8, np.round(np.asarray(scores) * 8))


def test_same_seed_same_state() -> None:
    """Two expert runs from the same seed are bit-identical after 5 s (reach, pinch,
    lift and carry of the first part: contacts included)."""
    finals = []
    for _ in range(2):
        env, u = _env()
        obs, _ = env.reset(seed=3)
        expert = PickAndPlacePartsExpert(u)
        expert.reset()
        for _ in range(250):
            obs, *_ = env.step(expert(obs))
        finals.append(np.concatenate([u.data.qpos, u.data.qvel]))
    np.testing.assert_array_equal(finals[0], finals[1])


def test_reset_randomises_within_ranges() -> None:
    """Seeds give different layouts: two parts in each side's box (the left box mirrors
    the right), at least ``min_separation`` apart, standing upright on the table at any
    yaw, no stage reached; the task state is a fresh (28,) array of the four poses; the
    kinds are dealt to the sides differently across seeds."""
    env, u = _env()
    task: PickAndPlaceParts = u.task
    c = task.config
    seen, sides = set(), set()
    for seed in range(8):
        obs, info = env.reset(seed=seed)
        state = obs["task_state"]
        assert state.shape == (28,)
        poses = state.reshape(4, 7)
        xy = poses[:, :2]
        right = xy[:, 1] < 0.0
        assert right.sum() == 2
        mirrored = np.where(right[:, None], xy, xy * [1.0, -1.0])
        assert np.all(mirrored >= np.array(c.right_xy_low) - 1e-12)
        assert np.all(mirrored <= np.array(c.right_xy_high) + 1e-12)
        for i in range(4):
            for j in range(i):
                assert np.linalg.norm(xy[i] - xy[j]) >= c.min_separation
        assert np.all(poses[:, 2] == 0.0) and np.all(poses[:, 4:6] == 0.0)
        np.testing.assert_allclose(np.linalg.norm(poses[:, 3:], axis=1), 1.0)
        assert not any(info["stages"].values()) and info["normalized_score"] == 0.0
        seen.add(tuple(state))
        sides.add(tuple(right))
        state[:] = np.nan  # must not alias MuJoCo's buffers
        assert np.isfinite(task.state(u.model, u.data)).all()
    assert len(seen) == 8 and len(sides) > 2


def test_parts_stand_still_and_bins_are_fixed() -> None:
    """Left alone for 1 s, every part stays where it was put (< 0.5 mm, tilt < 0.01 rad)
    and nothing fails; the bins are static (no joints) and in their documented places."""
    env, u = _env()
    obs, _ = env.reset(seed=4)
    start = obs["task_state"].reshape(4, 7).copy()
    for _ in range(50):
        obs, _, terminated, _, info = env.step(u.hold_action())
    assert not terminated and not info["failure"]
    end = obs["task_state"].reshape(4, 7)
    assert np.abs(end[:, :3] - start[:, :3]).max() < 5e-4
    for kind in KINDS:
        _, rot = u.task.part_pose(u.data, kind)
        assert math.acos(min(rot[2, 2], 1.0)) < 0.01
        body = u.model.body(pp.NAMES[kind].bin_body)
        assert body.jntnum[0] == 0
        np.testing.assert_allclose(u.data.xpos[body.id][:2], pp.BIN_CENTRES[kind])


def test_reward_terms_without_contact() -> None:
    """With the hands at their start pose only ``reach`` is non-zero, and it is larger
    with a hand's pads 1 cm from a part than far away."""
    env, u = _env()
    env.reset(seed=0)
    _, reward, _, _, info = env.step(u.hold_action())
    terms = info["reward_terms"]
    assert terms["grasp"] == terms["place"] == terms["sorted"] == 0.0
    assert reward == pytest.approx(terms["reach"], abs=1e-12)
    far = terms["reach"]
    u.task._m = dict(u.task.measurements, reach=0.01)
    near = u.task.reward(u.model, u.data)["reach"]
    assert 0.0 < far < near == pytest.approx(WEIGHTS["reach"])


def test_parts_are_held_by_contact_only() -> None:
    """No equality constraint touches a part; the expert's first part, pinched and
    lifted, falls (> 3 cm within 0.5 s) when the fingers open with the palm still."""
    env, u = _env()
    m = u.model
    bodies = {m.body(pp.NAMES[k].body).id for k in KINDS}
    for i in range(m.neq):
        assert not ({m.eq_obj1id[i], m.eq_obj2id[i]} & bodies)
    obs, _ = env.reset(seed=1)
    kind = _first_part(u, 1)
    expert = PickAndPlacePartsExpert(u)
    expert.reset()
    _run_until(env, expert, obs, f"{kind}:carry")
    z0 = u.task.part_pose(u.data, kind)[0][2]
    assert z0 > 0.05 and u.task.measurements[f"{kind}_grasped"]
    side = expert.side_for(kind)
    action = u.hold_action()
    action[u.layout.slice(f"{side.value}/hand")] = expert.open_hand(side, kind)
    for _ in range(25):
        env.step(action)
    assert u.task.part_pose(u.data, kind)[0][2] < z0 - 0.03


def test_hold_keeps_the_pinched_part_and_intent_follows_the_plan() -> None:
    """``hold()`` right after the lift keeps the part in the hand (moves < 1 cm over 2 s,
    still grasped); ``planned(t)`` gives both sides' palm pose and hand targets, equal at
    a segment's end to that segment's planned targets."""
    env, u = _env()
    obs, _ = env.reset(seed=2)
    kind = _first_part(u, 2)
    expert = PickAndPlacePartsExpert(u)
    expert.reset()
    obs = _run_until(env, expert, obs, f"{kind}:carry")
    expert.hold()
    start = u.task.part_pose(u.data, kind)[0]
    for _ in range(100):
        obs, *_ = env.step(expert(obs))
    drift = np.linalg.norm(u.task.part_pose(u.data, kind)[0] - start)
    print(f"\nhold drift {drift * 1e3:.2f} mm over 2 s")
    assert drift < 0.01 and u.task.measurements[f"{kind}_grasped"]
    end_t, poses = expert._keyframes[1]
    intent = expert.planned(end_t)
    for side, pose in poses.items():
        np.testing.assert_allclose(intent[side]["palm_pos"], pose.pos, atol=1e-12)
        np.testing.assert_allclose(intent[side]["hand_q"], pose.hand_q, atol=1e-12)
        assert intent[side]["palm_quat"].shape == (4,)


@pytest.mark.parametrize("where", ["off_table", "wrong_bin"])
def test_failure_rules(where: str) -> None:
    """A part below the table top's ``fall_z``, or lying in another kind's bin, ends the
    episode as a failure."""
    env, u = _env()
    env.reset(seed=0)
    if where == "off_table":
        pos = np.array([1.2, -0.3, -0.3])  # beyond the table's far edge
    else:
        x, y = pp.BIN_CENTRES["bolt"]
        pos = np.array([x, y, 2 * pp.BIN_FLOOR_HALF_THICKNESS])
    u.task.set_part_pose(u.data, "nut", pos, np.array([1.0, 0.0, 0.0, 0.0]))
    mujoco.mj_forward(u.model, u.data)
    _, _, terminated, _, info = env.step(u.hold_action())
    assert terminated and info["failure"] and not info["success"]


def test_a_part_put_in_its_bin_without_a_grasp_is_not_sorted() -> None:
    """Stages are ordered: a nut teleported into its own bin is neither grasped nor
    sorted (no failure either), and the score stays 0; each sub-task holds the part's
    two stages."""
    env, u = _env()
    env.reset(seed=0)
    x, y = pp.BIN_CENTRES["nut"]
    u.task.set_part_pose(u.data, "nut", np.array([x, y, 2 * pp.BIN_FLOOR_HALF_THICKNESS]),
                         np.array([1.0, 0.0, 0.0, 0.0]))  # fmt: skip
    mujoco.mj_forward(u.model, u.data)
    for _ in range(5):
        _, _, terminated, _, info = env.step(u.hold_action())
    assert u.task.measurements["nut_in_own_bin"] == 1.0
    assert not terminated and not info["failure"]
    assert not any(info["stages"].values()) and info["score"] == 0.0
    assert SUBTASKS == tuple((f"{k}_grasped", f"{k}_sorted") for k in KINDS)


def test_expert_rejects_other_tasks() -> None:
    """The expert refuses an env whose task is not PickAndPlaceParts."""
    env = make_env("Reach")
    with pytest.raises(TypeError):
        PickAndPlacePartsExpert(env.unwrapped)
