"""The scalar reward kernels equal dm_control's tolerance."""

from __future__ import annotations

import numpy as np
import pytest
from dm_control.utils import rewards as dm_rewards

from handitl.envs.rewards import tolerance


@pytest.mark.parametrize("sigmoid", ["gaussian", "long_tail", "linear", "quadratic", "reciprocal"])
@pytest.mark.parametrize("margin", [0.0, 0.05, 0.5])
def test_tolerance_matches_dm_control(sigmoid: str, margin: float) -> None:
    """On 400 points inside, at and beyond the bounds the kernel equals
    dm_control.utils.rewards.tolerance within 1e-12."""
    for x in np.linspace(-1.0, 1.5, 400):
        ours = tolerance(float(x), 0.1, 0.3, margin=margin, sigmoid=sigmoid, value_at_margin=0.2)
        theirs = float(dm_rewards.tolerance(x, bounds=(0.1, 0.3), margin=margin,
                                            sigmoid=sigmoid, value_at_margin=0.2))  # fmt: skip
        assert ours == pytest.approx(theirs, abs=1e-12)


def test_tolerance_rejects_bad_arguments() -> None:
    """Swapped bounds, a negative margin and an unknown sigmoid raise ValueError."""
    with pytest.raises(ValueError, match="exceeds"):
        tolerance(0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="margin"):
        tolerance(0.0, 0.0, 1.0, margin=-1.0)
    with pytest.raises(ValueError, match="sigmoid"):
        tolerance(5.0, 0.0, 1.0, margin=1.0, sigmoid="cubic")
