"""``UnscrewByHand`` with knobs: the prop's knob kind and the registered ratcheting expert.

Claims are checked as behaviour: the task builds round knobs whose grip point is on their
axis; a knob left alone, or with the hand near it but not touching it, does not turn; the
expert's pinch turns it by contact only (one wrist stroke unscrews it while the pads
touch it, and it stops when they let go); whole episodes succeed within the registered
limit; runs are deterministic.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np
import pytest

from handitl.agents.experts import expert_for
from handitl.agents.experts.unscrew import UnscrewByHandExpert
from handitl.assets.props import assembly as ap
from handitl.envs import make_env, task_entry
from handitl.envs.rotations import quat_from_mat
from handitl.envs.tasks.unscrew import NUTS
from tests.envs.expert_steps import run_until

MAX_STEPS = 700


def _env():
    env = make_env("UnscrewByHand")
    return env, env.unwrapped


def test_task_builds_round_knobs_with_the_grip_on_the_axis() -> None:
    """Each fastener is a 16-sided knob (8 boxes) of the documented size and mass whose
    grip site lies on its axis at ``KNOB_GRIP_HEIGHT``; only its thread weld names it."""
    env, u = _env()
    env.reset(seed=0)
    m, d = u.model, u.data
    for nut in NUTS:
        t = u.task.thread(nut)
        geoms = sorted(u.task.nut_geoms[nut])
        assert len(geoms) == ap.KNOB_SIDES // 2
        assert all(m.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX for g in geoms)
        np.testing.assert_allclose(2 * m.geom_size[geoms, 0], ap.KNOB_DIAMETER)
        np.testing.assert_allclose(2 * m.geom_size[geoms, 2], ap.KNOB_HEIGHT)
        assert m.body_mass[t.body] == pytest.approx(ap.KNOB_MASS)
        pos, rot = u.task.nut_pose(d, nut)
        grip = pos + rot @ [0.0, 0.0, ap.KNOB_GRIP_HEIGHT]
        np.testing.assert_allclose(d.site_xpos[t.grip_site], grip, atol=1e-9)
        welds = [i for i in range(m.neq) if m.eq_type[i] == mujoco.mjtEq.mjEQ_WELD
                 and t.body in (m.eq_obj1id[i], m.eq_obj2id[i])]  # fmt: skip
        assert welds == [t.weld]


def test_knob_does_not_turn_without_contact() -> None:
    """With the open hand held 1 cm clear of the knob (pads either side of it) for 1 s,
    nothing touches the knob and it turns < 1e-3 rad."""
    env, u = _env()
    obs, _ = env.reset(seed=0)
    expert = UnscrewByHandExpert(u)
    expert.reset()
    obs = run_until(env, expert, obs, "nut_b:approach", MAX_STEPS)
    t = u.task.thread("nut_b")
    expert.hold()
    for _ in range(10):  # settle at the pre-pinch pose, 4 cm above the pinch
        obs, *_ = env.step(expert(obs))
    palm, _ = u.palm_pose(expert.side)
    action = expert(obs)
    action[u.layout.slice("right/pos")] = palm - [0.0, 0.0, expert.config.pre_height - 0.01]
    a0 = t.turn(u.data)
    for _ in range(50):
        env.step(action)
        assert u.task.measurements["nut_b_touched"] == 0.0
    assert abs(t.turn(u.data) - a0) < 1e-3


def test_one_stroke_turns_the_knob_by_contact_only() -> None:
    """The expert pinches the knob (thumb and index pads touching it, steadied by the left
    hand), one wrist stroke unscrews it by > 0.15 turns (loosening counts it), and once
    the hand has let go and risen it stays put (< 0.01 rad over 0.4 s)."""
    env, u = _env()
    obs, _ = env.reset(seed=1)
    expert = UnscrewByHandExpert(u)
    expert.reset()
    t = u.task.thread("nut_b")
    obs = run_until(env, expert, obs, "nut_b:turn", MAX_STEPS)
    m = u.task.measurements
    assert m["nut_b_pinched"] and m["steadied"]
    a0 = t.turn(u.data)
    obs = run_until(env, expert, obs, "nut_b:turn_back", MAX_STEPS)
    a1 = t.turn(u.data)
    assert a1 - a0 > 0.15 * 2 * math.pi
    assert u.task.measurements["nut_b_steady_turns"] > 0.15
    assert u.task.measurements["nut_b_touched"] == 0.0
    for _ in range(20):
        obs, *_ = env.step(expert(obs))
        assert u.task.measurements["nut_b_touched"] == 0.0
    assert abs(t.turn(u.data) - a1) < 0.01


def test_expert_runs_are_bit_identical() -> None:
    """Two expert runs from the same seed are bit-identical after 7 s (steadying, pinch
    and part of the first stroke: contacts included)."""
    finals = []
    for _ in range(2):
        env, u = _env()
        obs, _ = env.reset(seed=3)
        expert = UnscrewByHandExpert(u)
        expert.reset()
        for _ in range(350):
            obs, *_ = env.step(expert(obs))
        finals.append(np.concatenate([u.data.qpos, u.data.qvel]))
    np.testing.assert_array_equal(finals[0], finals[1])


def test_planned_follows_the_plan() -> None:
    """``planned(t)`` gives both sides' palm pose and hand targets, equal at a segment's
    end to that segment's planned targets."""
    env, u = _env()
    env.reset(seed=2)
    expert = UnscrewByHandExpert(u)
    expert.reset()
    for k in (1, 5):
        end_t, poses = expert._keyframes[k]
        intent = expert.planned(end_t)
        for side, pose in poses.items():
            np.testing.assert_allclose(intent[side]["palm_pos"], pose.pos, atol=1e-12)
            np.testing.assert_allclose(intent[side]["hand_q"], pose.hand_q, atol=1e-12)


