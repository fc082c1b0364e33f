"""The task plug-in contract.

A task adds its props to the scene spec, binds names to ids after compile, randomises
its initial state from the env's generator, and reads the state to give a task
observation, reward terms and sub-goal stages. The env owns stepping: a task never
calls ``mj_step`` and never touches the robot's controls.
"""

from __future__ import annotations

import abc
import dataclasses

import mujoco
import numpy as np

from handitl.assets.scene import SceneDescription
from handitl.envs.robot import RobotBindings


@dataclasses.dataclass(frozen=True)
class TaskStatus:
    """Sub-goal stages (in task order) and the episode outcome."""

    stages: dict[str, bool]
    success: bool
    failure: bool = False

    @property
    def score(self) -> float:
        """Fraction of stages completed, in [0, 1] (the paper's sub-goal score)."""
        return sum(self.stages.values()) / len(self.stages) if self.stages else float(self.success)


class Task(abc.ABC):
    """Base class of tasks. Subclasses take a frozen config dataclass in ``__init__``."""

    name: str = "task"

    def build(self, spec: mujoco.MjSpec, scene: SceneDescription) -> None:
        """Add props, sites and cameras to the scene spec (before compile)."""

    def bind(self, model: mujoco.MjModel, robot: RobotBindings) -> None:
        """Cache ids and addresses by name (after compile)."""

    @abc.abstractmethod
    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        """Randomise the task's initial state; the env calls ``mj_forward`` afterwards."""

    def update(self, model: mujoco.MjModel, data: mujoco.MjData, *, reset: bool = False) -> None:
        """Measure the state once per control step (and once after ``reset``, with
        ``reset=True``), before :meth:`reward` and :meth:`evaluate`: update progress
        (timers, latches) and cache measurements those two read. Apart from
        :meth:`reset`, only this hook changes the task's internal state."""

    @property
    @abc.abstractmethod
    def state_size(self) -> int:
        """Length of the task-state observation vector."""

    @abc.abstractmethod
    def state(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        """Task-state observation: a fresh float64 array of ``state_size`` (not a view of
        MuJoCo's buffers), e.g. object poses and goals."""

    @abc.abstractmethod
    def reward(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        """Reward terms after the physics step, as a new dict (the env hands it out in
        ``info``); the env's reward is their sum."""

    @abc.abstractmethod
    def evaluate(self, model: mujoco.MjModel, data: mujoco.MjData) -> TaskStatus:
        """Sub-goal stages and success/failure of the current state."""
