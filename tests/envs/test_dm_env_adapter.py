"""The dm_env adapter conforms to dm_env's own environment test suite."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from absl.testing import absltest
from dm_env import test_utils

import handitl  # noqa: F401
from handitl.envs.dm_env_adapter import DmEnvAdapter


class DmEnvAdapterConformanceTest(test_utils.EnvironmentTestMixin, absltest.TestCase):
    """dm_env's EnvironmentTestMixin: specs match observations, step types follow the
    FIRST/MID/LAST protocol, rewards and discounts match their specs."""

    def make_object_under_test(self) -> DmEnvAdapter:
        return DmEnvAdapter(gym.make("HandITL/Reach-v0", max_episode_steps=20), seed=0)

    def make_action(self):
        return self.environment.gym_env.unwrapped.hold_action().astype(np.float32)


def test_episode_ends_with_truncation_and_physics_shares_state() -> None:
    """A TimeLimit ends the episode as a truncation (discount 1), the next step restarts,
    and `physics` reads the env's live MjData (no copy)."""
    adapter = DmEnvAdapter(gym.make("HandITL/Reach-v0", max_episode_steps=3), seed=1)
    first = adapter.reset()
    assert first.first()
    hold = adapter.gym_env.unwrapped.hold_action()
    steps = [adapter.step(hold) for _ in range(3)]
    assert steps[-1].last() and steps[-1].discount == 1.0
    assert adapter.step(hold).first()
    data = adapter.gym_env.unwrapped.data
    assert adapter.physics.data.qpos.shape == data.qpos.shape
    data.qpos[0] += 0.1
    assert adapter.physics.data.qpos[0] == data.qpos[0]
    adapter.close()
