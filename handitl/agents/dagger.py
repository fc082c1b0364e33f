"""HG-DAgger data collection with a simulated operator (HandITL §4.4, DexHiL §III-B2).

The learned policy runs inside the :class:`~handitl.intervention.InterventionWrapper`. A
simulated operator watches each rollout and decides when to intervene, as the paper's
operators did "whenever they judged intervention necessary":

* **drift**: the robot's palm is farther than ``drift_on`` from where the task's scripted
  expert, acting on the scene as it is now (privileged state; its waits and replanning
  included), wants it, or
* **stall**: the sub-goal score has not risen for ``stall_time`` seconds;

it then corrects in full takeover or copilot mode - an
:class:`~handitl.intervention.streams.IntentFollowingOperator` following the expert,
through the chosen retargeter, on every hand the task uses - for at least ``min_hold``
seconds and until the palm is back within ``drift_off`` of the expert's target
(hysteresis, so it does not chatter). The expert plays at the pace of the demonstrations
the policy learned (``time_scale``: simulated teleop demos are 3.5x slower than the
expert): a policy moving at the demos' pace is on plan, and the operator corrects at
that pace too; the supervisor's times (stall, hold) stretch with it. Every step is
recorded (autonomous and intervention segments, per-frame labels; D_corr), with the
rollout's success in the episode metadata, so the files feed ``scripts/train.py``
(``data.corrections``, DexHiL weights, FlowCorrect anchors). Collection stops at a budget
of recorded steps, so arms of a comparison get equal data.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from handitl.agents.learned import ChunkPolicy
from handitl.agents.teleop import ExpertIntent, operator_planner
from handitl.assets.hand_description import SIDES, Side
from handitl.envs import make_env
from handitl.envs.bimanual_env import BimanualEnv
from handitl.experiments.wiring import intervention_wrapper
from handitl.intervention.modes import Mode
from handitl.intervention.recorder import EpisodeRecorder
from handitl.intervention.streams import IntentFollowingOperator, get_profile
from handitl.intervention.streams.frame import HumanFrame
from handitl.intervention.streams.operators import IntentFollowingConfig


@dataclasses.dataclass(frozen=True)
class TriggerConfig:
    """When the simulated operator intervenes and releases (units: m, and s of the plan,
    which a ``time_scale`` > 1 stretches)."""

    drift_on: float = 0.06
    """Intervene when a palm is this far from the expert's target."""
    drift_off: float = 0.02
    """Release (after ``min_hold``) once every palm is this close again."""
    stall_time: float = 3.0
    """Intervene when the sub-goal score has not risen for this long."""
    min_hold: float = 1.0
    """Shortest intervention."""
    max_hold: float = 4.0
    """Longest intervention: the operator hands back even if not converged."""


class SimulatedSupervisor:
    """A :class:`~handitl.intervention.modes.ModeSwitch` of a watching operator (module
    docstring). It reads privileged state from ``env`` and the expert's targets from
    ``intent`` (updated every tick by the collection loop)."""

    def __init__(
        self,
        env: BimanualEnv,
        intent: ExpertIntent,
        mode: Mode,
        config: TriggerConfig | None = None,
        sides: tuple[Side, ...] = SIDES,
        time_scale: float = 1.0,
    ) -> None:
        if mode is Mode.AUTONOMOUS:
            raise ValueError("the supervisor intervenes in TAKEOVER or COPILOT mode")
        if not time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        self.env, self.intent, self.intervene_mode = env, intent, mode
        self.config = config or TriggerConfig()
        self.sides = sides
        self.time_scale = float(time_scale)
        self.reset()

    def reset(self) -> None:
        self._since: float | None = None
        self._best_score = -math.inf
        self._best_at = 0.0
        self.interventions = 0

    def drift(self, t: float) -> float:
        """Largest palm distance from the expert's latest targets at episode time ``t``, m
        (0 before the expert has acted)."""
        targets = self.intent(t)
        gaps = [self.env.palm_pose(s)[0] - targets[s].palm_pos for s in self.sides if s in targets]
        return max((float(np.linalg.norm(g)) for g in gaps), default=0.0)

    def mode(self, t: float, frame: HumanFrame | None) -> Mode:
        drift = self.drift(t)
        return self._decide(t / self.time_scale, drift)

    def _decide(self, t: float, drift: float) -> Mode:
        """The trigger logic in plan time ``t`` (stall and hold times are plan seconds)."""
        c = self.config
        score = self.env.task.evaluate(self.env.model, self.env.data).score
        if score > self._best_score:
            self._best_score, self._best_at = score, t
        if self._since is not None:
            held = t - self._since
            if held >= c.max_hold or (held >= c.min_hold and drift <= c.drift_off):
                self._since = None
                self._best_at = t  # a fresh chance for the policy
            return self.intervene_mode if self._since is not None else Mode.AUTONOMOUS
        if drift > c.drift_on or t - self._best_at > c.stall_time:
            self._since = t
            self.interventions += 1
            return self.intervene_mode
        return Mode.AUTONOMOUS


