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
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from handitl.agents.experts import ScriptedExpert, expert_for
from handitl.assets.hand_description import SIDES, Side
from handitl.assets.hands import build_hand
from handitl.envs import make_env, task_entry
from handitl.envs.bimanual_env import BimanualEnv
from handitl.envs.rotations import quat_from_rotvec
from handitl.experiments.wiring import intervention_wrapper
from handitl.intervention.modes import PedalModes
from handitl.intervention.recorder import EpisodeRecorder, episode_paths
from handitl.parallel import map_in_order
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
    kinematics - the frame and points of the wrapper's ``RobotFeedback``. ``time_scale``
    plays the timed plan that many times slower (a person is slower than the expert).
    """

    def __init__(self, expert: ScriptedExpert, env: BimanualEnv, live: bool = False,
                 time_scale: float = 1.0) -> None:  # fmt: skip
        if not time_scale > 0.0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        if live and time_scale != 1.0:
            raise ValueError("a live intent follows the expert's own clock: slow the expert "
                             "(ScriptedExpert.time_scale), not the intent")  # fmt: skip
        self.expert = expert
        self.live = live
        self.time_scale = time_scale
        """The plan is followed this many times slower than the expert would play it."""
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
        if self.live and self._latest is not None:
            plans = self._latest
        else:
            plans = self.expert.intent(t / self.time_scale)
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
    max_steps: int | None = None
    """Control ticks per episode at most (None: the task's time limit x ``time_scale``)."""
    time_scale: float = 3.5
    """The operator follows the expert's plan this many times slower. People teleoperate
    slower than a scripted expert moves; at 1x the simulated operator's reaction delay
    makes it lag the drill expert's fast hand turn by 90-130 mm and knock the drill over.
    PickUpDrill demos (operator_a, absolute retargeting, seeds 0-5): 1x 0/4, 2.5x 2/6,
    3.5x 5/6 successful; BreadClip stays at 0/6 (clip pinched and opened, not placed)."""
    stop_on_success: bool = True
    """End an episode at task success (demos then end where the task is done)."""
    live_intent: bool = False
    """The operator follows the expert's live targets (waits, closed-loop phases and
    replanning included) rather than its timed plan; see :class:`ExpertIntent`. The
    expert itself then plays ``time_scale`` times slower (``ScriptedExpert.time_scale``).
    Long tasks whose experts plan as they go (UnscrewWithDrill) need it."""
    image_cameras: tuple[str, ...] = ()
    """Cameras whose images are recorded with every observation (for vision policies;
    needs a GL backend, ``MUJOCO_GL=egl`` headless). Empty: state only."""
    image_size: tuple[int, int] = (84, 84)
    """(height, width) of the recorded images (uint8, 21 kB per camera and step)."""


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """One recorded demonstration episode."""

    path: Path
    seed: int
    steps: int
    success: bool
    score: float


class TeleopSession:
    """A simulated operator teleoperating ``config.task`` in full takeover through
    ``config.method``: the env, the expert whose plan is followed, the operator and the
    wrapper, reused over episodes (:meth:`run`)."""

    def __init__(self, config: TeleopConfig, recorder: EpisodeRecorder | None = None) -> None:
        self.config = config
        images = {"image_cameras": tuple(config.image_cameras), "image_size": tuple(config.image_size)}
        self.env = make_env(
            config.task, terminate_on_success=config.stop_on_success, **(images if config.image_cameras else {})
        )
        self.expert = expert_for(self.env)
        self.time_scale = config.time_scale
        if config.live_intent:
            self.expert.time_scale = config.time_scale
        self.intent = ExpertIntent(self.expert, self.env, live=config.live_intent,
                                   time_scale=1.0 if config.live_intent else config.time_scale)  # fmt: skip
        self.operator = IntentFollowingOperator(get_profile(config.operator), self.intent)
        self.max_steps = config.max_steps or math.ceil(
            task_entry(config.task).max_episode_steps * self.time_scale
        )
        self.wrapper = intervention_wrapper(
            self.env, config.method, self.operator, PedalModes(), recorder=recorder
        )

    def run(self, seed: int, on_step: Callable[[dict], None] | None = None) -> tuple[dict, int]:
        """One episode from ``reset(seed)``: (final info, control steps). ``on_step(info)``
        sees every step's info."""
        obs, info = self.wrapper.reset(seed=int(seed))
        self.expert.reset()
        self.intent.reset()
        # While the pedal is up (before the first press, during a workspace reset) the
        # robot keeps its last command: a teleoperated robot has no policy of its own.
        # The live intent needs the expert stepped for its targets.
        hold = self.env.hold_action()
        steps = 0
        while steps < self.max_steps:
            steps += 1
            if self.config.live_intent:
                self.intent.update(self.expert(obs))
            obs, _, terminated, truncated, info = self.wrapper.step(hold)
            hold = info["intervention"].executed_action.copy()
            if on_step is not None:
                on_step(info)
            if terminated or truncated:
                break
        return info, steps

    def close(self) -> None:
        self.wrapper.close()


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
    metadata = {
        "task": config.task,
        "method": config.method,
        "operator": config.operator,
        "kind": "teleop_demo",
        "time_scale": config.time_scale,
        "live_intent": config.live_intent,
    }
    recorder = EpisodeRecorder(out_dir, metadata)
    session = TeleopSession(config, recorder)
    results = []
    try:
        for seed in seeds:
            info, steps = session.run(int(seed))
            recorder.metadata = {**metadata, "success": bool(info["success"]), "score": float(info["score"])}
            path = recorder.end_episode()
            if path is None:
                raise RuntimeError("the demo episode had no steps")
            result = DemoResult(path, int(seed), steps, bool(info["success"]), float(info["score"]))
            results.append(result)
            if progress is not None:
                progress(result)
    finally:
        session.close()
    return results


def _record_one(job: tuple[TeleopConfig, str, int]) -> DemoResult:
    config, directory, seed = job
    (result,) = record_teleop_demos(config, directory, [seed])
    return result


def record_teleop_demos_parallel(
    config: TeleopConfig,
    out_dir: str | Path,
    seeds: list[int] | range,
    workers: int = 1,
    progress: Callable[[DemoResult], None] | None = None,
) -> list[DemoResult]:
    """:func:`record_teleop_demos` over ``workers`` processes. Each demo is recorded by a
    fresh session in its own scratch folder, then moved into ``out_dir`` as the next
    ``episode_*.h5`` in seed order: the episodes of a sequential run, whatever the number
    of workers (an episode depends only on its seed; worker processes use single-threaded
    BLAS, so compare with a sequential run under ``OMP_NUM_THREADS=1``)."""
    out_dir = Path(out_dir)
    scratch = out_dir / ".parallel"
    jobs = [(config, str(scratch / f"seed_{int(s)}"), int(s)) for s in seeds]
    results = map_in_order(_record_one, jobs, workers, progress)
    first = len(episode_paths(out_dir))
    moved = []
    for k, result in enumerate(results):
        target = out_dir / f"episode_{first + k:06d}.h5"
        os.replace(result.path, target)
        moved.append(dataclasses.replace(result, path=target))
    shutil.rmtree(scratch, ignore_errors=True)
    return moved


__all__ = [
    "ABSOLUTE_METHOD",
    "DemoResult",
    "ExpertIntent",
    "TeleopConfig",
    "TeleopSession",
    "record_teleop_demos",
    "record_teleop_demos_parallel",
]
