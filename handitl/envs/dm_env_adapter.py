"""Run any handitl env in the dm_control ecosystem through the ``dm_env`` API.

    from dm_control import viewer
    from handitl.envs import make_env
    from handitl.envs.dm_env_adapter import DmEnvAdapter
    viewer.launch(lambda: DmEnvAdapter(make_env("Reach")), policy=lambda ts: ...)

``physics`` is a ``dm_control.mujoco.Physics`` sharing the env's MjData, which is what
dm_control's viewer renders and perturbs. dm_control is imported only here.
"""

from __future__ import annotations

from typing import Any

import dm_env
import gymnasium as gym
import numpy as np
from dm_env import specs
from gymnasium import spaces


def _spec_of(space: spaces.Space, name: str) -> Any:
    if isinstance(space, spaces.Dict):
        return {key: _spec_of(sub, key) for key, sub in space.spaces.items()}
    if isinstance(space, spaces.Box):
        if np.isfinite(space.low).all() and np.isfinite(space.high).all():
            return specs.BoundedArray(space.shape, space.dtype, space.low, space.high, name=name)
        return specs.Array(space.shape, space.dtype, name=name)
    raise TypeError(f"no dm_env spec for {type(space).__name__} space {name!r}")


class DmEnvAdapter(dm_env.Environment):
    """A ``dm_env.Environment`` view of a Gymnasium env built on :class:`BimanualEnv`.

    Episodes end with ``termination`` when the task terminates and ``truncation``
    (discount 1) when a TimeLimit truncates; a step after the last one starts a new
    episode, as dm_env requires. The first reset uses ``seed``; later ones continue its
    random stream, so a run is reproducible.
    """

    def __init__(self, env: gym.Env, seed: int | None = 0) -> None:
        self._env = env
        self._seed = seed
        self._needs_reset = True
        self._physics = None
        self._observation_spec = _spec_of(env.observation_space, "observation")
        self._action_spec = _spec_of(env.action_space, "action")

    @property
    def gym_env(self) -> gym.Env:
        return self._env

    @property
    def physics(self) -> Any:
        """dm_control Physics over the env's own MjData (created on first use)."""
        if self._physics is None:
            from dm_control import mujoco as dm_mujoco
            from dm_control.mujoco import wrapper

            self._physics = dm_mujoco.Physics(wrapper.MjData(self._env.unwrapped.data))
        return self._physics

    def reset(self) -> dm_env.TimeStep:
        obs, _ = self._env.reset(seed=self._seed)
        self._seed = None
        self._needs_reset = False
        return dm_env.restart(obs)

    def step(self, action: Any) -> dm_env.TimeStep:
        if self._needs_reset:
            return self.reset()
        obs, reward, terminated, truncated, _ = self._env.step(action)
        if terminated:
            self._needs_reset = True
            return dm_env.termination(reward, obs)
        if truncated:
            self._needs_reset = True
            return dm_env.truncation(reward, obs)
        return dm_env.transition(reward, obs)

    def observation_spec(self) -> Any:
        return self._observation_spec

    def action_spec(self) -> Any:
        return self._action_spec

    def reward_spec(self) -> specs.Array:
        return specs.Array((), np.float64, name="reward")

    def close(self) -> None:
        if self._physics is not None:
            self._physics.free()
            self._physics = None
        self._env.close()
