"""Scripted operators: gesture sequences, wrist paths and takeover-pedal schedules.

A :class:`GestureScript` is an open-loop plan for one hand: named gestures held for given
durations with minimum-jerk transitions, and a wrist path relative to the operator's
home pose. A :class:`ScriptedOperator` plays scripts through an :class:`OperatorProfile`
(hand size, neutral pose, tremor, drift, workspace) and presses the takeover pedal on a
schedule, e.g. three random takeovers as in the gesture-jump experiment (HandITL §4.2).
Everything is a function of time and the seed, so any frame can be asked for directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from handitl.assets.hand_description import SIDES, Side
from handitl.intervention.streams.frame import HandState, HumanFrame, PedalState
from handitl.intervention.streams.human_hand import (
    POSE_NAMES,
    HumanHandModel,
    named_pose,
    quat_from_rotation,
    rotation_from_quat,
    rotation_from_rotvec,
    rotvec_from_rotation,
)
from handitl.intervention.streams.operators.motion import HandNoise, min_jerk
from handitl.intervention.streams.operators.profiles import (
    HOME_WRIST_QUAT,
    OperatorProfile,
    ProfileError,
)
from handitl.intervention.streams.source import SourceStatus

HOLD = "hold"
"""Gesture name that keeps the previous gesture's pose."""
GESTURES: tuple[str, ...] = (*POSE_NAMES, HOLD)
"""Gesture names a script accepts; ``relaxed`` is the operator's own neutral pose."""
_MIRROR = np.array([1.0, -1.0, 1.0])


@dataclasses.dataclass(frozen=True)
class GestureSegment:
    """Go to ``gesture`` (minimum jerk over ``transition``) and hold it until ``duration`` ends."""

    gesture: str
    """A name in :data:`GESTURES`."""
    duration: float
    """Segment length, s (> 0)."""
    transition: float = 0.6
    """Blend time from the previous pose at the segment's start, s (capped at ``duration``)."""

    def __post_init__(self) -> None:
        if self.gesture not in GESTURES:
            raise ProfileError(f"unknown gesture {self.gesture!r}; known: {', '.join(GESTURES)}")
        if not (self.duration > 0.0 and self.transition >= 0.0):
            raise ProfileError(f"segment duration must be > 0 and transition >= 0: {self}")