@dataclasses.dataclass(frozen=True)
class CollectConfig:
    """One round of correction data collection."""

    task: str = "BreadClip"
    mode: Mode = Mode.TAKEOVER
    """TAKEOVER or COPILOT."""
    method: str = "relative"
    """Hand retargeting method of the corrections."""
    operator: str = "operator_a"
    budget_steps: int = 5000
    """Recorded control steps at most (the data budget of a comparison's arm)."""
    max_steps: int = 500
    """Control ticks per rollout at most."""
    trigger: TriggerConfig = TriggerConfig()
    sides: tuple[Side, ...] | None = None
    """Hands the operator corrects (None: every hand the task's expert uses)."""
    time_scale: float = 1.0
    """Pace of the expert's plan that the supervisor compares with and the operator
    follows: the ``time_scale`` of the demos the policy learned (``TeleopConfig``)."""


@dataclasses.dataclass(frozen=True)
class RolloutRecord:
    """One recorded correction rollout."""

    path: Path
    seed: int
    steps: int
    intervention_steps: int
    interventions: int
    success: bool
    score: float


def collect_corrections(
    policy: ChunkPolicy,
    config: CollectConfig,
    out_dir: str | Path,
    first_seed: int = 0,
    progress: Callable[[RolloutRecord], None] | None = None,
) -> list[RolloutRecord]:
    """Roll ``policy`` out under the simulated supervisor until ``budget_steps`` steps are
    recorded (the last rollout is cut at the budget); seeds ``first_seed``, +1, ..."""
    env = make_env(config.task, terminate_on_success=True, **policy.env_overrides)
    expert = operator_planner(env, config.time_scale)
    sides = expert.sides if config.sides is None else config.sides
    profile = get_profile(config.operator)
    intent = ExpertIntent(expert, env, perception_rms=profile.perception_rms)
    operator = IntentFollowingOperator(profile, intent, IntentFollowingConfig(sides=sides))
    supervisor = SimulatedSupervisor(env, intent, config.mode, config.trigger, sides, config.time_scale)
    metadata = {
        "task": config.task,
        "method": config.method,
        "operator": config.operator,
        "mode": config.mode.name.lower(),
        "kind": "correction",
        "time_scale": config.time_scale,
    }
    recorder = EpisodeRecorder(out_dir, metadata)
    wrapper = intervention_wrapper(
        env, config.method, operator, supervisor, sides=sides, recorder=recorder,
        operator_scale=profile.hand_scale,
    )
    records: list[RolloutRecord] = []
    used, seed = 0, first_seed
    try:
        while used < config.budget_steps:
            obs, info = wrapper.reset(seed=seed)
            expert.reset()
            intent.reset(seed)
            policy.reset()
            steps = corrected = 0
            limit = min(config.max_steps, config.budget_steps - used)
            while steps < limit:
                # The expert acts on the scene every tick: the operator's (and the
                # supervisor's) idea of where the robot should be now.
                intent.update(env.data.time, expert(obs))
                obs, _, terminated, truncated, info = wrapper.step(policy(obs))
                steps += 1
                corrected += info["intervention"].mode is not Mode.AUTONOMOUS
                if terminated or truncated:
                    break
            recorder.metadata = {**metadata, "success": bool(info["success"]), "score": float(info["score"])}
            path = recorder.end_episode()
            assert path is not None
            record = RolloutRecord(
                path,
                seed,
                steps,
                corrected,
                supervisor.interventions,
                bool(info["success"]),
                float(info["score"]),
            )
            records.append(record)
            if progress is not None:
                progress(record)
            used += steps
            seed += 1
    finally:
        wrapper.close()
    return records


__all__ = ["CollectConfig", "RolloutRecord", "SimulatedSupervisor", "TriggerConfig", "collect_corrections"]
