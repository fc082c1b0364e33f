"""Names -> objects for experiment scripts: a task's policy and an intervention wrapper.

Shared by ``scripts/intervene.py`` and ``scripts/gesture_jump.py`` so that both wire the
human stream, the retargeters and the mode switch the same way; the wrapper itself only
takes injected objects (it never builds anything from names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handitl.assets.hand_description import SIDES, Side
from handitl.envs.bimanual_env import BimanualEnv
from handitl.intervention.factory import hand_retargeters
from handitl.intervention.modes import ModeSwitch
from handitl.intervention.streams.source import HumanSource
from handitl.intervention.wrapper import InterventionConfig, InterventionWrapper


def make_policy(env: BimanualEnv) -> Any:
    """The task's scripted expert (Reach has its own, outside the expert registry)."""
    if env.task.name == "Reach":
        from handitl.agents import ReachExpert

        return ReachExpert(env.layout, control_dt=env.control_dt)
    from handitl.agents.experts import expert_for

    return expert_for(env)


def intervention_wrapper(env: BimanualEnv, method: str, source: HumanSource, modes: ModeSwitch, *,
                         operator_scale: float = 1.0, sides: tuple[Side, ...] = SIDES,
                         recorder: Any = None, retarget_overrides: Mapping[str, Any] | None = None,
                         ) -> InterventionWrapper:  # fmt: skip
    """``env`` wrapped so that ``source`` corrects it through ``method`` on ``sides``.

    ``operator_scale`` is the operator's hand size relative to an average adult's; it
    sets the retargeters' human-to-robot scale (a per-operator calibration).
    ``retarget_overrides`` replaces fields of the method's config (ablations).
    """
    retargeters = hand_retargeters(env, method, operator_scale=operator_scale, sides=sides,
                                   overrides=retarget_overrides)  # fmt: skip
    config = InterventionConfig(sides=sides)
    return InterventionWrapper(env, source, retargeters, modes, config=config, recorder=recorder)
