"""Convenience builders for scripts and tests: retargeters for an env's hands.

The wrapper itself only takes injected objects; this is where names become objects.
"""

from __future__ import annotations

import numpy as np

from handitl.assets.hand_description import SIDES, Side
from handitl.assets.hands import build_hand
from handitl.envs.bimanual_env import BimanualEnv
from handitl.intervention.streams.human_hand import ADULT_HAND_LENGTH
from handitl.retarget import METHODS, Alignment, HandKinematics, Retargeter
from handitl.retarget.base import hand_length


def hand_retargeters(env: BimanualEnv, method: str = "relative", operator_scale: float = 1.0,
                     sides: tuple[Side, ...] = SIDES) -> dict[Side, Retargeter]:  # fmt: skip
    """One retargeter per side for the env's hand, scaled from an operator whose hand is
    ``operator_scale`` times an average adult's (``ADULT_HAND_LENGTH``)."""
    if method not in METHODS:
        raise ValueError(f"unknown retargeting method {method!r}; choose from {sorted(METHODS)}")
    out = {}
    for side in sides:
        kinematics = HandKinematics(build_hand(env.config.hand, side))
        kinematics.set_q(np.clip(np.zeros(kinematics.nq), kinematics.q_lower, kinematics.q_upper))
        scale = hand_length(kinematics.keypoints()) / (ADULT_HAND_LENGTH * operator_scale)
        out[side] = METHODS[method](kinematics, Alignment(scale=scale))
    return out
