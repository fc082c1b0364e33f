"""Simulated "teleoperation" demonstrations: an operator drives the robot in full takeover.

Demonstrations for the base policy should carry the imperfection of human teleoperation
(tremor, tracker noise, reaction delay, workspace resets, the retargeter's hand mapping)
rather than the scripted expert's clean commands. So a simulated operator
(:class:`~handitl.intervention.streams.IntentFollowingOperator`) plans with the task's
expert run on the scene every tick (:class:`ExpertIntent`: the expert's closed-loop
waits, replanning and retries included, seen with the operator's reaction delay and
perception error), at a person's pace (``time_scale``). It shapes its fingers from
experience and corrects what it sees remain (a touching finger squeezes a bounded depth),
and servoes its wrists on the commanded palm; its hands go through the retargeter under
test (by default the absolute, DexPilot-style ``"direct"`` one, calibrated to the
operator's hand size) and its wrists through the
anchored takeover mapping of the :class:`~handitl.intervention.InterventionWrapper`, the
pedal pressed once its hand mirrors the robot's. The
:class:`~handitl.intervention.recorder.EpisodeRecorder` writes the episodes in the D_corr
format, so one loader reads demos and corrections.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from collections import deque
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
from handitl.intervention.streams import IntentFollowingOperator, IntentTarget, get_profile
from handitl.parallel import map_in_order
from handitl.retarget import HandKinematics

ABSOLUTE_METHOD = "direct"
"""The absolute (DexPilot-style) retargeter's name in :data:`handitl.retarget.METHODS`."""

_PERCEPTION_STREAM = 0x5EE
"""Random stream of the operator's perception error (seeded with the episode's seed)."""


class ExpertIntent:
    """``intent(t)`` of an :class:`IntentFollowingOperator`: the task expert's planner run
    on the scene, as the operator sees it.

    Every control tick the expert acts on the current scene (object poses, the robot's
    hands: its closed-loop waits, replanning and retries included) and :meth:`update`
    keeps its targets with their time; ``intent(t)`` returns the newest targets at or
    before ``t``. The operator asks at its own reaction delay (``t - reaction_delay``),
    so it acts on the scene as it was then. A perception error - where the operator
    believes things are, off by a few millimetres - shifts every palm target by a
    per-episode offset drawn from ``perception_rms`` (m, per axis) at :meth:`reset`.

    There is no other path: an intent read from the plan made at reset would never see
    the phases an expert plans as it goes (the bread clip's carry, parts 2-4, the
    unscrewing experts' later screws), so an operator following it carries objects to
    placeholders. The expert plans hand joint targets; the operator corrects fingertip
    positions (what a person sees), so joints become fingertip pad positions in the palm
    frame with the robot hand's own kinematics - the frame and points of the wrapper's
    ``RobotFeedback``.
    """

    def __init__(self, expert: ScriptedExpert, env: BimanualEnv, perception_rms: float = 0.0,
                 history_s: float = 2.0) -> None:  # fmt: skip
        if not perception_rms >= 0.0:
            raise ValueError(f"perception_rms must be >= 0, got {perception_rms}")
        self.expert = expert
        self.perception_rms = float(perception_rms)
        self.history_s = float(history_s)
        """Seconds of targets kept (longer than any operator's reaction delay)."""
        self._layout = env.layout
        self._history: deque[tuple[float, dict[Side, IntentTarget]]] = deque()
        self._offset = {s: np.zeros(3) for s in SIDES}
        self._kinematics = {s: HandKinematics(build_hand(env.config.hand, s)) for s in SIDES}
        self._present = {
            s: [
                k for k, site in enumerate(env.robot.hands[s].description.fingertip_sites) if site is not None
            ]
            for s in SIDES
        }

    def reset(self, seed: int | None = None) -> None:
        """Forget the targets; draw this episode's perception error from ``seed``."""
        self._history.clear()
        rng = np.random.default_rng(None if seed is None else (int(seed), _PERCEPTION_STREAM))
        self._offset = {s: rng.normal(0.0, self.perception_rms, 3) for s in SIDES}

    def update(self, t: float, action: np.ndarray) -> None:
        """Keep the expert's action at episode time ``t`` (palm pose and hand targets per side)."""
        if self._history and t < self._history[-1][0]:
            raise ValueError(f"intent times must not decrease: {t} after {self._history[-1][0]}")
        lay = self._layout
        targets = {}
        for side in SIDES:
            tips = self.pads(side, action[lay.slice(f"{side.value}/hand")])
            targets[side] = IntentTarget(
                palm_pos=action[lay.slice(f"{side.value}/pos")] + self._offset[side],
                palm_quat=quat_from_rotvec(action[lay.slice(f"{side.value}/rotvec")]),
                fingertips_in_palm=tips,
            )
        self._history.append((float(t), targets))
        while len(self._history) > 1 and self._history[1][0] < t - self.history_s:
            self._history.popleft()

    def pads(self, side: Side, hand_q: np.ndarray) -> np.ndarray:
        """(5, 3) fingertip pads of ``side``'s robot hand at joints ``hand_q``, palm frame
        (NaN rows for absent fingers)."""
        kin = self._kinematics[side]
        kin.set_q(kin.clip(np.asarray(hand_q, dtype=float)))
        tips = np.full((5, 3), np.nan)
        tips[self._present[side]] = kin.pads()
        return tips

    def __call__(self, t: float) -> dict[Side, IntentTarget]:
        """The newest targets at or before ``t``; none before the first update."""
        found: dict[Side, IntentTarget] = {}
        for t_k, targets in reversed(self._history):
            if t_k <= t + 1e-9:
                found = targets
                break
        return found


