"""Scripted experts: privileged-state controllers that act through the env's actions.

An expert plans, at reset, a sequence of :class:`Segment` s from the task's privileged
state (object poses), then plays it: palm poses move with minimum-jerk timing (position
interpolated, orientation slerped), hand joint targets likewise, and a segment may wait
for a condition (``until``, e.g. "the drill is lifted") before the next begins, with a
timeout. Experts also offer

* ``hold()``: keep the current grasp (hand targets frozen at the last command, palms held
  where they are) - the policy the takeover experiments need;
* ``planned(t)``: the palm and hand targets of the plan made so far at plan time ``t``,
  waits ignored (for plots and tests). A simulated operator does not follow it: it runs
  the expert on the scene every tick (:class:`handitl.agents.teleop.ExpertIntent`), as
  the plan an expert makes at reset never holds the phases it plans as it goes.

Experts use the end-effector action modes (``ee_pose`` or ``ee_pose_twist``).
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from handitl.assets.hand_description import SIDES, Side
from handitl.envs.actions import ActionMode
from handitl.envs.bimanual_env import BimanualEnv
from handitl.envs.rotations import rotvec_from_quat

Condition = Callable[[BimanualEnv], bool]
"""A predicate on the env's (privileged) state."""


@dataclasses.dataclass(frozen=True)
class SideTarget:
    """Where one side should be at the end of a segment (None: keep the previous value).

    Attributes:
        pos: (3,) palm position target, world frame, m.
        quat: (4,) palm orientation target (w, x, y, z), world frame.
        hand_q: (n,) hand joint targets, rad (description order).
    """

    pos: np.ndarray | None = None
    quat: np.ndarray | None = None
    hand_q: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Segment:
    """One move of the plan.

    Attributes:
        name: a label (shown in logs and videos).
        duration: s for the minimum-jerk move to the targets.
        targets: per side, the targets at the end of the move.
        until: after the move, wait until this holds (None: go on at once).
        timeout: most seconds to wait for ``until`` before giving up the plan.
        pivots: per side, a world point (3,) the palm's position turns about with its
            orientation during the move (None: the position moves in a straight line).
            The turn is the slerp's rotation from the start orientation; whatever the
            turned start position misses of the target position is added in a straight
            line. A palm orbiting a knob's axis while it turns the knob is one move.
        lead: s the targets run ahead of the plan's clock during the move: a feed-forward
            for the arm servos' lag (~0.1 s, :class:`~handitl.envs.controllers.DifferentialIK`)
            on fast moves that must stay on their path (``planned`` ignores it).
    """

    name: str
    duration: float
    targets: dict[Side, SideTarget]
    until: Condition | None = None
    timeout: float = 3.0
    pivots: dict[Side, np.ndarray] | None = None
    lead: float = 0.0


@dataclasses.dataclass
class _Pose:
    pos: np.ndarray
    quat: np.ndarray
    hand_q: np.ndarray


def min_jerk(s: float) -> float:
    """Minimum-jerk progress 10s^3 - 15s^4 + 6s^5 for s in [0, 1]."""
    s = min(max(s, 0.0), 1.0)
    return s * s * s * (10.0 + s * (-15.0 + 6.0 * s))


def slerp(q0: np.ndarray, q1: np.ndarray, s: float) -> np.ndarray:
    """Shortest-arc spherical interpolation of unit quaternions (w, x, y, z)."""
    dot = float(np.dot(q0, q1))
    if dot < 0.0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + s * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = math.acos(dot)
    return (math.sin((1 - s) * theta) * q0 + math.sin(s * theta) * q1) / math.sin(theta)


