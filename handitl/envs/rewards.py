"""Scalar reward kernels, numerically equal to ``dm_control.utils.rewards.tolerance``.

dm_control's kernel handles arrays and costs ~30 us per scalar call; tasks evaluate a
handful of scalar terms every control step, so these math-module versions (~1 us)
keep the env's overhead small. tests/envs/test_rewards.py checks them against
dm_control on a grid.
"""

from __future__ import annotations

import math

_SIGMOIDS = ("gaussian", "long_tail", "linear", "quadratic", "reciprocal")


def _sigmoid(x: float, value_at_1: float, kind: str) -> float:
    if kind == "gaussian":
        scale = math.sqrt(-2.0 * math.log(value_at_1))
        return math.exp(-0.5 * (x * scale) ** 2)
    if kind == "long_tail":
        scale = math.sqrt(1.0 / value_at_1 - 1.0)
        return 1.0 / ((x * scale) ** 2 + 1.0)
    if kind == "reciprocal":
        scale = 1.0 / value_at_1 - 1.0
        return 1.0 / (abs(x) * scale + 1.0)
    if kind == "linear":
        scaled = x * (1.0 - value_at_1)
        return 1.0 - scaled if abs(scaled) < 1.0 else 0.0
    if kind == "quadratic":
        scaled = x * math.sqrt(1.0 - value_at_1)
        return 1.0 - scaled * scaled if abs(scaled) < 1.0 else 0.0
    raise ValueError(f"unknown sigmoid {kind!r}; choose from {_SIGMOIDS}")


def tolerance(x: float, lower: float, upper: float, margin: float = 0.0,
              sigmoid: str = "gaussian", value_at_margin: float = 0.1) -> float:  # fmt: skip
    """1 inside [lower, upper]; outside, decays with the distance/margin as ``sigmoid``.

    Same semantics as ``dm_control.utils.rewards.tolerance(x, (lower, upper), ...)``.
    """
    if lower > upper:
        raise ValueError(f"lower bound {lower} exceeds upper bound {upper}")
    if margin < 0:
        raise ValueError(f"margin must be non-negative, got {margin}")
    if lower <= x <= upper:
        return 1.0
    if margin == 0:
        return 0.0
    distance = (lower - x if x < lower else x - upper) / margin
    return _sigmoid(distance, value_at_margin, sigmoid)
