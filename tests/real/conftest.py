"""Fixtures of the real-robot tests: one compiled scene shared per module (building one
costs ~0.1 s; the tests only read it), and a hand-set clock for timing logic."""

from __future__ import annotations

import numpy as np
import pytest

from handitl.assets.hand_description import SIDES
from handitl.envs import BimanualEnv, make_env


class ManualClock:
    """A clock the test advances by hand, so timeouts trigger without sleeping."""

    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def sim_env() -> BimanualEnv:
    env = make_env("Reach", action_mode="joint")
    env.reset(seed=0)
    return env


@pytest.fixture(scope="module")
def home_q(sim_env: BimanualEnv) -> np.ndarray:
    """(2, 7) home joint angles, rad."""
    return np.stack([sim_env.robot.arms[s].home_qpos for s in SIDES])
