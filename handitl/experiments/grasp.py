"""Task-specific grasp judgements for takeover experiments (HandITL §4.2, Fig. 3).

The paper sorts every takeover into *stable*, *partial* (the grasp loosened: trigger
released, pinch lost) or *drop*. What "loosened" means depends on the task, so each task
gets a small :class:`GraspCriteria` that reads only the task's ``measurements`` and its
latched ``stages`` (``info["stages"]``): whether the expert's grasp is ready to be
handed over, whether the object is still held, and whether the grasp is still intact.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from typing import Protocol

from handitl.assets.hand_description import Side
from handitl.envs.tasks.base import Task


class Outcome(str, enum.Enum):
    """Grasp state at the end of a takeover (``no_grasp``: the expert never got there)."""

    STABLE = "stable"
    PARTIAL = "partial"
    DROP = "drop"
    NO_GRASP = "no_grasp"


class GraspCriteria(Protocol):
    """Reads a task's measurements as grasp states."""

    side: Side
    """The hand that holds the object."""

    def ready(self, stages: Mapping[str, bool], segment: str) -> bool:
        """The expert's grasp is established (latched ``stages``, the expert's current
        plan ``segment``): the takeovers may start."""

    def held(self, m: Mapping[str, float]) -> bool:
        """The robot still holds the object (it has not been dropped)."""

    def intact(self, m: Mapping[str, float]) -> bool:
        """The functional grasp is intact (pinch squeezed, trigger pulled, ...)."""


def outcome(criteria: GraspCriteria, m: Mapping[str, float]) -> Outcome:
    """The grasp outcome for measurements ``m`` taken at the end of a takeover."""
    if not criteria.held(m):
        return Outcome.DROP
    return Outcome.STABLE if criteria.intact(m) else Outcome.PARTIAL


@dataclasses.dataclass(frozen=True)
class BreadClipGrasp:
    """Bread clip: held while any robot geom touches the clip and it has not fallen off
    the table; intact while the thumb-index pinch is on the levers and squeezes the jaws
    at least ``open_angle`` open (losing either is the task's "pinch/squeeze lost").
    Ready once the clip has been squeezed open (stage ``opened``) and lifted (the expert
    has moved on to ``carry``), so that a drop is a real fall, not a clip left lying."""

    side: Side
    open_angle: float
    """rad, the task's ``open_angle``."""
    ready_stage: str = "opened"
    ready_segment: str = "carry"

    def ready(self, stages: Mapping[str, bool], segment: str) -> bool:
        return bool(stages.get(self.ready_stage)) and segment == self.ready_segment

    def held(self, m: Mapping[str, float]) -> bool:
        return m["released"] == 0.0 and m["fell"] == 0.0

    def intact(self, m: Mapping[str, float]) -> bool:
        return m["pinched"] > 0.0 and m["angle"] >= self.open_angle


@dataclasses.dataclass(frozen=True)
class DrillGrasp:
    """Drill: held while the robot touches the drill and it is still at least half the
    task's lift height up; intact while the thumb and two fingers are on the handle and
    the trigger is pulled to the task's ``trigger_fraction`` ("trigger loosening" is a
    partial failure, as in the paper). Ready once the trigger has been held pulled with
    the drill lifted (stage ``triggered``)."""

    side: Side
    lift_height: float
    """m, the task's ``lift_height``."""
    trigger_fraction: float
    """The task's ``trigger_fraction``."""
    ready_stage: str = "triggered"

    def ready(self, stages: Mapping[str, bool], segment: str) -> bool:
        return bool(stages.get(self.ready_stage))

    def held(self, m: Mapping[str, float]) -> bool:
        return m["touched"] > 0.0 and m["fell"] == 0.0 and m["height"] >= 0.5 * self.lift_height

    def intact(self, m: Mapping[str, float]) -> bool:
        return m["grasped"] > 0.0 and m["trigger"] >= self.trigger_fraction


def _bread_clip(task: Task) -> GraspCriteria:
    c = task.config  # type: ignore[attr-defined]
    return BreadClipGrasp(side=c.side, open_angle=c.open_angle)


def _drill(task: Task) -> GraspCriteria:
    c = task.config  # type: ignore[attr-defined]
    return DrillGrasp(side=c.side, lift_height=c.lift_height, trigger_fraction=c.trigger_fraction)


_CRITERIA: dict[str, Callable[[Task], GraspCriteria]] = {"BreadClip": _bread_clip, "PickUpDrill": _drill}


def grasp_criteria(task: Task) -> GraspCriteria:
    """The grasp criteria of ``task`` (thresholds read from the task's own config)."""
    try:
        return _CRITERIA[task.name](task)
    except KeyError:
        raise ValueError(f"no grasp criteria for task {task.name!r}; known: {', '.join(_CRITERIA)}") from None
