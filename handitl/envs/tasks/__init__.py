"""Tasks plug into :class:`handitl.envs.BimanualEnv`; one file per task."""

from handitl.envs.tasks.base import Task, TaskStatus

__all__ = ["Task", "TaskStatus"]
