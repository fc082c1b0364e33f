"""Helpers shared by the task tests that drive a scripted expert."""

from __future__ import annotations


def run_until(env, expert, obs, segment: str, max_steps: int):
    """Step the expert until it starts ``segment``; returns the last observation."""
    for _ in range(max_steps):
        obs, *_ = env.step(expert(obs))
        if expert.segment_name == segment:
            return obs
    raise AssertionError(f"expert never reached segment {segment!r}")


def assert_reward_terms(reward: float, terms: dict[str, float], weights: dict[str, float]) -> None:
    """The reward is the sum of exactly the task's terms, each within [0, its weight]."""
    import pytest

    assert set(terms) == set(weights)
    assert reward == pytest.approx(sum(terms.values()), abs=1e-12)
    for name, value in terms.items():
        assert -1e-12 <= value <= weights[name] + 1e-12, (name, value)