def test_expert_rejects_other_tasks() -> None:
    """The expert refuses an env whose task is not UnscrewByHand."""
    env = make_env("Reach")
    with pytest.raises(TypeError):
        UnscrewByHandExpert(env.unwrapped)


def test_segment_pivot_turns_the_palm_about_a_point() -> None:
    """A move with a pivot keeps the palm on a circle about the pivot's vertical (a
    stroke's orbit) and ends at its target; without one it is a straight line."""
    env, u = _env()
    env.reset(seed=0)
    expert = UnscrewByHandExpert(u)
    expert.reset()
    side = expert.side
    axis = np.array([0.55, -0.05, 0.03])
    start = expert._start
    palm0 = axis + [0.08, 0.0, 0.12]
    R0 = expert._palm_rotation(expert.config.yaw_low)
    segment = expert._orbit("orbit", palm0, R0, axis, 1.5, 1.0, 0.0)
    a = {s: dataclasses.replace(p) for s, p in start.items()}
    a[side].pos, a[side].quat = palm0, quat_from_mat(R0)
    b = expert._resolve(a, segment)
    for s in np.linspace(0.0, 1.0, 11):
        pos = expert._blend(a, b, s, segment.pivots)[side].pos
        assert np.hypot(*(pos - axis)[:2]) == pytest.approx(0.08, abs=1e-9)
        assert pos[2] == pytest.approx(palm0[2], abs=1e-9)
    np.testing.assert_allclose(expert._blend(a, b, 1.0, segment.pivots)[side].pos, b[side].pos, atol=1e-9)
    mid = expert._blend(a, b, 0.5)[side].pos
    np.testing.assert_allclose(mid, 0.5 * (a[side].pos + b[side].pos), atol=1e-12)


@pytest.mark.parametrize("seed", [2, 8])
def test_registered_expert_trays_both_knobs(seed: int) -> None:
    """``expert_for`` gives the ratcheting expert, which unscrews, removes and trays both
    knobs (every stage, success, normalised score 1) within the registered episode
    limit, each knob 0.5 to 0.75 turn from the top of its quick-action thread."""
    env, u = _env()
    expert = expert_for(env)
    assert isinstance(expert, UnscrewByHandExpert)
    obs, info = env.reset(seed=seed)
    expert.reset()
    for nut in NUTS:
        left = ap.THREAD_TURNS - u.task.thread(nut).turn(u.data) / (2 * math.pi)
        assert 0.5 <= left <= 0.75
    limit = task_entry("UnscrewByHand").max_episode_steps
    assert limit == 5000
    for _ in range(limit):
        obs, _, terminated, truncated, info = env.step(expert(obs))
        if terminated or truncated:
            break
    assert info["success"] and not info["failure"]
    assert all(info["stages"].values()) and info["normalized_score"] == 1.0