@dataclasses.dataclass(frozen=True)
class WristPath:
    """Wrist waypoints relative to the operator's home pose, minimum jerk in between.

    Given for a right hand (operator world); a left hand plays the mirror image. Before the
    first waypoint and after the last the wrist holds still.
    """

    times: tuple[float, ...] = (0.0,)
    """Waypoint times, s, strictly increasing."""
    offsets: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 0.0),)
    """Position offsets from home in the operator world, m."""
    rotvecs: tuple[tuple[float, float, float], ...] | None = None
    """World-frame rotations (axis-angle, rad) applied to the home orientation; None = none."""

    def __post_init__(self) -> None:
        n = len(self.times)
        if n == 0 or len(self.offsets) != n or (self.rotvecs is not None and len(self.rotvecs) != n):
            raise ProfileError("WristPath needs one offset (and rotvec) per waypoint time")
        if n > 1 and not (np.diff(self.times) > 0).all():
            raise ProfileError("WristPath.times must be strictly increasing")

    def pose(self, t: np.ndarray, home_pos: np.ndarray, home_rot: np.ndarray,
             side: Side) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Wrist positions (T, 3) and rotations (T, 3, 3) in the operator world at times (T,)."""
        times = np.asarray(self.times)
        offsets = np.asarray(self.offsets, dtype=float)
        rotvecs = np.zeros_like(offsets) if self.rotvecs is None else np.asarray(self.rotvecs, float)
        if side is Side.LEFT:
            # Reflections flip axial vectors: a mirrored rotation has rotvec (-x, y, -z).
            offsets, rotvecs = offsets * _MIRROR, -rotvecs * _MIRROR
        if len(times) == 1:  # a still wrist: skip the blending (frames are asked one by one)
            rot = rotation_from_rotvec(rotvecs[0]) @ home_rot
            return np.broadcast_to(home_pos + offsets[0], (len(t), 3)), np.broadcast_to(rot, (len(t), 3, 3))
        k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
        k1 = np.minimum(k + 1, len(times) - 1)
        span = np.where(k1 > k, times[k1] - times[k], 1.0)
        s = min_jerk(np.where(k1 > k, (t - times[k]) / span, 0.0))[:, None]
        pos = home_pos + offsets[k] + s * (offsets[k1] - offsets[k])
        rot_k, rot_k1 = rotation_from_rotvec(rotvecs[k]), rotation_from_rotvec(rotvecs[k1])
        # Geodesic blend between waypoint orientations (world-frame increments).
        step = rotvec_from_rotation(rot_k1 @ np.swapaxes(rot_k, -1, -2))
        rot = rotation_from_rotvec(s * step) @ rot_k @ home_rot
        return pos, rot


@dataclasses.dataclass(frozen=True)
class GestureScript:
    """One hand's open-loop plan: gesture segments in order and a wrist path."""

    segments: tuple[GestureSegment, ...]
    wrist: WristPath = WristPath()

    def __post_init__(self) -> None:
        if not self.segments:
            raise ProfileError("a GestureScript needs at least one segment")
        if self.segments[0].gesture == HOLD:
            raise ProfileError("the first segment cannot be 'hold' (nothing to hold yet)")

    @classmethod
    def of(cls, *segments: tuple[str, float], transition: float = 0.6,
           wrist: WristPath | None = None) -> GestureScript:  # fmt: skip
        """Script from ``(gesture, duration)`` pairs, e.g. ``GestureScript.of(("relaxed", 1),
        ("power_grasp", 2))``."""
        segs = tuple(GestureSegment(g, d, transition) for g, d in segments)
        return cls(segs, wrist or WristPath())

    @property
    def duration(self) -> float:
        return float(sum(s.duration for s in self.segments))

    def joint_targets(self, t: np.ndarray, neutral: np.ndarray) -> np.ndarray:
        """(T, 21) scripted joint vectors at times ``t`` (T,), rad (``relaxed`` -> ``neutral``)."""
        poses = []
        for seg in self.segments:
            if seg.gesture == HOLD:
                poses.append(poses[-1])
            else:
                poses.append(neutral if seg.gesture == "relaxed" else named_pose(seg.gesture))
        poses_arr = np.asarray(poses)
        starts = np.concatenate([[0.0], np.cumsum([s.duration for s in self.segments])[:-1]])
        blend = np.array([min(s.transition, s.duration) for s in self.segments])
        i = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        prev = np.where(i > 0, i - 1, 0)
        phase = np.where(blend[i] > 0.0, (t - starts[i]) / np.where(blend[i] > 0, blend[i], 1.0), 1.0)
        s = min_jerk(phase)[:, None]
        return poses_arr[prev] + s * (poses_arr[i] - poses_arr[prev])


# ---------------------------------------------------------------------------------------
# Takeover pedal
# ---------------------------------------------------------------------------------------
class TakeoverPlan(Protocol):
    """Something that yields a takeover schedule for a script of a given duration."""

    def sample(self, rng: np.random.Generator, duration: float) -> TakeoverSchedule: ...


@dataclasses.dataclass(frozen=True)
class TakeoverSchedule:
    """Takeover pedal pressed during each ``[press, release)`` interval, s."""

    intervals: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        flat = np.asarray(self.intervals, dtype=float).ravel()
        if len(flat) and not (np.diff(flat) > 0).all():
            raise ProfileError(f"takeover intervals must be ordered and disjoint: {self.intervals}")

    def pressed(self, t: float) -> bool:
        """Whether the pedal is down at time ``t``."""
        return any(a <= t < b for a, b in self.intervals)

    def sample(self, rng: np.random.Generator, duration: float) -> TakeoverSchedule:
        """A fixed schedule is its own sample."""
        return self


@dataclasses.dataclass(frozen=True)
class RandomTakeovers:
    """``count`` press/release pairs at random times within a script."""

    count: int = 3
    """Number of takeovers (engage/disengage pairs)."""
    min_spacing: float = 1.0
    """Least time between any two pedal events, and from the script's start and end, s."""
    min_hold: float = 1.0
    """Shortest takeover, s."""
    max_hold: float = 3.0
    """Longest takeover, s."""

    def sample(self, rng: np.random.Generator, duration: float) -> TakeoverSchedule:
        """Hold lengths uniform in [min_hold, max_hold], the remaining slack split at random
        (Dirichlet) between the gaps; raises :class:`ProfileError` if they cannot fit."""
        holds = rng.uniform(self.min_hold, self.max_hold, self.count)
        slack = duration - holds.sum() - (self.count + 1) * self.min_spacing
        if slack < 0.0:
            holds = np.full(self.count, self.min_hold)
            slack = duration - holds.sum() - (self.count + 1) * self.min_spacing
            if slack < 0.0:
                raise ProfileError(f"{self.count} takeovers do not fit in {duration} s with {self}")
        gaps = self.min_spacing + slack * rng.dirichlet(np.ones(self.count + 1))
        t, intervals = 0.0, []
        for hold, gap in zip(holds, gaps[:-1]):
            t += gap
            intervals.append((float(t), float(t + hold)))
            t += hold
        return TakeoverSchedule(tuple(intervals))


