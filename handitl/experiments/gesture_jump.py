"""The gesture-jump protocol (HandITL §4.2, Fig. 3): command discontinuity at takeover.

One trial = one task, one retargeting method, one simulated operator, one seed:

1. the task's scripted expert runs autonomously until its grasp is established
   (:meth:`GraspCriteria.ready` on the latched ``info["stages"]``); a trial whose expert
   never gets there is reported as ``no_grasp`` rows, never dropped silently;
2. the policy then holds the grasp (the expert's ``hold()``) and sways the palm slowly,
   so the object is carried, not parked;
3. the operator, who holds their own version of the task's gesture (their hand size,
   tremor and drift: a mismatched pose), takes over three times at random times
   (:class:`~handitl.intervention.streams.operators.RandomTakeovers`), through
   :class:`~handitl.intervention.modes.ScheduledModes` armed at the grasp time.

Per takeover it reports the hand-command jump ``||q_exec(t0+) - q_exec(t0-)||_2`` (rad)
that the wrapper measures at the engage tick (``InterventionRecord.engage_jump``), the
jump one control tick later (which adds one tick of the operator's own motion, as a
real system whose first human command arrives a tick after the pedal), and the grasp
outcome at the takeover's last tick (:func:`handitl.experiments.grasp.outcome`).

Everything is a function of the trial's seed: the same spec gives the same rows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from handitl.agents.experts import expert_for
from handitl.agents.experts.base import ScriptedExpert
from handitl.envs import make_env
from handitl.envs.bimanual_env import BimanualEnv
from handitl.experiments.grasp import GraspCriteria, Outcome, grasp_criteria, outcome
from handitl.experiments.wiring import intervention_wrapper
from handitl.intervention.modes import Interval, Mode, ScheduledModes
from handitl.intervention.streams import GestureScript, ScriptedOperator, get_profile
from handitl.intervention.streams.frame import HumanFrame
from handitl.intervention.streams.operators import RandomTakeovers
from handitl.intervention.wrapper import InterventionRecord, InterventionWrapper

_SCHEDULE_STREAM = 0x6A
"""Second word of the schedule's seed sequence: takeover times draw from their own stream,
independent of the env's and the operator's."""


@dataclasses.dataclass(frozen=True)
class TakeoverTiming:
    """When the takeovers happen after the grasp is established (s)."""

    count: int = 3
    """Takeovers per trial."""
    window_s: float = 5.0
    """Length of the post-grasp segment that holds all takeovers."""
    min_spacing_s: float = 0.6
    """Least time between pedal events, and from the grasp and the window's end."""
    min_hold_s: float = 0.6
    """Shortest takeover."""
    max_hold_s: float = 1.2
    """Longest takeover."""


@dataclasses.dataclass(frozen=True)
class GestureJumpConfig:
    """Protocol settings shared by every trial."""

    timing: TakeoverTiming = TakeoverTiming()
    """Takeover schedule."""
    max_grasp_s: float = 15.0
    """Time the expert has to establish its grasp before the trial is ``no_grasp``, s."""
    sway_m: float = 0.01
    """Amplitude of the policy's vertical palm sway while it holds, m (0: hold still)."""
    sway_period_s: float = 3.0
    """Period of the sway, s."""
    gestures: tuple[tuple[str, str], ...] = (("BreadClip", "pinch"), ("PickUpDrill", "power_grasp"))
    """Per task, the gesture the operator holds (their own version of the robot's grasp)."""
    default_gesture: str = "relaxed"
    """Gesture for tasks not in ``gestures`` (the operator's neutral pose)."""
    calibrate_scale: bool = True
    """Scale the retargeters to the operator's hand size (a per-operator calibration)."""

    def gesture(self, task: str) -> str:
        return dict(self.gestures).get(task, self.default_gesture)


@dataclasses.dataclass(frozen=True)
class TrialSpec:
    """One trial's identity; the seed drives the env, the operator and the schedule."""

    task: str
    method: str
    operator: str
    trial: int
    seed: int


