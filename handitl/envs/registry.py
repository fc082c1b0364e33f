"""Explicit task registry, exposed as Gymnasium ids ``HandITL/<Task>-v<version>``.

Tasks are registered by name with a factory; ``register_task`` also registers the
Gymnasium id, so ``gymnasium.make("HandITL/Reach-v0")`` works after ``import handitl``.
Each ``make`` builds a fresh task object and a fresh model (no shared state).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from handitl.envs.bimanual_env import BimanualEnv, EnvConfig
from handitl.envs.errors import RegistryError
from handitl.envs.tasks.base import Task

NAMESPACE = "HandITL"
REAL_NAMESPACE = "HandITL-Real"
"""Ids of the same tasks on hardware (``handitl.real``, imported only when made)."""


@dataclasses.dataclass(frozen=True)
class TaskEntry:
    name: str
    factory: Callable[[], Task]
    version: int
    max_episode_steps: int

    @property
    def env_id(self) -> str:
        return f"{NAMESPACE}/{self.name}-v{self.version}"

    @property
    def real_env_id(self) -> str:
        return f"{REAL_NAMESPACE}/{self.name}-v{self.version}"


_TASKS: dict[str, TaskEntry] = {}


def register_task(name: str, factory: Callable[[], Task], *, max_episode_steps: int,
                  version: int = 0) -> str:  # fmt: skip
    """Register a task and its Gymnasium ids (simulation, and ``HandITL-Real/...`` for the
    robot-server env); returns the simulation id. Duplicate names are rejected."""
    entry = TaskEntry(name, factory, version, max_episode_steps)
    if name in _TASKS:
        raise RegistryError(f"task {name!r} is already registered as {_TASKS[name].env_id}")
    _TASKS[name] = entry
    gym.register(
        id=entry.env_id,
        entry_point="handitl.envs.registry:make_env",
        kwargs={"task": name},
        max_episode_steps=max_episode_steps,
    )
    # A string entry point: the real-robot code (and pyzmq) loads only when one is made.
    gym.register(
        id=entry.real_env_id,
        entry_point="handitl.real.env:make_real_env",
        kwargs={"task": name},
        max_episode_steps=max_episode_steps,
    )
    return entry.env_id


def registered_tasks() -> tuple[str, ...]:
    return tuple(_TASKS)


def env_ids() -> tuple[str, ...]:
    return tuple(e.env_id for e in _TASKS.values())


def task_entry(name: str) -> TaskEntry:
    try:
        return _TASKS[name]
    except KeyError:
        raise RegistryError(f"unknown task {name!r}; tasks: {', '.join(_TASKS)}") from None


def make_env(task: str, config: EnvConfig | None = None, render_mode: str | None = None,
             **config_overrides: Any) -> BimanualEnv:  # fmt: skip
    """Build the (unwrapped) env of a registered task.

    ``config_overrides`` replace fields of ``config`` (or of the default EnvConfig), e.g.
    ``make_env("Reach", action_mode="joint")`` or through ``gymnasium.make(id, ...)``.
    """
    config = config or EnvConfig()
    if config_overrides:
        unknown = set(config_overrides) - {f.name for f in dataclasses.fields(EnvConfig)}
        if unknown:
            raise TypeError(f"unknown EnvConfig fields: {sorted(unknown)}")
        config = dataclasses.replace(config, **config_overrides)
    return BimanualEnv(task_entry(task).factory(), config, render_mode=render_mode)
