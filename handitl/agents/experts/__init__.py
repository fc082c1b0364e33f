"""Scripted experts, one per task (privileged state, the env's normal actions).

Task modules are imported lazily by :func:`expert_for`, so importing this package does
not build every task's props.
"""

from __future__ import annotations

import importlib

from handitl.agents.experts.base import Condition, ScriptedExpert, Segment, SideTarget, min_jerk, slerp

_EXPERTS = {
    "PickUpDrill": ("handitl.agents.experts.drill", "PickUpDrillExpert"),
    "BreadClip": ("handitl.agents.experts.bread_clip", "BreadClipExpert"),
    "PickAndPlaceParts": ("handitl.agents.experts.parts", "PickAndPlacePartsExpert"),
    "UnscrewByHand": ("handitl.agents.experts.unscrew", "UnscrewByHandExpert"),
    "UnscrewWithDrill": ("handitl.agents.experts.unscrew_drill", "UnscrewWithDrillExpert"),
}


def expert_for(env) -> ScriptedExpert:
    """The scripted expert of the env's task (a BimanualEnv, possibly wrapped)."""
    base = env.unwrapped
    try:
        module, name = _EXPERTS[base.task.name]
    except KeyError:
        raise ValueError(f"no scripted expert for task {base.task.name!r}; "
                         f"experts: {', '.join(_EXPERTS)}") from None  # fmt: skip
    return getattr(importlib.import_module(module), name)(base)


__all__ = ["Condition", "ScriptedExpert", "Segment", "SideTarget", "expert_for", "min_jerk", "slerp"]