@dataclasses.dataclass(frozen=True)
class TakeoverRow:
    """One takeover (a CSV row). Times in s of episode time, jumps in rad (L2 over the
    task hand's joints); NaN where the trial had no grasp."""

    task: str
    method: str
    operator: str
    trial: int
    seed: int
    takeover: int
    t0: float
    discontinuity: float
    """``||q_exec(t0+) - q_exec(t0-)||`` at the engage tick (the wrapper's engage jump)."""
    discontinuity_next: float
    """The same, one control tick after the engage tick."""
    outcome: str
    held_at_t0: bool
    """The object was held just before the takeover (False: lost at an earlier one)."""
    intact_at_t0: bool
    """The functional grasp was intact just before the takeover."""
    note: str = ""
    """Why a trial is ``no_grasp`` (empty otherwise)."""


class ArmedSchedule:
    """A :class:`~handitl.intervention.modes.ModeSwitch` that stays autonomous until
    :meth:`arm` hands it the takeover intervals, then plays them with
    :class:`ScheduledModes`. The intervals are only known once the expert's grasp is
    established, which happens at a different time in every trial."""

    def __init__(self) -> None:
        self._scheduled: ScheduledModes | None = None

    def reset(self) -> None:
        self._scheduled = None

    def arm(self, intervals: list[Interval]) -> None:
        """Start following ``intervals`` (episode time, s)."""
        self._scheduled = ScheduledModes(intervals)

    def mode(self, t: float, frame: HumanFrame | None) -> Mode:
        return Mode.AUTONOMOUS if self._scheduled is None else self._scheduled.mode(t, frame)


class HoldPolicy:
    """The expert until :meth:`hold` is called, then the expert's held grasp with a slow
    vertical palm sway on the task side (the "policy holds and moves" part of §4.2)."""

    def __init__(self, expert: ScriptedExpert, criteria: GraspCriteria, config: GestureJumpConfig) -> None:
        self.expert = expert
        self._pos = expert.env.layout.slice(f"{criteria.side.value}/pos")
        self._amplitude = config.sway_m
        self._period = config.sway_period_s
        self._since: float | None = None

    def reset(self) -> None:
        self.expert.reset()
        self._since = None

    def hold(self, t: float) -> None:
        """Freeze the expert's grasp at episode time ``t`` (s)."""
        self.expert.hold()
        self._since = t

    def __call__(self, observation: dict, t: float) -> np.ndarray:
        action = self.expert(observation)
        if self._since is not None and self._amplitude > 0.0:
            phase = 2.0 * math.pi * (t - self._since) / self._period
            action[self._pos.start + 2] += self._amplitude * math.sin(phase)
        return action


@dataclasses.dataclass
class _Open:
    """A takeover in progress."""

    t0: float
    jump: float
    before: np.ndarray
    held: bool
    intact: bool
    next_jump: float = math.nan
    last_m: Mapping[str, float] | None = None


def takeover_intervals(seed: int, start: float, timing: TakeoverTiming) -> list[Interval]:
    """The trial's takeovers, drawn from the seed and shifted to begin after ``start`` (s)."""
    rng = np.random.default_rng((seed, _SCHEDULE_STREAM))
    plan = RandomTakeovers(timing.count, timing.min_spacing_s, timing.min_hold_s, timing.max_hold_s)
    schedule = plan.sample(rng, timing.window_s)
    return [Interval(start + a, start + b, Mode.TAKEOVER) for a, b in schedule.intervals]


def run_trial(spec: TrialSpec, config: GestureJumpConfig) -> list[TakeoverRow]:
    """Run one trial (see the module docstring); one row per scheduled takeover."""
    env = make_env(spec.task, terminate_on_success=False)
    try:
        return _run(env, spec, config)
    finally:
        env.close()


def _run(env: BimanualEnv, spec: TrialSpec, config: GestureJumpConfig) -> list[TakeoverRow]:
    criteria = grasp_criteria(env.task)
    profile = get_profile(spec.operator)
    horizon = config.max_grasp_s + config.timing.window_s + 1.0
    script = GestureScript.of((config.gesture(spec.task), horizon))
    operator = ScriptedOperator(profile, {criteria.side: script}, seed=spec.seed)
    modes = ArmedSchedule()
    scale = profile.hand_scale if config.calibrate_scale else 1.0
    wrapper = intervention_wrapper(env, spec.method, operator, modes, operator_scale=scale,
                                   sides=(criteria.side,))  # fmt: skip
    policy = HoldPolicy(expert_for(env), criteria, config)
    obs, _ = wrapper.reset(seed=spec.seed)
    policy.reset()
    obs, why = _until_grasp(wrapper, policy, criteria, config.max_grasp_s, obs)
    m = env.task.measurements
    if obs is not None and not (criteria.held(m) and criteria.intact(m)):
        obs, why = None, "grasp stage reached but the grasp was not held intact"
    if obs is None:
        return [_row(spec, k, math.nan, math.nan, math.nan, Outcome.NO_GRASP, False, False, why)
                for k in range(config.timing.count)]  # fmt: skip
    start = float(env.data.time)
    policy.hold(start)
    modes.arm(takeover_intervals(spec.seed, start, config.timing))
    timing = config.timing
    return _takeovers(wrapper, policy, criteria, spec, start + timing.window_s, timing.count, obs)


