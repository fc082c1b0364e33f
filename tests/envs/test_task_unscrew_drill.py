"""``UnscrewWithDrill``: the screw fixture, the bit's drive rule, the task's scoring, and
its scripted expert.

The drive rule is checked with the drill placed by the test (gravity off, the drill posed
each step with its bit on a screw's head) and its trigger pressed by a known force: the
screw turns at the chuck's speed only while the bit is aligned and the trigger is
pressed; a screw driven out without the left hand on the fixture is not scored loosened.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from handitl.agents.experts import expert_for
from handitl.agents.experts.unscrew_drill import UnscrewWithDrillExpert
from handitl.assets.props import assembly as ap
from handitl.assets.props import drill as dp
from handitl.envs import make_env
from handitl.envs.tasks.unscrew_drill import SCREWS, STAGES, SUBTASKS, WEIGHTS, UnscrewWithDrill
from tests.envs.expert_steps import assert_reward_terms


def _env():
    env = make_env("UnscrewWithDrill")
    return env, env.unwrapped


def test_reset_randomises_within_ranges_and_nothing_touches() -> None:
    """Seeds give different fixture poses within the configured box and yaw range, both
    screws seated on their threads, the drill standing clear of the fixture (no contact
    between them), a (36,) task state and no stage reached."""
    env, u = _env()
    task: UnscrewWithDrill = u.task
    c = task.config
    drill_bodies = {b for b in range(u.model.nbody) if u.model.body_rootid[b] == u.model.body("drill").id}
    fixture = u.model.body(ap.ASSEMBLY_BODY).id
    seen = []
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        state = obs["task_state"]
        assert state.shape == (36,)
        pos, quat = state[9:12], state[12:16]
        assert np.all(pos[:2] >= c.fixture_xy_low) and np.all(pos[:2] <= c.fixture_xy_high)
        yaw = 2.0 * math.atan2(quat[3], quat[0])
        assert abs(yaw - c.fixture_yaw) <= c.fixture_yaw_range + 1e-9
        for k in range(len(SCREWS)):
            turn, rise, engaged = state[16 + 10 * k + 7 : 16 + 10 * k + 10]
            assert turn == 0.0 and rise == 0.0 and engaged == 1.0
        bodies = {(u.model.geom_bodyid[a], u.model.geom_bodyid[b])
                  for a, b in zip(u.data.contact.geom1[: u.data.ncon], u.data.contact.geom2[: u.data.ncon])}  # fmt: skip
        assert not any(
            (a in drill_bodies and b == fixture) or (b in drill_bodies and a == fixture) for a, b in bodies
        )
        assert list(info["stages"]) == list(STAGES) and not any(info["stages"].values())
        seen.append(tuple(pos))
    assert len(set(seen)) == len(seen)


def test_screw_heads_face_the_robot_at_a_height_a_held_drill_reaches() -> None:
    """Each screw's axis points out of the leaning face toward the robot and up by the
    panel's lean; the heads sit ~0.25 m up, 7.7 cm apart."""
    env, u = _env()
    env.reset(seed=0)
    task: UnscrewWithDrill = u.task
    heads = []
    for screw in SCREWS:
        head, axis = task.screw_head(u.data, screw)
        assert axis[0] < -0.85 and axis[2] == pytest.approx(math.sin(ap.FIXTURE_LEAN), abs=1e-6)
        assert 0.23 < head[2] < 0.27
        heads.append(head)
    assert np.linalg.norm(heads[0] - heads[1]) == pytest.approx(abs(np.diff(ap.FIXTURE_SCREW_Y)[0]), abs=1e-6)


def _pose_drill_on(u, screw: str, radial: float = 0.0) -> None:
    """Pose the drill (at rest) with its bit along the screw's axis, the tip 0.5 mm off
    the head's face (inside the drive's tolerance, not pressing: no contact force turns
    the screw) and ``radial`` m off the axis (along the face, horizontally)."""
    task: UnscrewWithDrill = u.task
    head, axis = task.screw_head(u.data, screw)
    x = -axis
    z = np.array([0.0, 0.0, 1.0]) - x[2] * x
    z /= np.linalg.norm(z)
    R = np.stack([x, np.cross(z, x), z], axis=1)
    pos, rot = task.drill.drill_pose(u.data)
    tip_local = rot.T @ (task.drill.bit_tip(u.data) - pos)
    side = np.cross(axis, [0.0, 0.0, 1.0])
    side /= np.linalg.norm(side)
    tip = head + 0.0005 * axis + radial * side
    task.drill.set_drill_pose(u.data, tip - R @ tip_local, R)
    dof = u.model.joint(dp.NAMES.freejoint).dofadr[0]
    u.data.qvel[dof : dof + 6] = 0.0
    mujoco.mj_forward(u.model, u.data)


def _drive(env, u, screw: str, seconds: float, press: float, radial: float = 0.0) -> list[dict]:
    """Control steps with the drill posed on ``screw`` and ``press`` N on the trigger."""
    trigger = u.model.joint(dp.NAMES.trigger_joint).dofadr[0]
    infos = []
    for _ in range(round(seconds / u.config.control_dt)):
        _pose_drill_on(u, screw, radial)
        u.data.qfrc_applied[trigger] = press
        _, _, _, _, info = env.step(u.hold_action())
        infos.append(info)
    return infos