def three_takeovers(rng: np.random.Generator, duration: float, *, min_spacing: float = 1.0,
                    min_hold: float = 1.0, max_hold: float = 3.0) -> TakeoverSchedule:  # fmt: skip
    """Three engage/disengage pairs at random times (the gesture-jump protocol, HandITL §4.2)."""
    return RandomTakeovers(3, min_spacing, min_hold, max_hold).sample(rng, duration)


# ---------------------------------------------------------------------------------------
# Operator
# ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class HandTrajectory:
    """One hand over T times as emitted (tremor and drift included)."""

    wrist_pos: np.ndarray
    """(T, 3) operator world, m."""
    wrist_quat: np.ndarray
    """(T, 4) operator world (w, x, y, z)."""
    q: np.ndarray
    """(T, 21) joint angles, rad."""
    keypoints: np.ndarray
    """(T, 21, 3) wrist frame, m."""


class ScriptedOperator:
    """A :class:`~handitl.intervention.streams.source.HumanSource` playing gesture scripts.

    ``scripts`` is one script for both hands (the left plays its mirror image) or a
    mapping with a script per tracked side (other sides are untracked). After the longest
    script ends the last frame is repeated and :meth:`status` reports ``ended``.
    """

    def __init__(self, profile: OperatorProfile, scripts: GestureScript | Mapping[Side, GestureScript],
                 takeover: TakeoverPlan = TakeoverSchedule(), seed: int | None = None) -> None:  # fmt: skip
        self.profile = profile
        self.hand = HumanHandModel(profile.hand_scale)
        if isinstance(scripts, GestureScript):
            scripts = {side: scripts for side in SIDES}
        self.scripts: dict[Side, GestureScript] = dict(scripts)
        self.duration = max(s.duration for s in self.scripts.values())
        self._plan = takeover
        self._rng = np.random.default_rng(seed)
        self._home_rot = rotation_from_quat(np.asarray(HOME_WRIST_QUAT))
        self.reset(seed)

    @property
    def schedule(self) -> TakeoverSchedule:
        """The takeover schedule of the current episode."""
        return self._schedule

    def reset(self, seed: int | None = None) -> None:
        """Restart at t = 0; a seed redraws tremor, drift and random takeovers reproducibly."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._noise = {side: HandNoise.sample(self._rng, self.profile) for side in SIDES}
        self._schedule = self._plan.sample(self._rng, self.duration)
        self._last_t = 0.0

    def trajectory(self, side: Side, times: np.ndarray) -> HandTrajectory:
        """The hand ``side`` at times (T,), s (vectorised; clamped to the script)."""
        script = self.scripts[side]
        t = np.clip(np.asarray(times, dtype=float), 0.0, self.duration)
        ws = self.profile.workspace
        pos, rot = script.wrist.pose(t, ws.home_pos(side), self._home_rot, side)
        noise = self._noise[side]
        q = script.joint_targets(t, self.profile.neutral)
        q = self.hand.clip(q + noise.joint_offset(t, q, self.hand))
        wrist, keypoints = noise.tracked(t, pos + noise.wrist_offset(t), self.hand.forward(q, side))
        return HandTrajectory(wrist_pos=wrist, wrist_quat=quat_from_rotation(rot), q=q, keypoints=keypoints)

    def frame_at(self, t: float) -> HumanFrame:
        self._last_t = float(t)
        hands: dict[Side, HandState | None] = {}
        for side in SIDES:
            if side not in self.scripts:
                hands[side] = None
                continue
            traj = self.trajectory(side, np.array([t]))
            hands[side] = HandState(
                wrist_pos=traj.wrist_pos[0],
                wrist_quat=traj.wrist_quat[0],
                wrist_valid=True,
                keypoints=traj.keypoints[0],
                valid=np.ones(len(traj.keypoints[0]), bool),
                confidence=np.ones(len(traj.keypoints[0])),
            )
        pedal = self._schedule.pressed(min(float(t), self.duration))
        return HumanFrame(t=float(t), hands=hands, pedals=PedalState(takeover=pedal))

    def status(self) -> SourceStatus:
        return SourceStatus(ended=self._last_t > self.duration)

    def close(self) -> None:
        """Nothing to release."""
