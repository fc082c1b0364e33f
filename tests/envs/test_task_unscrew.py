"""``UnscrewByHand``: the assembly's thread physics and the task's stages and rewards.

Physics claims are checked as behaviour: a known torque on a nut turns it and raises it
by the thread's pitch per turn; at the top of the thread the prop releases it and nothing
constrains it any more; a nut is only moved by contact. Everything is deterministic.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from handitl.assets import contact_constants as cc
from handitl.assets.props import assembly as ap
from handitl.envs.bimanual_env import BimanualEnv
from handitl.envs.tasks.unscrew import NUTS, STAGES, SUBTASKS, WEIGHTS, UnscrewByHand


def _bare_assembly(kind: str) -> tuple[mujoco.MjModel, mujoco.MjData, dict[str, ap.ThreadBinding]]:
    """The assembly alone on a table, at (0.5, 0.1) turned by 0.4 rad, nuts seated at 0.3 rad."""
    spec = mujoco.MjSpec()
    cc.apply_physics_options(spec)
    table = spec.worldbody.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX, pos=[0, 0, -0.02],
                                    size=[1.0, 1.0, 0.02])  # fmt: skip
    cc.set_object_contact(table)
    names = ap.add_assembly(spec, kind)
    model = spec.compile()
    data = mujoco.MjData(model)
    mocap = model.body(ap.ASSEMBLY_BODY).mocapid[0]
    data.mocap_pos[mocap] = [0.5, 0.1, 0.0]
    data.mocap_quat[mocap] = [math.cos(0.2), 0.0, 0.0, math.sin(0.2)]
    threads = {n: ap.ThreadBinding.bind(model, names[n]) for n in names}
    for t in threads.values():
        t.seat(model, data, 0.3)
    mujoco.mj_forward(model, data)
    return model, data, threads


@pytest.mark.parametrize("kind", ap.KINDS)
def test_thread_turns_rises_by_pitch_and_releases_at_the_top(kind: str) -> None:
    """A torque 0.01 N m over the thread's friction unscrews the fastener: while on its thread its
    rise equals pitch / (2 pi) * angle within 0.2 mm; at rest it does not back off
    (< 1e-3 rad in 0.5 s); at the top of the thread the weld is released, after which a
    0.5 N upward force lifts it freely (> 5 cm in 0.5 s) and the other fastener stays."""
    model, data, threads = _bare_assembly(kind)
    t, other = threads["nut_a"], threads["nut_b"]
    for _ in range(250):
        mujoco.mj_step(model, data)
    z0, a0 = data.xpos[t.body][2], t.turn(data)
    for _ in range(250):
        mujoco.mj_step(model, data)
    assert abs(t.turn(data) - a0) < 1e-3
    data.xfrc_applied[t.body, 5] = model.dof_frictionloss[t.turn_dof] + 0.01
    errors, released_at = [], None
    for _ in range(3000):
        if t.release_if_unscrewed(data):
            released_at = data.time
            break
        mujoco.mj_step(model, data)
        rise = data.xpos[t.body][2] - z0
        errors.append(abs(rise - t.pitch / (2 * math.pi) * (t.turn(data) - a0)))
    assert released_at is not None and max(errors) < 2e-4
    assert t.rise(data) >= t.travel - ap.RELEASE_MARGIN
    assert not t.engaged(data) and other.engaged(data)
    data.xfrc_applied[t.body] = [0.0, 0.0, 0.5, 0.0, 0.0, 0.0]
    z1 = data.xpos[t.body][2]
    for _ in range(250):
        mujoco.mj_step(model, data)
    assert data.xpos[t.body][2] > z1 + 0.05
    assert abs(other.rise(data) - t.pitch / (2 * math.pi) * 0.3) < 2e-4


def _env() -> BimanualEnv:
    return BimanualEnv(UnscrewByHand())


def test_env_passes_gymnasium_checks() -> None:
    """The env satisfies Gymnasium's env checker."""
    check_env(_env(), skip_render_check=True)


def test_reset_randomises_within_ranges() -> None:
    """Seeds give different assembly poses within the config's box and yaw range; nuts
    start engaged, 0.5 to 0.75 turn from the top (turn in [0, pi/2)), no stage reached;
    the task state is a fresh (27,) array."""
    env = _env()
    c = env.task.config
    seen = set()
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        s = obs["task_state"]
        assert s.shape == (27,)
        assert np.all(s[:2] >= np.array(c.base_xy_low) - 1e-12) and np.all(
            s[:2] <= np.array(c.base_xy_high) + 1e-12
        )
        assert abs(2 * math.atan2(s[6], s[3])) <= c.base_yaw_range + 1e-9
        for k in range(len(NUTS)):
            turn, rise, engaged = s[7 + 10 * k + 7 : 7 + 10 * k + 10]
            assert 0.0 <= turn < 0.5 * math.pi and engaged == 1.0
            assert rise == pytest.approx(ap.THREAD_PITCH / (2 * math.pi) * turn)
        assert not any(info["stages"].values()) and info["normalized_score"] == 0.0
        seen.add(tuple(s))
        s[:] = np.nan  # must not alias MuJoCo's buffers
        assert np.isfinite(env.task.state(env.model, env.data)).all()
    assert len(seen) == 6


