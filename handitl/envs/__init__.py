"""Environments: the bimanual env, its tasks and the Gymnasium registry."""

from handitl.envs.actions import ActionBounds, ActionLayout, ActionMode
from handitl.envs.bimanual_env import BimanualEnv, EnvConfig
from handitl.envs.errors import ActionError, ConfigError, PhysicsError, RegistryError
from handitl.envs.registry import (
                                   env_ids,
                                   make_env,
                                   register_task,
                                   registered_tasks,
                                   task_entry,  # fmt: skip
)
from handitl.envs.tasks.reach import Reach


def _lazy(module: str, name: str):
    """A task factory importing its module on first use (tasks import their props)."""

    def factory():
        import importlib

        return getattr(importlib.import_module(module), name)()

    return factory


register_task("Reach", Reach, max_episode_steps=250)
register_task("PickUpDrill", _lazy("handitl.envs.tasks.drill", "PickUpDrill"), max_episode_steps=500)
register_task("BreadClip", _lazy("handitl.envs.tasks.bread_clip", "BreadClip"), max_episode_steps=500)
register_task("PickAndPlaceParts", _lazy("handitl.envs.tasks.parts", "PickAndPlaceParts"),
              max_episode_steps=1500)  # fmt: skip
# UnscrewByHand: 100 s (was 50 s): ratcheting two knobs off by wrist strokes takes 45-75 s.
register_task("UnscrewByHand", _lazy("handitl.envs.tasks.unscrew", "UnscrewByHand"),
              max_episode_steps=5000)  # fmt: skip
register_task("UnscrewWithDrill", _lazy("handitl.envs.tasks.unscrew_drill", "UnscrewWithDrill"),
              max_episode_steps=2000)  # fmt: skip

__all__ = [
    "ActionBounds", "ActionError", "ActionLayout", "ActionMode", "BimanualEnv", "ConfigError",
    "EnvConfig", "PhysicsError", "RegistryError", "env_ids", "make_env", "register_task",
    "registered_tasks", "task_entry",
]  # fmt: skip
