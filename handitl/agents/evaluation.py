"""Policy evaluation: rollouts over seeds (in parallel processes) and summary statistics.

A rollout resets the task's env with its seed, runs a checkpoint's
:class:`~handitl.agents.learned.ChunkPolicy` until success, failure or the time limit,
and reports the task's sub-goal completion score (HandITL §4.4: one point per sub-task,
split over its ordered stages; stages latch, so the final status is the episode's),
the normalised score, success and the completion time (episode time at the first
success). Each rollout is a pure function of (checkpoint, task, seed), so results do
not depend on the number of worker processes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from handitl.experiments.report import mean_ci
from handitl.parallel import map_in_order


@dataclasses.dataclass(frozen=True)
class RolloutSpec:
    """One evaluation rollout."""

    checkpoint: str
    task: str
    seed: int
    max_steps: int | None = None
    """Control ticks at most (None: the task's registered time limit)."""
    n_exec: int | None = None
    """Override of the checkpoint's receding-horizon step (None: keep it)."""
    gate_scale: float | None = None
    """FlowCorrect gate override (0: the base policy)."""
    video: str | None = None
    """Path stem of a video of this rollout (None: no rendering)."""
    video_fps: int = 25
    video_size: tuple[int, int] = (240, 320)


@dataclasses.dataclass(frozen=True)
class RolloutResult:
    """What one rollout achieved."""

    seed: int
    score: float
    normalized_score: float
    success: bool
    completion_time: float
    """s of episode time at the first success; NaN without success."""
    steps: int
    video: str | None = None


def rollout(spec: RolloutSpec) -> RolloutResult:
    """Run one rollout (see the module docstring); safe to call in a worker process."""
    import torch

    from handitl.agents.learned import ChunkPolicy
    from handitl.envs import make_env, task_entry

    torch.set_num_threads(1)  # processes are the parallel unit
    policy = ChunkPolicy.from_checkpoint(spec.checkpoint, n_exec=spec.n_exec)
    env = make_env(spec.task, terminate_on_success=True, **policy.env_overrides)
    if spec.gate_scale is not None:
        if not hasattr(policy.model, "gate_scale"):
            raise ValueError(f"gate_scale given, but {spec.checkpoint} is not a FlowCorrect policy")
        policy.model.gate_scale = spec.gate_scale
    max_steps = spec.max_steps or task_entry(spec.task).max_episode_steps
    every = max(1, round(1.0 / (spec.video_fps * env.control_dt)))
    frames: list[np.ndarray] = []
    obs, info = env.reset(seed=spec.seed)
    policy.reset()
    completion, steps = math.nan, 0
    try:
        for steps in range(1, max_steps + 1):
            obs, _, terminated, truncated, info = env.step(policy(obs))
            if spec.video is not None and steps % every == 0:
                frames.append(env.render_camera(env.config.render_camera, *spec.video_size))
            if info["success"] and math.isnan(completion):
                completion = float(info["time"])
            if terminated or truncated:
                break
        video = None
        if spec.video is not None and frames:
            from handitl.envs.video import write_video

            video = str(write_video(frames, Path(spec.video), spec.video_fps))
    finally:
        env.close()
    return RolloutResult(
        spec.seed,
        float(info["score"]),
        float(info["normalized_score"]),
        bool(info["success"]),
        completion,
        steps,
        video,
    )


def run_rollouts(
    specs: Sequence[RolloutSpec], workers: int = 1, on_result: Callable[[RolloutResult], None] | None = None
) -> list[RolloutResult]:
    """All rollouts, in ``workers`` spawned processes (here for one), in ``specs`` order."""
    return map_in_order(rollout, specs, workers, on_result)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a success rate (sensible at 0 and 1, unlike mean +- t s)."""
    if n == 0:
        return math.nan, math.nan
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclasses.dataclass(frozen=True)
class EvalSummary:
    """Means and 95% intervals over rollouts. ``*_ci``: half-width of Student's t interval
    of the mean; the success rate has a Wilson interval; completion time is over
    successful rollouts only."""

    rollouts: int
    score: float
    score_ci: float
    normalized_score: float
    normalized_score_ci: float
    success_rate: float
    success_low: float
    success_high: float
    completion_time: float
    completion_time_ci: float

    @classmethod
    def of(cls, results: Sequence[RolloutResult]) -> EvalSummary:
        score = mean_ci([r.score for r in results])
        norm = mean_ci([r.normalized_score for r in results])
        wins = sum(r.success for r in results)
        low, high = wilson_interval(wins, len(results))
        time = mean_ci([r.completion_time for r in results if r.success])
        return cls(len(results), *score, *norm, wins / max(len(results), 1), low, high, *time)

    def markdown(self) -> str:
        return "\n".join(
            [
                "| rollouts | sub-goal score | normalised score | success rate | completion time (s) |",
                "|---|---|---|---|---|",
                f"| {self.rollouts} | {self.score:.3f} ± {self.score_ci:.3f} | "
                f"{self.normalized_score:.3f} ± {self.normalized_score_ci:.3f} | "
                f"{self.success_rate:.2f} [{self.success_low:.2f}, {self.success_high:.2f}] | "
                f"{self.completion_time:.2f} ± {self.completion_time_ci:.2f} |",
            ]
        )


__all__ = ["EvalSummary", "RolloutResult", "RolloutSpec", "rollout", "run_rollouts", "wilson_interval"]
