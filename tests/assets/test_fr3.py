"""The FR3 built with MjSpec matches its datasheet kinematics and limits."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from handitl.assets import fr3
from handitl.assets import fr3_constants as c
from handitl.assets.hand_description import Side
from handitl.envs import make_env


@pytest.fixture(scope="module")
def arm() -> tuple[mujoco.MjModel, mujoco.MjData]:
    model = fr3.build_fr3().compile()
    return model, mujoco.MjData(model)


def test_flange_pose_equals_dh_forward_kinematics(arm) -> None:
    """At 200 random joint vectors within limits the flange site pose equals the Craig-DH
    forward kinematics within 1e-6 m and 1e-6 (rotation matrix entries)."""
    model, data = arm
    rng = np.random.default_rng(0)
    site = model.site(fr3.FLANGE_SITE).id
    qpos_idx = [model.joint(n).qposadr[0] for n in fr3.JOINT_NAMES]
    worst_pos = worst_rot = 0.0
    for _ in range(200):
        q = rng.uniform(c.JOINT_LOWER, c.JOINT_UPPER)
        data.qpos[qpos_idx] = q
        mujoco.mj_kinematics(model, data)
        T = c.flange_forward_kinematics(q)
        worst_pos = max(worst_pos, float(np.abs(data.site_xpos[site] - T[:3, 3]).max()))
        worst_rot = max(worst_rot, float(np.abs(data.site_xmat[site].reshape(3, 3) - T[:3, :3]).max()))
    assert worst_pos < 1e-6
    assert worst_rot < 1e-6


def test_flange_in_scene_equals_dh_relative_to_base() -> None:
    """Inside the bimanual scene, each flange pose relative to its arm base equals DH FK
    (1e-6 m), so attaching with prefixes and base frames keeps the kinematics."""
    env = make_env("Reach")
    env.reset(seed=1)
    model, data = env.model, env.data
    rng = np.random.default_rng(1)
    for side in Side:
        arm = env.scene.arms[side]
        base = model.body(arm.base_body).id
        site = model.site(arm.flange_site).id
        binding = env.robot.arms[side]
        for _ in range(20):
            q = rng.uniform(c.JOINT_LOWER, c.JOINT_UPPER)
            data.qpos[binding.qpos_idx] = q
            mujoco.mj_kinematics(model, data)
            R_base = data.xmat[base].reshape(3, 3)
            p_rel = R_base.T @ (data.site_xpos[site] - data.xpos[base])
            assert np.abs(p_rel - c.flange_forward_kinematics(q)[:3, 3]).max() < 1e-6
    env.close()


def test_limits_equal_constants(arm) -> None:
    """Joint ranges, servo control ranges and torque limits equal the FR3 constants
    exactly (no degree/radian mix-up in MjSpec)."""
    model, _ = arm
    for i, name in enumerate(fr3.JOINT_NAMES):
        joint = model.joint(name)
        np.testing.assert_array_equal(joint.range, [c.JOINT_LOWER[i], c.JOINT_UPPER[i]])
        act = model.actuator(fr3.ACTUATOR_NAMES[i])
        np.testing.assert_array_equal(act.ctrlrange, [c.JOINT_LOWER[i], c.JOINT_UPPER[i]])
        np.testing.assert_array_equal(act.forcerange, [-c.TORQUE_LIMIT[i], c.TORQUE_LIMIT[i]])
        assert act.forcelimited and act.ctrllimited


def test_link_masses_equal_constants(arm) -> None:
    """Each moving link's mass equals the identified link mass within 1e-9 kg."""
    model, _ = arm
    for i in range(c.NUM_JOINTS):
        assert model.body(f"fr3_link{i + 1}").mass[0] == pytest.approx(c.LINK_MASS[i], abs=1e-9)


def test_home_pose_within_limits() -> None:
    """The home pose lies strictly inside the joint limits (IK margins need room)."""
    assert (c.HOME_QPOS > c.JOINT_LOWER + 0.05).all()
    assert (c.HOME_QPOS < c.JOINT_UPPER - 0.05).all()
