"""``BreadClip``: the sprung clip, the task's stages and its scripted expert.

Physics claims are checked as behaviour: the clip is held only by contact (no
constraints; it falls when the fingers open), the hinge spring opens and closes the jaws
under a squeeze of known force, and the expert clips it onto the neck. Everything is
deterministic (fixed seeds).
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from handitl.agents.experts.bread_clip import BreadClipExpert
from handitl.assets.props import bread_clip as bc
from handitl.envs import make_env
from handitl.envs.tasks.bread_clip import STAGES, BreadClip
from tests.envs.expert_steps import run_until

MAX_STEPS = 500


def _env():
    env = make_env("BreadClip")
    return env, env.unwrapped


def _run_until(env, expert, obs, segment: str, max_steps: int = MAX_STEPS):
    return run_until(env, expert, obs, segment, max_steps)


def _rollout(seed: int) -> tuple[dict, np.ndarray, list[tuple[float, dict]]]:
    """One expert episode: final info, final clip qpos, (reward, terms) per step."""
    env, u = _env()
    obs, info = env.reset(seed=seed)
    expert = BreadClipExpert(u)
    expert.reset()
    rewards = []
    for _ in range(MAX_STEPS):
        obs, reward, terminated, truncated, info = env.step(expert(obs))
        rewards.append((reward, info["reward_terms"]))
        if terminated or truncated:
            break
    clip_q = u.data.qpos[u.model.joint(bc.CLIP_JOINT).qposadr[0] :][:7].copy()
    env.close()
    return info, clip_q, rewards


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expert_clips_the_bag(seed: int) -> None:
    """The expert reaches every stage in order and succeeds within the episode; the
    reward equals the sum of its terms at every step, each term within [0, its weight]."""
    info, _, rewards = _rollout(seed)
    assert info["success"] and not info["failure"]
    assert list(info["stages"]) == list(STAGES) and all(info["stages"].values())
    weights = {"reach": 0.1, "pinch": 0.2, "open": 0.2, "place": 0.2, "clip": 0.3}
    for reward, terms in rewards:
        assert set(terms) == set(weights)
        assert reward == pytest.approx(sum(terms.values()), abs=1e-12)
        for name, value in terms.items():
            assert -1e-12 <= value <= weights[name] + 1e-12, (name, value)


def test_same_seed_same_final_clip_pose() -> None:
    """Two episodes with the same seed end with bit-identical clip poses."""
    _, a, _ = _rollout(3)
    _, b, _ = _rollout(3)
    np.testing.assert_array_equal(a, b)


def test_reset_randomises_within_ranges() -> None:
    """Seeds give different clip and neck poses, inside the configured boxes, with the
    clip resting closed on the table and at least ``min_separation`` from the neck; the
    task state is a fresh (11,) array: clip pose, jaw angle, neck position."""
    env, u = _env()
    task: BreadClip = u.task
    c = task.config
    seen = []
    for seed in range(8):
        obs, info = env.reset(seed=seed)
        state = obs["task_state"]
        assert state.shape == (11,)
        clip, neck = state[:3], state[8:]
        assert np.all(clip[:2] >= c.clip_xy_low) and np.all(clip[:2] <= c.clip_xy_high)
        assert np.all(neck[:2] >= c.neck_xy_low) and np.all(neck[:2] <= c.neck_xy_high)
        assert clip[2] == pytest.approx(bc.CLIP_REST_Z) and neck[2] == 0.0
        assert np.linalg.norm(clip[:2] - neck[:2]) >= c.min_separation
        assert state[7] == 0.0 and not any(info["stages"].values())
        seen.append(state[:3].copy())
        state[:] = np.nan  # must not alias MuJoCo's buffers
        assert np.isfinite(u.task.state(u.model, u.data)).all()
    assert len({tuple(s) for s in seen}) == len(seen)


def test_spring_opens_under_squeeze_and_closes_on_release() -> None:
    """Equal and opposite 5 N forces pressing the lever faces together (1.8 cm behind the
    hinge, along the line joining the two press points, so no net force or torque on the
    clip) open the jaws to the spring's equilibrium k (q - q_ref) = hinge torque, within
    0.03 rad; once released, the spring closes them (< 0.01 rad) within 0.3 s."""
    env, u = _env()
    env.reset(seed=0)
    m, d = u.model, u.data
    force = 5.0
    arm_a, arm_b = m.body(bc.CLIP_ARM_A_BODY).id, m.body(bc.CLIP_BODY).id
    hinge = m.joint(bc.CLIP_HINGE).qposadr[0]
    torque = 0.0
    for _ in range(50):  # 1 s of squeeze, re-aimed each control step as the levers turn
        points = {}
        for body, side in ((arm_a, "a"), (arm_b, "b")):
            points[body] = d.xpos[body] + d.xmat[body].reshape(3, 3) @ bc.lever_outer_point(
                bc.CLIP_PAD_X, side
            )
        line = points[arm_a] - points[arm_b]
        line /= np.linalg.norm(line)
        for body, sign in ((arm_a, -1.0), (arm_b, 1.0)):
            f = sign * force * line
            d.xfrc_applied[body, :3] = f
            d.xfrc_applied[body, 3:] = np.cross(points[body] - d.xipos[body], f)
        axis = d.xmat[arm_a].reshape(3, 3)[:, 2]
        torque = float(np.cross(points[arm_a] - d.xpos[arm_a], -force * line) @ axis)
        env.step(u.hold_action())
    expected = torque / bc.HINGE_STIFFNESS + bc.HINGE_SPRINGREF
    print(f"\nsqueezed {d.qpos[hinge]:.3f} rad, spring equilibrium {expected:.3f} rad")
    assert expected > 0.3
    assert d.qpos[hinge] == pytest.approx(expected, abs=0.03)
    d.xfrc_applied[:] = 0.0
    for _ in range(15):
        env.step(u.hold_action())
    assert d.qpos[hinge] < 0.01


def test_clip_is_held_by_contact_only() -> None:
    """No equality constraint, weld or tendon touches the clip; the expert's lifted,
    squeezed clip falls (> 3 cm in 0.5 s) when the fingers open with the palm still."""
    env, u = _env()
    m = u.model
    clip_bodies = {m.body(bc.CLIP_BODY).id, m.body(bc.CLIP_ARM_A_BODY).id}
    for i in range(m.neq):
        assert not ({m.eq_obj1id[i], m.eq_obj2id[i]} & clip_bodies)
    obs, _ = env.reset(seed=1)
    expert = BreadClipExpert(u)
    expert.reset()
    obs = _run_until(env, expert, obs, "carry")
    z0 = u.task.clip_pose(u.data)[0][2]
    assert z0 > 0.08 and u.task.measurements["pinched"]
    action = u.hold_action()
    action[u.layout.slice("right/hand")] = expert.open_hand
    for _ in range(25):
        env.step(action)
    assert u.task.clip_pose(u.data)[0][2] < z0 - 0.03


def test_hold_keeps_the_pinched_clip() -> None:
    """``hold()`` right after the lift keeps the open clip in the hand: it moves < 1 cm
    over 2 s and stays pinched and open."""
    env, u = _env()
    obs, _ = env.reset(seed=2)
    expert = BreadClipExpert(u)
    expert.reset()
    obs = _run_until(env, expert, obs, "carry")
    expert.hold()
    start = u.task.clip_pose(u.data)[0]
    for _ in range(100):
        obs, *_ = env.step(expert(obs))
    drift = np.linalg.norm(u.task.clip_pose(u.data)[0] - start)
    print(f"\nhold drift {drift * 1e3:.2f} mm over 2 s")
    assert drift < 0.01
    assert u.task.measurements["pinched"] and u.task.jaw_angle(u.data) >= u.task.config.open_angle


def test_failure_when_clip_falls_off_the_table() -> None:
    """A clip below the table top's ``fall_z`` ends the episode as a failure."""
    env, u = _env()
    env.reset(seed=0)
    qadr = u.model.joint(bc.CLIP_JOINT).qposadr[0]
    u.data.qpos[qadr : qadr + 3] = [1.2, -0.3, -0.3]  # beyond the table's far edge
    mujoco.mj_forward(u.model, u.data)
    _, _, terminated, _, info = env.step(u.hold_action())
    assert terminated and info["failure"] and not info["success"]


def test_expert_rejects_other_tasks() -> None:
    """The expert refuses an env whose task is not BreadClip."""
    env = make_env("Reach")
    with pytest.raises(TypeError):
        BreadClipExpert(env.unwrapped)


def test_a_clip_turned_over_is_pinched_from_its_other_side() -> None:
    """The clip is symmetric: turned by pi about the vertical (after a slip), it is pinched
    with the palm it had before (thumb and index on the other levers), not one turned
    half a revolution out of the arm's reach; turned by 0.3 rad, the palm turns 0.3 rad."""
    env, u = _env()
    env.reset(seed=0)
    expert = BreadClipExpert(u)
    _, rot = u.task.clip_pose(u.data)

    def turned(angle: float) -> np.ndarray:
        c, s = np.cos(angle), np.sin(angle)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ rot

    base = expert._palm_rotation(rot)
    np.testing.assert_allclose(expert._palm_rotation(turned(np.pi)), base, atol=1e-9)
    small = expert._palm_rotation(turned(0.3)) @ base.T
    assert np.degrees(np.arccos((np.trace(small) - 1.0) / 2.0)) == pytest.approx(np.degrees(0.3), abs=0.1)