def _relative(q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """World-frame rotation (w, x, y, z) taking orientation q0 to q1: q1 q0^-1."""
    w0, v0 = q0[0], -np.asarray(q0[1:])
    w1, v1 = q1[0], np.asarray(q1[1:])
    return np.array([w1 * w0 - v1 @ v0, *(w1 * v0 + w0 * v1 + np.cross(v1, v0))])


def _rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """v rotated by the unit quaternion q (w, x, y, z)."""
    w, u = q[0], np.asarray(q[1:])
    return v + 2.0 * np.cross(u, np.cross(u, v) + w * v)


class ScriptedExpert(abc.ABC):
    """Base class: plays the plan made by :meth:`plan` at each reset.

    Subclasses implement :meth:`plan` (and may override :meth:`act` for closed-loop
    corrections). Call :meth:`reset` after every ``env.reset``.
    """

    def __init__(self, env: BimanualEnv) -> None:
        if env.layout.mode is ActionMode.JOINT:
            raise ValueError("scripted experts need an end-effector action mode")
        self.env = env
        self._segments: list[Segment] = []
        self._keyframes: list[tuple[float, dict[Side, _Pose]]] = []
        self._index = 0
        self._segment_start = 0.0
        self._waiting_since: float | None = None
        self._start: dict[Side, _Pose] = {}
        self._last: dict[Side, _Pose] = {}
        self._hold: dict[Side, _Pose] | None = None
        self.failed = False
        """True once a segment's ``until`` timed out (the plan was abandoned)."""
        self.time_scale = 1.0
        """Plays every segment (its move and its wait) this many times slower: a
        simulated operator planning with the expert moves at a person's pace
        (see :class:`handitl.agents.teleop.ExpertIntent`). Set before :meth:`reset`."""

    # --- to implement ----------------------------------------------------------------------

    @abc.abstractmethod
    def plan(self) -> list[Segment]:
        """The task's plan from the current (just reset) privileged state."""

    # --- public API --------------------------------------------------------------------------

    def reset(self) -> None:
        self._hold = None
        self.restart()

    def restart(self) -> None:
        """Plan again from the current state and play it from its first segment (a retry:
        the expert's :meth:`plan` sees where the objects are now)."""
        self._start = {s: self._current_pose(s) for s in SIDES}
        self._last = {s: dataclasses.replace(p) for s, p in self._start.items()}
        self._segments = self.plan()
        self._keyframes = self._plan_keyframes()
        self._index = 0
        self._segment_start = self.env.data.time
        self._waiting_since = None
        self.failed = False

    def __call__(self, observation: dict[str, Any]) -> np.ndarray:
        return self.act(observation)

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        """The action for this control step (reads privileged state from ``self.env``)."""
        if self._hold is not None:
            return self._action(self._hold)
        targets = self._advance()
        self._last = targets
        return self._action(targets)

    @property
    def sides(self) -> tuple[Side, ...]:
        """The hands the task is done with (an operator correcting it uses these)."""
        return SIDES

    @property
    def done(self) -> bool:
        """The plan has been played to its end (or abandoned)."""
        return self.failed or self._index >= len(self._segments)

    @property
    def segment_name(self) -> str:
        if self.done:
            return "done"
        return self._segments[self._index].name if self._index < len(self._segments) else "planning"

    def hold(self, on: bool = True) -> None:
        """Keep the current grasp: hand targets frozen at the last command and palms
        held at their current poses, until ``hold(False)`` resumes the plan."""
        if on:
            self._hold = {s: self._current_pose(s) for s in SIDES}
            for s in SIDES:
                self._hold[s].hand_q = self._last[s].hand_q.copy()
        else:
            self._hold = None

    def planned(self, t: float) -> dict[Side, dict[str, np.ndarray]]:
        """Palm pose and hand targets of the plan made so far at plan time ``t`` (s since
        reset), ignoring waits: ``{side: {"palm_pos", "palm_quat", "hand_q"}}``. Segments
        an expert plans as it goes (after a lift, the next part) are not in it until then:
        not an operator's intent (see :class:`handitl.agents.teleop.ExpertIntent`)."""
        if not self._keyframes:
            return {s: {"palm_pos": p.pos, "palm_quat": p.quat, "hand_q": p.hand_q}
                    for s, p in self._start.items()}  # fmt: skip
        previous_t, previous = 0.0, self._start
        for index, (end_t, poses) in enumerate(self._keyframes):
            if t <= end_t:
                s = min_jerk((t - previous_t) / max(end_t - previous_t, 1e-9))
                out = self._blend(previous, poses, s, self._segments[index].pivots)
                return {k: {"palm_pos": p.pos, "palm_quat": p.quat, "hand_q": p.hand_q}
                        for k, p in out.items()}  # fmt: skip
            previous_t, previous = end_t, poses
        return {k: {"palm_pos": p.pos, "palm_quat": p.quat, "hand_q": p.hand_q}
                for k, p in previous.items()}  # fmt: skip

    # --- internals ---------------------------------------------------------------------------

    def _current_pose(self, side: Side) -> _Pose:
        pos, quat = self.env.palm_pose(side)
        hand = self.env.robot.hands[side]
        return _Pose(pos, quat, self.env.data.qpos[hand.qpos_idx].copy())

    def _resolve(self, previous: dict[Side, _Pose], segment: Segment) -> dict[Side, _Pose]:
        out = {}
        for side in SIDES:
            p, target = previous[side], segment.targets.get(side, SideTarget())
            out[side] = _Pose(
                p.pos if target.pos is None else np.asarray(target.pos, dtype=float),
                p.quat if target.quat is None else np.asarray(target.quat, dtype=float),
                p.hand_q if target.hand_q is None else np.asarray(target.hand_q, dtype=float),
            )
        return out

    def _plan_keyframes(self) -> list[tuple[float, dict[Side, _Pose]]]:
        keyframes, t, poses = [], 0.0, self._start
        for segment in self._segments:
            poses = self._resolve(poses, segment)
            t += segment.duration * self.time_scale
            keyframes.append((t, poses))
        return keyframes

    @staticmethod
    def _blend(a: dict[Side, _Pose], b: dict[Side, _Pose], s: float,
               pivots: dict[Side, np.ndarray] | None = None) -> dict[Side, _Pose]:  # fmt: skip
        out = {}
        for side in SIDES:
            p, q = a[side], b[side]
            quat = slerp(p.quat, q.quat, s)
            pivot = None if pivots is None else pivots.get(side)
            if pivot is None:
                pos = p.pos + s * (q.pos - p.pos)
            else:
                # Turned start position at s and at the end; the rest in a straight line.
                arm = p.pos - pivot
                turned_end = pivot + _rotate(_relative(p.quat, slerp(p.quat, q.quat, 1.0)), arm)
                pos = pivot + _rotate(_relative(p.quat, quat), arm) + s * (q.pos - turned_end)
            out[side] = _Pose(pos, quat, p.hand_q + s * (q.hand_q - p.hand_q))
        return out

    def _segment_poses(self, index: int) -> tuple[dict[Side, _Pose], dict[Side, _Pose]]:
        start = self._start if index == 0 else self._keyframes[index - 1][1]
        return start, self._keyframes[index][1]

    def _advance(self) -> dict[Side, _Pose]:
        now = self.env.data.time
        while not self.failed and self._index < len(self._segments):
            segment = self._segments[self._index]
            start, end = self._segment_poses(self._index)
            elapsed = (now - self._segment_start) / self.time_scale
            if elapsed < segment.duration:
                s = min_jerk(min(elapsed + segment.lead, segment.duration) / segment.duration)
                return self._blend(start, end, s, segment.pivots)
            if segment.until is not None and not segment.until(self.env):
                if self._waiting_since is None:
                    self._waiting_since = now
                if (now - self._waiting_since) / self.time_scale > segment.timeout:
                    self.failed = True
                    return end
                return end
            self._index += 1
            self._segment_start = now
            self._waiting_since = None
        return self._keyframes[-1][1] if self._keyframes else self._start

    def _action(self, poses: dict[Side, _Pose]) -> np.ndarray:
        layout = self.env.layout
        action = np.zeros(layout.size)
        for side in SIDES:
            p = poses[side]
            action[layout.slice(f"{side.value}/pos")] = p.pos
            action[layout.slice(f"{side.value}/rotvec")] = rotvec_from_quat(p.quat)
            action[layout.slice(f"{side.value}/hand")] = p.hand_q
        return np.clip(action, layout.space.low, layout.space.high)