OPERATOR_ATTEMPTS = 4
"""Tries per grasp of an operator's planner: a person keeps trying while there is time
(the experts' own budgets, 2-3, are for a robot that rarely misses)."""


def operator_planner(env: BimanualEnv, time_scale: float) -> ScriptedExpert:
    """The task's expert as an operator plans with it: at a person's pace (``time_scale``
    times slower) and with ``OPERATOR_ATTEMPTS`` tries per grasp where it retries."""
    expert = expert_for(env)
    expert.time_scale = float(time_scale)
    config = getattr(expert, "config", None)
    if dataclasses.is_dataclass(config) and hasattr(config, "attempts"):
        expert.config = dataclasses.replace(config, attempts=max(config.attempts, OPERATOR_ATTEMPTS))
    return expert


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
    """The operator (and the expert it plans with) is this many times slower than the
    expert. People teleoperate slower than a scripted expert moves; at 1x the operator's
    reaction delay makes it lag the drill expert's fast hand turn by 90-130 mm and knock
    the drill over."""
    stop_on_success: bool = True
    """End an episode at task success (demos then end where the task is done)."""
    retarget_overrides: tuple[tuple[str, float], ...] = ()
    """(field, value) pairs replacing the retargeting method's config: an ablation (e.g.
    ``(("safety_weight", 0.0),)`` turns the relative method's structural-safety term off)."""
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
        extra = images if config.image_cameras else {}
        self.env = make_env(config.task, terminate_on_success=config.stop_on_success, **extra)
        self.expert = operator_planner(self.env, config.time_scale)
        self.time_scale = config.time_scale
        profile = get_profile(config.operator)
        self.intent = ExpertIntent(self.expert, self.env, perception_rms=profile.perception_rms)
        self.operator = IntentFollowingOperator(profile, self.intent)
        self.max_steps = config.max_steps or math.ceil(
            task_entry(config.task).max_episode_steps * self.time_scale
        )
        self.wrapper = intervention_wrapper(
            self.env, config.method, self.operator, PedalModes(), recorder=recorder,
            operator_scale=profile.hand_scale,  # the retargeters calibrated to the operator's hand
            retarget_overrides=dict(config.retarget_overrides),
        )

    def run(self, seed: int, on_step: Callable[[dict], None] | None = None) -> tuple[dict, int]:
        """One episode from ``reset(seed)``: (final info, control steps). ``on_step(info)``
        sees every step's info."""
        obs, info = self.wrapper.reset(seed=int(seed))
        self.expert.reset()
        self.intent.reset(seed)
        # While the pedal is up (before the first press, during a workspace reset) the
        # robot keeps its last command: a teleoperated robot has no policy of its own.
        # The operator's planner (the expert) acts on the scene every tick.
        hold = self.env.hold_action()
        steps = 0
        while steps < self.max_steps:
            steps += 1
            self.intent.update(self.env.data.time, self.expert(obs))
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
    "OPERATOR_ATTEMPTS",
    "operator_planner",
    "DemoResult",
    "ExpertIntent",
    "TeleopConfig",
    "TeleopSession",
    "record_teleop_demos",
    "record_teleop_demos_parallel",
]
