"""The policy protocol shared by scripted experts, learned policies and the viewer."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Policy(Protocol):
    """Maps an observation to an action of the env it was made for."""

    def reset(self) -> None:
        """Forget episode state; called after every env reset."""

    def __call__(self, observation: dict[str, Any]) -> np.ndarray:
        """The action for this observation (the env's flat action vector)."""
