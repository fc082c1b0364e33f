"""Simulated "teleoperation" demonstrations: an operator drives the robot in full takeover.

Demonstrations for the base policy should carry the imperfection of human teleoperation
(tremor, reaction delay, workspace resets, the absolute retargeter's hand mapping) rather
than the scripted expert's clean commands. So a simulated operator
(:class:`~handitl.intervention.streams.IntentFollowingOperator`) watches the robot and
follows the expert's plan (``ScriptedExpert.intent``), its hands go through the absolute
(DexPilot-style, ``"direct"``) retargeter and its wrists through the anchored takeover
mapping of the :class:`~handitl.intervention.InterventionWrapper`, with the takeover
pedal down from the first tick; the :class:`~handitl.intervention.recorder.EpisodeRecorder`
writes the episodes in the D_corr format, so one loader reads demos and corrections.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from handitl.agents.experts import ScriptedExpert, expert_for
from handitl.assets.hand_description import SIDES, Side
from handitl.assets.hands import build_hand
from handitl.envs import make_env
from handitl.envs.bimanual_env import BimanualEnv
from handitl.envs.rotations import quat_from_rotvec
from handitl.experiments.wiring import intervention_wrapper
from handitl.intervention.modes import PedalModes
from handitl.intervention.recorder import EpisodeRecorder
from handitl.intervention.streams import IntentFollowingOperator, IntentTarget, get_profile
from handitl.retarget import HandKinematics

ABSOLUTE_METHOD = "direct"
"""The absolute (DexPilot-style) retargeter's name in :data:`handitl.retarget.METHODS`."""


class ExpertIntent:
    """``intent(t)`` of an :class:`IntentFollowingOperator` from a scripted expert.

    Two ways to read the expert: its timed plan (``ScriptedExpert.intent(t)``, which
    ignores the plan's waits and closed-loop replanning), or, with ``live``, the targets
    of the expert's latest action (call :meth:`update` with it every tick): an operator
    who watches the expert's progress, waits included. The expert plans hand joint
    targets; the operator corrects fingertip positions (what a person sees), so joints
    are turned into fingertip pad positions in the palm frame with the robot hand's own
    kinematics - the frame and points of the wrapper's ``RobotFeedback``.
    """

    def __init__(self, expert: ScriptedExpert, env: BimanualEnv, live: bool = False) -> None:
        self.expert = expert
        self.live = live
        self._layout = env.layout
        self._latest: dict[Side, dict[str, np.ndarray]] | None = None
        self._kinematics = {s: HandKinematics(build_hand(env.config.hand, s)) for s in SIDES}
        self._present = {
            s: [
                k for k, site in enumerate(env.robot.hands[s].description.fingertip_sites) if site is not None
            ]
            for s in SIDES
        }

    def reset(self) -> None:
        self._latest = None

    def update(self, action: np.ndarray) -> None:
        """Remember the expert's latest action (palm pose and hand targets per side)."""
        lay = self._layout
        self._latest = {
            s: {
                "palm_pos": action[lay.slice(f"{s.value}/pos")].copy(),
                "palm_quat": quat_from_rotvec(action[lay.slice(f"{s.value}/rotvec")]),
                "hand_q": action[lay.slice(f"{s.value}/hand")].copy(),
            }
            for s in SIDES
        }

    def __call__(self, t: float) -> dict[Side, IntentTarget]:
        plans = self._latest if self.live and self._latest is not None else self.expert.intent(t)
        out = {}
        for side, plan in plans.items():
            kin = self._kinematics[side]
            kin.set_q(kin.clip(np.asarray(plan["hand_q"], dtype=float)))
            tips = np.full((5, 3), np.nan)
            tips[self._present[side]] = kin.pads()
            out[side] = IntentTarget(
                palm_pos=np.asarray(plan["palm_pos"], dtype=float),
                palm_quat=np.asarray(plan["palm_quat"], dtype=float),
                fingertips_in_palm=tips,
            )
        return out


@dataclasses.dataclass(frozen=True)
class TeleopConfig:
    """How the simulated teleoperation demos are made."""

    task: str = "BreadClip"
    """Registered task with a scripted expert (``handitl.agents.experts.expert_for``)."""
    operator: str = "operator_a"
    """Operator profile name (``handitl.intervention.streams.get_profile``)."""
    method: str = ABSOLUTE_METHOD
    """Hand retargeting method the operator teleoperates through."""
    max_steps: int = 500
    """Control ticks per episode at most (the task's time limit is the usual choice)."""
    stop_on_success: bool = True
    """End an episode at task success (demos then end where the task is done)."""
    live_intent: bool = False
    """The operator follows the expert's live targets (waits and replanning included)
    rather than its timed plan; see :class:`ExpertIntent`. On 4 seeds each, neither way
    completes BreadClip (normalised score 0.5-0.75) or PickUpDrill (0) yet."""


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """One recorded demonstration episode."""

    path: Path
    seed: int
    steps: int
    success: bool
    score: float


def record_teleop_demos(
    config: TeleopConfig,
    out_dir: str | Path,
    seeds: list[int] | range,
    progress: Callable[[DemoResult], None] | None = None,
) -> list[DemoResult]:
    """Record one simulated-teleoperation episode per seed into ``out_dir``.

    Each episode's metadata carries ``success`` and ``score`` (the task status at its
    end), so successful demos can serve as FlowCorrect anchors.
    """
    env = make_env(config.task, terminate_on_success=config.stop_on_success)
    expert = expert_for(env)
    intent = ExpertIntent(expert, env, live=config.live_intent)
    operator = IntentFollowingOperator(get_profile(config.operator), intent)
    metadata = {
        "task": config.task,
        "method": config.method,
        "operator": config.operator,
        "kind": "teleop_demo",
    }
    recorder = EpisodeRecorder(out_dir, metadata)
    wrapper = intervention_wrapper(env, config.method, operator, PedalModes(), recorder=recorder)
    results = []
    try:
        for seed in seeds:
            obs, info = wrapper.reset(seed=int(seed))
            expert.reset()
            intent.reset()
            steps = 0
            while steps < config.max_steps:
                steps += 1
                # The expert's own action only stands in for the policy: in full takeover
                # the executed command is the operator's; the expert keeps its plan clock.
                action = expert(obs)
                intent.update(action)
                obs, _, terminated, truncated, info = wrapper.step(action)
                if terminated or truncated:
                    break
            recorder.metadata = {**metadata, "success": bool(info["success"]), "score": float(info["score"])}
            path = recorder.end_episode()
            if path is None:
                raise RuntimeError("the demo episode had no steps")
            result = DemoResult(path, int(seed), steps, bool(info["success"]), float(info["score"]))
            results.append(result)
            if progress is not None:
                progress(result)
    finally:
        wrapper.close()
    return results


__all__ = ["ABSOLUTE_METHOD", "DemoResult", "ExpertIntent", "TeleopConfig", "record_teleop_demos"]
