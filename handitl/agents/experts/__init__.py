"""Scripted experts, one per task (privileged state, the env's normal actions)."""

from handitl.agents.experts.base import Condition, ScriptedExpert, Segment, SideTarget, min_jerk, slerp

__all__ = ["Condition", "ScriptedExpert", "Segment", "SideTarget", "min_jerk", "slerp"]