def _drive_env():
    env, u = _env()
    env.reset(seed=0)
    u.model.opt.gravity[:] = 0.0  # the test holds the drill; no hand does
    return env, u


def test_bit_turns_the_screw_only_aligned_with_the_trigger_pressed() -> None:
    """With the bit on the head and the trigger pressed (12 N, full speed) the screw turns
    at the chuck's speed (within 5 %) and leaves its thread after its 5 turns; 6 mm off
    the axis, or aligned with the trigger released, it does not turn (< 0.01 turn in
    0.5 s). Stages need a hand: with the drill held by the test none is reached."""
    env, u = _drive_env()
    task: UnscrewWithDrill = u.task
    thread = task.thread("screw_a")
    _drive(env, u, "screw_a", 0.5, press=12.0, radial=0.006)
    assert abs(thread.turn(u.data)) < 2 * math.pi * 0.01
    assert task.measurements["screw_a_aligned"] == 0.0
    _drive(env, u, "screw_a", 0.5, press=0.0)  # the chuck spins down
    before = thread.turn(u.data)
    _drive(env, u, "screw_a", 0.5, press=0.0)
    assert task.measurements["screw_a_aligned"] == 1.0
    assert abs(thread.turn(u.data) - before) < 2 * math.pi * 0.01
    speeds = []
    for _ in range(100):
        (info,) = _drive(env, u, "screw_a", u.config.control_dt, press=12.0)
        if thread.engaged(u.data):
            speeds.append(u.data.qvel[thread.turn_dof])
    assert not thread.engaged(u.data)
    chuck = abs(task.drill.chuck_speed(u.data))
    print(f"\nscrew speed {np.median(speeds[10:]):.1f} rad/s, chuck {chuck:.1f} rad/s")
    assert np.median(speeds[10:]) == pytest.approx(chuck, rel=0.05)
    # No hand held the drill nor steadied the fixture: driven out, but no stage scored.
    assert not any(info["stages"].values())
    assert task.thread("screw_b").engaged(u.data)


def test_reward_is_sum_of_terms_within_weights() -> None:
    """At rest only ``reach`` and ``turn`` (0 while seated) can be non-zero, the reward is
    the sum of the terms, each within [0, its weight], and the score splits over four
    sub-tasks."""
    env, u = _env()
    env.reset(seed=0)
    for _ in range(5):
        _, reward, _, _, info = env.step(u.hold_action())
        terms = info["reward_terms"]
        assert_reward_terms(reward, terms, WEIGHTS)
        assert terms["grasp"] == terms["align"] == terms["place"] == terms["progress"] == 0.0
    status = u.task.evaluate(u.model, u.data)
    assert status.num_subtasks == len(SUBTASKS) == 4


def test_failure_when_the_drill_falls_off_the_table() -> None:
    env, u = _env()
    env.reset(seed=0)
    q = u.model.joint(dp.NAMES.freejoint).qposadr[0]
    u.data.qpos[q : q + 3] = [1.2, -0.3, -0.3]
    mujoco.mj_forward(u.model, u.data)
    _, _, terminated, _, info = env.step(u.hold_action())
    assert terminated and info["failure"] and not info["success"]


def _rollout(seed: int, steps: int = 1600) -> tuple[dict, np.ndarray, list[float]]:
    env, u = _env()
    obs, info = env.reset(seed=seed)
    expert = expert_for(env)
    assert isinstance(expert, UnscrewWithDrillExpert)
    expert.reset()
    steadied = []
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(expert(obs))
        steadied.append(u.task.measurements["steadied"])
        if terminated or truncated:
            break
    return info, obs["task_state"].copy(), steadied


@pytest.mark.parametrize("seed", [0, 1])
def test_expert_drives_both_screws_out_and_sets_the_drill_down(seed: int) -> None:
    """The expert reaches every stage and succeeds (normalised score 1), the left hand on
    the fixture through the driving; both screws are off their threads and the drill
    stands on the table."""
    info, state, steadied = _rollout(seed)
    assert info["success"] and not info["failure"], info["stages"]
    assert info["normalized_score"] == 1.0
    assert state[16 + 9] == 0.0 and state[26 + 9] == 0.0  # both screws disengaged
    assert np.mean(steadied[-400:]) > 0.9


def test_same_seed_same_rollout() -> None:
    """Two expert rollouts of 600 steps (through the first screw's drive) with the same
    seed end bit-identical."""
    _, a, _ = _rollout(4, steps=600)
    _, b, _ = _rollout(4, steps=600)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", [1062, 1070])
def test_expert_sets_the_drill_down_where_the_first_plan_failed(seed: int) -> None:
    """Held-out seeds whose set-down used to fail: 1062 (turning the thumb flat before
    withdrawing flung the drill) and 1070 (the wrist reached the table 6 cm up and the
    dropped drill tipped over). Both now end with the drill standing, released."""
    info, _, _ = _rollout(seed, steps=2000)
    assert info["success"], info["stages"]