def test_same_seed_same_state() -> None:
    """Two runs from the same seed with the same actions are bit-identical."""
    finals = []
    for _ in range(2):
        env = _env()
        env.reset(seed=3)
        for _ in range(30):
            env.step(env.hold_action())
        finals.append(np.concatenate([env.data.qpos, env.data.qvel]))
    np.testing.assert_array_equal(finals[0], finals[1])


def test_rest_reward_terms_and_sum() -> None:
    """Left alone for 1 s nothing moves (nuts < 0.3 mm), no stage or failure; the reward
    is the sum of its terms, each within [0, weight], and only ``reach`` and ``turn``
    (the seated nut's start rise) are non-zero."""
    env = _env()
    obs, _ = env.reset(seed=0)
    start = obs["task_state"].copy()
    for _ in range(50):
        obs, reward, terminated, _, info = env.step(env.hold_action())
        terms = info["reward_terms"]
        assert set(terms) == set(WEIGHTS)
        assert reward == pytest.approx(sum(terms.values()), abs=1e-12)
        for name, value in terms.items():
            assert -1e-12 <= value <= WEIGHTS[name] + 1e-12
    assert not terminated and not info["failure"]
    assert terms["steady"] == terms["place"] == terms["progress"] == 0.0
    assert terms["reach"] > 0.0
    for k in range(len(NUTS)):
        pos = slice(7 + 10 * k, 7 + 10 * k + 3)
        assert np.abs(obs["task_state"][pos] - start[pos]).max() < 3e-4


def test_turning_without_steadying_does_not_loosen() -> None:
    """A nut unscrewed to the top of its thread by an external torque with the left hand
    off the block is released but not loosened (turns only count while steadied); no
    equality constrains it after the release."""
    env = _env()
    env.reset(seed=1)
    t = env.task.thread("nut_a")
    info = None
    for _ in range(150):
        env.data.xfrc_applied[t.body, 5] = 0.02
        _, _, _, _, info = env.step(env.hold_action())
        if not t.engaged(env.data):
            break
    assert not t.engaged(env.data)
    assert env.task.measurements["nut_a_steady_turns"] == 0.0
    assert not info["stages"]["nut_a_loosened"] and info["score"] == 0.0
    m = env.model
    for i in range(m.neq):
        if env.data.eq_active[i] and m.eq_type[i] == mujoco.mjtEq.mjEQ_WELD:
            assert t.body not in (m.eq_obj1id[i], m.eq_obj2id[i])


def test_steadied_turn_loosens_and_stages_are_ordered() -> None:
    """With the steadying flag forced on (as if the left hand touched the block), an
    unscrewing torque latches ``nut_a_loosened`` only; a released nut teleported into the
    tray is not ``in_tray`` (not removed first); sub-tasks group each nut's 3 stages."""
    env = _env()
    env.reset(seed=2)
    task = env.task
    t = task.thread("nut_a")
    real = task._contacts
    task._contacts = lambda data: (real(data)[0], True)
    info = None
    for _ in range(150):
        env.data.xfrc_applied[t.body, 5] = 0.02
        _, _, _, _, info = env.step(env.hold_action())
        if not t.engaged(env.data):
            break
    env.data.xfrc_applied[:] = 0.0
    assert info["stages"]["nut_a_loosened"] and not info["stages"]["nut_a_removed"]
    assert info["score"] == pytest.approx(1 / 3)
    tray = task.tray_centre()
    env.data.qpos[t.qpos : t.qpos + 7] = [tray[0], tray[1], tray[2] + 0.001, 1, 0, 0, 0]
    env.data.qvel[t.dof : t.dof + 6] = 0.0
    mujoco.mj_forward(env.model, env.data)
    for _ in range(10):
        _, _, _, _, info = env.step(env.hold_action())
    assert task.measurements["nut_a_in_tray"] == 1.0
    assert not info["stages"]["nut_a_in_tray"] and info["score"] == pytest.approx(1 / 3)
    assert SUBTASKS == tuple((f"{n}_loosened", f"{n}_removed", f"{n}_in_tray") for n in NUTS)
    assert list(info["stages"]) == list(STAGES)


def test_failure_when_a_nut_falls_off_the_table() -> None:
    """A released nut below ``fall_z`` ends the episode as a failure."""
    env = _env()
    env.reset(seed=0)
    t = env.task.thread("nut_b")
    env.data.eq_active[t.weld] = 0
    env.data.qpos[t.qpos : t.qpos + 7] = [1.2, -0.3, -0.3, 1, 0, 0, 0]
    mujoco.mj_forward(env.model, env.data)
    _, _, terminated, _, info = env.step(env.hold_action())
    assert terminated and info["failure"] and not info["success"]
