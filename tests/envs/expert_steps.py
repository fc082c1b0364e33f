"""Helpers shared by the task tests that drive a scripted expert."""

from __future__ import annotations


def run_until(env, expert, obs, segment: str, max_steps: int):
    """Step the expert until it starts ``segment``; returns the last observation."""
    for _ in range(max_steps):
        obs, *_ = env.step(expert(obs))
        if expert.segment_name == segment:
            return obs
    raise AssertionError(f"expert never reached segment {segment!r}")
