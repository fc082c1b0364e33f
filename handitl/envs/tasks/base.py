"""The task plug-in contract.

A task adds its props to the scene spec, binds names to ids after compile, randomises
its initial state from the env's generator, and reads the state to give a task
observation, reward terms and sub-goal stages. The env owns stepping: a task never
calls ``mj_step`` and never touches the robot's controls (it may drive its own props'
actuators, e.g. a drill motor, in :meth:`Task.before_step`).

Scoring (paper section 4.4): a task is a sequence of sub-tasks, each worth one point
split evenly over its 2-3 ordered stages; a stage counts only once every earlier stage of
its sub-task has. Tasks latch stages (once reached, a stage stays reached).
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
    """Sub-goal stages (in task order), their grouping into sub-tasks, and the outcome.

    Attributes:
        stages: stage name -> reached, in task order.
        success: the task is complete.
        failure: the episode cannot be completed any more (e.g. the drill fell).
        subtasks: groups of stage names, one group per sub-task, in order; empty means
            one sub-task holding every stage.
    """

    stages: dict[str, bool]
    success: bool
    failure: bool = False
    subtasks: tuple[tuple[str, ...], ...] = ()

    def _groups(self) -> tuple[tuple[str, ...], ...]:
        return self.subtasks or (tuple(self.stages),)

    @property
    def score(self) -> float:
        """Sub-goal completion score: one point per sub-task, split evenly over its
        stages, counting a stage only after the previous ones of its sub-task."""
        if not self.stages:
            return float(self.success)
        total = 0.0
        for group in self._groups():
            done = 0
            for stage in group:
                if not self.stages[stage]:
                    break
                done += 1
            total += done / len(group)
        return total

    @property
    def num_subtasks(self) -> int:
        return len(self._groups()) if self.stages else 1

    @property
    def normalized_score(self) -> float:
        """:attr:`score` / number of sub-tasks, in [0, 1]."""
        return self.score / self.num_subtasks


class Task(abc.ABC):
    """Base class of tasks. Subclasses take a frozen config dataclass in ``__init__``."""

    name: str = "task"
    _initial_conditions: dict[str, float] = {}  # reset assigns a new dict; never mutated

    @property
    def initial_conditions(self) -> dict[str, float]:
        """The parameters :meth:`reset` drew for this episode (e.g. an object's position
        and yaw), by name with their unit in the name: what a failure report of a seed
        needs to show where in the sampled range it lies. Empty until the first reset."""
        return dict(self._initial_conditions)

    def build(self, spec: mujoco.MjSpec, scene: SceneDescription) -> None:
        """Add props, sites and cameras to the scene spec (before compile)."""

    def bind(self, model: mujoco.MjModel, robot: RobotBindings) -> None:
        """Cache ids and addresses by name (after compile)."""

    def before_step(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        """Drive the task's own prop actuators (never the robot's) before each control
        period's physics, e.g. a drill motor that runs while its trigger is pressed."""

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
