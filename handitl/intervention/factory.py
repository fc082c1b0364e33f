"""Convenience builders for scripts and tests: retargeters for an env's hands.

The wrapper itself only takes injected objects; this is where names become objects.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

import numpy as np

from handitl.assets.hand_description import SIDES, Side
from handitl.assets.hands import build_hand
from handitl.envs.bimanual_env import BimanualEnv
from handitl.intervention.streams.human_hand import ADULT_HAND_LENGTH
from handitl.retarget import METHODS, Alignment, HandKinematics, Retargeter
from handitl.retarget.base import hand_length


def hand_retargeters(env: BimanualEnv, method: str = "relative", operator_scale: float = 1.0,
                     sides: tuple[Side, ...] = SIDES,
                     overrides: Mapping[str, Any] | None = None) -> dict[Side, Retargeter]:  # fmt: skip
    """One retargeter per side for the env's hand, scaled from an operator whose hand is
    ``operator_scale`` times an average adult's (``ADULT_HAND_LENGTH``). ``overrides``
    replaces fields of the method's config (an ablation, e.g. ``{"safety_weight": 0.0}``
    for the relative method); an unknown field raises ``ValueError`` naming the known ones."""
    if method not in METHODS:
        raise ValueError(f"unknown retargeting method {method!r}; choose from {sorted(METHODS)}")
    out = {}
    for side in sides:
        kinematics = HandKinematics(build_hand(env.config.hand, side))
        kinematics.set_q(np.clip(np.zeros(kinematics.nq), kinematics.q_lower, kinematics.q_upper))
        scale = hand_length(kinematics.keypoints()) / (ADULT_HAND_LENGTH * operator_scale)
        alignment = Alignment(scale=scale)
        retargeter = METHODS[method](kinematics, alignment)
        if overrides:
            config = _with_overrides(method, retargeter.config, overrides)
            retargeter = METHODS[method](kinematics, alignment, config)
        out[side] = retargeter
    if overrides and not sides:  # nothing built: still check the names against the config class
        _with_overrides(method, _default_config(method), overrides)
    return out


def _default_config(method: str) -> Any:
    """The method's default config (its constructor's ``config`` default)."""
    hints = typing.get_type_hints(METHODS[method].__init__)
    config_type = next(t for t in typing.get_args(hints["config"]) if t is not type(None))
    return config_type()


def _with_overrides(method: str, config: Any, overrides: Mapping[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"{method} has no setting {unknown}; known: {sorted(known)}")
    return dataclasses.replace(config, **overrides)