def _until_grasp(wrapper: InterventionWrapper, policy: HoldPolicy, criteria: GraspCriteria,
                 max_s: float, obs: dict) -> tuple[dict | None, str]:  # fmt: skip
    """Step the expert until its grasp is ready: (observation, "") then, or (None, why not)."""
    base, expert = wrapper.base, policy.expert
    while base.data.time < max_s:
        segment = expert.segment_name
        obs, _, terminated, _, info = wrapper.step(policy(obs, base.data.time))
        if criteria.ready(info["stages"], expert.segment_name):
            return obs, ""
        if terminated:
            return None, f"task failure during expert segment '{segment}'"
        if expert.failed:
            return None, f"expert timed out in segment '{segment}'"
    return None, f"grasp not ready within {max_s} s (expert segment '{expert.segment_name}')"


def _takeovers(wrapper: InterventionWrapper, policy: HoldPolicy, criteria: GraspCriteria,
               spec: TrialSpec, end: float, count: int, obs: dict) -> list[TakeoverRow]:  # fmt: skip
    """Step through the takeover window, measuring each takeover. The env is stepped on
    after a failure (the wrapper never resets): later takeovers still have a command jump,
    and their outcome shows the object is gone (``held_at_t0`` False)."""
    base, side = wrapper.base, criteria.side
    hand = base.layout.slice(f"{side.value}/hand")
    rows: list[TakeoverRow] = []
    current: _Open | None = None
    previous: np.ndarray | None = None
    while base.data.time < end - 1e-9:
        t = float(base.data.time)
        before_m = base.task.measurements
        obs, _, _, _, info = wrapper.step(policy(obs, t))
        record: InterventionRecord = info["intervention"]
        q = record.executed_action[hand]
        if current is not None and record.mode is Mode.TAKEOVER and math.isnan(current.next_jump):
            current.next_jump = float(np.linalg.norm(q - current.before))
        if current is not None and record.disengaged:
            rows.append(_close(spec, len(rows), current, criteria))
            current = None
        if record.engaged and record.mode is Mode.TAKEOVER:
            before = q if previous is None else previous
            current = _Open(t0=t, jump=record.engage_jump[side], before=before,
                            held=criteria.held(before_m), intact=criteria.intact(before_m))  # fmt: skip
        if current is not None:
            current.last_m = base.task.measurements
        previous = q
    if current is not None:
        rows.append(_close(spec, len(rows), current, criteria))
    if len(rows) != count:  # a schedule that does not fit the window must not pass silently
        raise RuntimeError(f"{spec}: {len(rows)} of {count} scheduled takeovers happened")
    return rows


def _close(spec: TrialSpec, index: int, takeover: _Open, criteria: GraspCriteria) -> TakeoverRow:
    assert takeover.last_m is not None
    result = outcome(criteria, takeover.last_m)
    return _row(spec, index, takeover.t0, takeover.jump, takeover.next_jump, result,
                takeover.held, takeover.intact)  # fmt: skip


def _row(spec: TrialSpec, index: int, t0: float, jump: float, next_jump: float, result: Outcome,
         held: bool, intact: bool, note: str = "") -> TakeoverRow:  # fmt: skip
    # The clock accumulates float steps (4.5999999...): 1 us resolution is plenty.
    return TakeoverRow(task=spec.task, method=spec.method, operator=spec.operator, trial=spec.trial,
                       seed=spec.seed, takeover=index, t0=round(t0, 6), discontinuity=jump,
                       discontinuity_next=next_jump, outcome=result.value, held_at_t0=held,
                       intact_at_t0=intact, note=note)  # fmt: skip
