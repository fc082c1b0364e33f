"""Intent following: a simulated operator who corrects the robot in closed loop.

The operator is shown an intent (where the robot's palms and fingertips should be, e.g.
a scripted expert's plan) and the robot's state, both with their reaction delay, and
moves their own wrists and fingers so that the robot gets there, as a person watching
the robot through a headset would:

* Wrist: intended velocity proportional to the (predicted) robot palm error, mapped into
  the operator world by ``operator_to_robot`` (R: robot vector = R @ operator vector),
  speed-bounded. The robot is assumed to follow the wrist's motion while the takeover
  pedal is down (relative arm shared control, HandITL §3.4).
* Fingers: the robot fingertip error (robot palm frame), scaled to the operator's hand by
  the size ratio, becomes a wanted human fingertip displacement in the wrist frame (the
  same axes convention), solved for joint velocities through the human hand model's
  fingertip Jacobian with damped least squares, speed- and limit-bounded.
* Delay: the operator sees the intent and the robot as they were ``reaction_delay`` ago.
  Like people (an internal forward model), they predict the robot's present state from
  the delayed view plus their own motion since (the robot follows relative motion only
  while the pedal is down); ``predictive=False`` turns this off.
* Workspace: if the intended wrist would leave the arm's comfortable sphere, the operator
  releases the pedal, brings that wrist back to its home position, and presses the pedal
  again (a *workspace reset*, counted, HandITL §4.3).
* Tremor and drift of the profile are added to what is emitted; the robot's response to
  them is seen and corrected like any other error.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np

from handitl.assets import procedural_hand_constants as robot_hand
from handitl.assets.hand_description import FINGERS, SIDES, Side
from handitl.intervention.streams.frame import HandState, HumanFrame, PedalState
from handitl.intervention.streams.human_hand import (
    FINGERTIP_INDICES,
    NUM_JOINTS,
    HumanHandModel,
    quat_from_rotation,
    rotation_from_quat,
    rotation_from_rotvec,
    rotvec_from_rotation,
)
from handitl.intervention.streams.operators.motion import HandNoise
from handitl.intervention.streams.operators.profiles import HOME_WRIST_QUAT, OperatorProfile
from handitl.intervention.streams.source import RobotFeedback, SourceStatus

_EPS_T = 1e-9
"""Slack on time comparisons, s (ticks are sums of floats)."""


@dataclasses.dataclass(frozen=True)
class IntentTarget:
    """Where one robot hand should be. Any part may be None (no wish: hold that part)."""

    palm_pos: np.ndarray | None = None
    """(3,) palm position in the robot world, m."""
    palm_quat: np.ndarray | None = None
    """(4,) palm orientation in the robot world (w, x, y, z)."""
    fingertips_in_palm: np.ndarray | None = None
    """(5, 3) fingertips in the robot palm frame, FINGERS order, m (NaN rows: no wish)."""


Intent = Callable[[float], Mapping[Side, IntentTarget]]
"""``intent(t)``: the targets at episode time ``t`` (s) per side; absent sides hold."""


@dataclasses.dataclass(frozen=True)
class IntentFollowingConfig:
    """How the operator turns errors into motion (the person is the :class:`OperatorProfile`)."""

    wrist_gain: float = 4.0
    """Fraction of the palm position error corrected per second, 1/s."""
    rotation_gain: float = 4.0
    """Fraction of the palm orientation error corrected per second, 1/s."""
    finger_gain: float = 6.0
    """Fraction of the fingertip error corrected per second, 1/s."""
    jacobian_damping: float = 0.01
    """Damping of the fingertip least squares, m (keeps joint speeds sane near singularities)."""
    operator_to_robot: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))
    """(3, 3) rotation from the operator world to the robot world (robot v = R @ operator v)."""
    robot_hand_length: float = robot_hand.HAND_LENGTH
    """Robot wrist-to-middle-tip length, m: with the operator's hand it sets the size ratio."""
    workspace_margin: float = 0.005
    """The intended wrist stays this far inside the reach sphere, m (room for tremor/drift)."""
    home_tolerance: float = 0.01
    """A reset is done once the wrist is this close to home, m."""
    regrip_time: float = 0.2
    """Pause at home before pressing the pedal again, s."""
    engage_at: float = 0.0
    """Time the takeover pedal is first pressed, s (post-takeover trials start engaged)."""
    predictive: bool = True
    """Predict the robot's present state from the delayed view and one's own motion since."""
    sides: tuple[Side, ...] = SIDES
    """Hands the operator uses (others are untracked)."""


@dataclasses.dataclass(frozen=True)
class _Emitted:
    """What the operator emitted at one tick, with the pedal-gated running sums of motion."""

    t: float
    pos: np.ndarray
    """(3,) emitted wrist position (operator world), m."""
    rot: np.ndarray
    """(3, 3) emitted wrist orientation (operator world)."""
    tips: np.ndarray
    """(5, 3) emitted fingertips in the wrist frame, m."""
    engaged_disp: np.ndarray
    """(3,) sum of wrist displacements while engaged (operator world), m."""
    engaged_rot: np.ndarray
    """(3, 3) product of wrist rotations while engaged (operator world)."""
    engaged_tips: np.ndarray
    """(5, 3) sum of fingertip displacements while engaged, in robot-hand units, m."""


@dataclasses.dataclass(frozen=True)
class _Seen:
    """Robot feedback and the time it was observed."""

    t: float
    feedback: RobotFeedback


@dataclasses.dataclass
class _Arm:
    """One hand's mutable state: the intended (noise-free) pose and its history."""

    pos: np.ndarray
    rot: np.ndarray
    q: np.ndarray
    resetting: bool = False
    home_since: float | None = None
    emitted: deque[_Emitted] = dataclasses.field(default_factory=deque)
    seen: deque[_Seen] = dataclasses.field(default_factory=deque)


_Timed = TypeVar("_Timed", _Emitted, _Seen)


def _latest(items: deque[_Timed], t: float, strict: bool = False) -> _Timed | None:
    """The newest entry of a time-ordered deque with time <= t (< t if ``strict``)."""
    found = None
    for item in items:
        if item.t < t - _EPS_T or (not strict and item.t <= t + _EPS_T):
            found = item
        else:
            break
    return found


def _prune(items: deque[_Timed], horizon: float) -> None:
    """Drop entries no lookup can need: keep one at or before ``horizon`` and all after."""
    while len(items) > 2 and items[1].t < horizon:
        items.popleft()


def _clip_norm(v: np.ndarray, limit: float) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v if n <= limit else v * (limit / n)


class IntentFollowingOperator:
    """A :class:`~handitl.intervention.streams.source.ClosedLoopSource` following an intent.

    Call ``observe(t, feedback)`` then ``frame_at(t)`` at every control tick. Counters:
    :attr:`workspace_resets` and :attr:`engage_events` (pedal presses, the first included).
    """

    def __init__(self, profile: OperatorProfile, intent: Intent,
                 config: IntentFollowingConfig | None = None, seed: int | None = None) -> None:  # fmt: skip
        self.profile = profile
        self.intent = intent
        self.config = config or IntentFollowingConfig()
        self.hand = HumanHandModel(profile.hand_scale)
        self._r_or = np.asarray(self.config.operator_to_robot, dtype=float)
        self._home_rot = rotation_from_quat(np.asarray(HOME_WRIST_QUAT))
        self._rng = np.random.default_rng(seed)
        self.reset(seed)

    @property
    def size_ratio(self) -> float:
        """Operator hand length / robot hand length."""
        return self.hand.hand_length / self.config.robot_hand_length

    @property
    def engaged(self) -> bool:
        """Whether the takeover pedal is down (after the last frame)."""
        return self._engaged

    def resetting(self, side: Side) -> bool:
        """Whether ``side`` is on its way back to its home position."""
        return self._arms[side].resetting

    def intended_wrist(self, side: Side) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free intended wrist position (3,) and rotation (3, 3), operator world."""
        arm = self._arms[side]
        return arm.pos.copy(), arm.rot.copy()

    def reset(self, seed: int | None = None) -> None:
        """Back to home with the neutral pose at t = 0, pedal up, counters zero."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._noise = {side: HandNoise.sample(self._rng, self.profile) for side in SIDES}
        ws = self.profile.workspace
        self._arms = {side: _Arm(pos=ws.home_pos(side), rot=self._home_rot.copy(),
                                 q=self.profile.neutral.copy()) for side in self.config.sides}  # fmt: skip
        self._engaged = False
        self._t: float | None = None
        self.workspace_resets = 0
        self.engage_events = 0

    def observe(self, t: float, feedback: Mapping[Side, RobotFeedback]) -> None:
        """Show the operator the robot at time ``t``; it is perceived ``reaction_delay`` later."""
        for side, fb in feedback.items():
            if side in self._arms:
                seen = self._arms[side].seen
                seen.append(_Seen(float(t), fb))
                _prune(seen, t - self.profile.reaction_delay - 1.0)

    def frame_at(self, t: float) -> HumanFrame:
        t = float(t)
        dt = 0.0 if self._t is None else t - self._t
        if dt < 0.0:
            raise ValueError(f"frame_at times must not decrease: {t} after {self._t}")
        t_seen = t - self.profile.reaction_delay
        targets = self.intent(t_seen) if t_seen >= -_EPS_T else {}
        for side, arm in self._arms.items():
            if arm.resetting:
                self._return_home(side, arm, t, dt)
            elif self._engaged and side in targets:
                self._follow(side, arm, targets[side], t_seen, dt)
        self._update_pedal(t)
        return self._emit(t)

    def status(self) -> SourceStatus:
        return SourceStatus()

    def close(self) -> None:
        """Nothing to release."""

    # ----------------------------------------------------------------------------------
    def _follow(self, side: Side, arm: _Arm, target: IntentTarget, t_seen: float, dt: float) -> None:
        """One closed-loop correction step of one hand toward ``target``."""
        seen = _latest(arm.seen, t_seen)
        if seen is None or dt == 0.0:
            return
        t_fb, fb = seen.t, seen.feedback
        # Own motion since the robot state that was seen: it reflects emissions before t_fb.
        last = arm.emitted[-1]
        base = _latest(arm.emitted, t_fb, strict=True) if self.config.predictive else last
        base = base or arm.emitted[0]
        prof, cfg = self.profile, self.config

        if target.palm_pos is not None and np.isfinite(fb.palm_pos).all():
            predicted = fb.palm_pos + self._r_or @ (last.engaged_disp - base.engaged_disp)
            v = self._r_or.T @ (cfg.wrist_gain * (np.asarray(target.palm_pos) - predicted))
            new_pos = arm.pos + _clip_norm(v, prof.max_wrist_speed) * dt
            excess = self.profile.workspace.excess(new_pos, side) + cfg.workspace_margin
            if excess > 0.0:
                self._start_reset(side, arm, new_pos)
                return
            arm.pos = new_pos
        if target.palm_quat is not None and np.isfinite(fb.palm_quat).all():
            moved = last.engaged_rot @ base.engaged_rot.T
            predicted_rot = self._r_or @ moved @ self._r_or.T @ rotation_from_quat(fb.palm_quat)
            err = rotvec_from_rotation(rotation_from_quat(np.asarray(target.palm_quat)) @ predicted_rot.T)
            w = self._r_or.T @ (cfg.rotation_gain * err)
            arm.rot = rotation_from_rotvec(_clip_norm(w, prof.max_wrist_angular_speed) * dt) @ arm.rot
        if target.fingertips_in_palm is not None:
            predicted_tips = fb.fingertips_in_palm + (last.engaged_tips - base.engaged_tips)
            err = np.nan_to_num(np.asarray(target.fingertips_in_palm) - predicted_tips)
            wanted = self.size_ratio * cfg.finger_gain * err * dt  # human fingertips, wrist frame
            jac = self.hand.fingertip_jacobian(arm.q, side).jacobian.reshape(3 * len(FINGERS), NUM_JOINTS)
            lam2 = cfg.jacobian_damping**2
            dq = jac.T @ np.linalg.solve(jac @ jac.T + lam2 * np.eye(len(jac)), wanted.ravel())
            limit = prof.max_finger_speed * dt
            arm.q = self.hand.clip(arm.q + np.clip(dq, -limit, limit))

    def _start_reset(self, side: Side, arm: _Arm, wanted_pos: np.ndarray) -> None:
        """Stop at the workspace's edge, release the pedal and head home."""
        ws = self.profile.workspace
        shoulder = ws.shoulder_pos(side)
        radius = ws.reach - self.config.workspace_margin
        offset = wanted_pos - shoulder
        arm.pos = shoulder + offset * min(1.0, radius / float(np.linalg.norm(offset)))
        arm.resetting = True
        arm.home_since = None
        self.workspace_resets += 1

    def _return_home(self, side: Side, arm: _Arm, t: float, dt: float) -> None:
        home = self.profile.workspace.home_pos(side)
        v = self.config.wrist_gain * (home - arm.pos)
        arm.pos = arm.pos + _clip_norm(v, self.profile.max_wrist_speed) * dt
        if np.linalg.norm(home - arm.pos) < self.config.home_tolerance:
            arm.home_since = t if arm.home_since is None else arm.home_since
            if t - arm.home_since >= self.config.regrip_time - _EPS_T:
                arm.resetting = False

    def _update_pedal(self, t: float) -> None:
        """Pedal up while any hand resets; pressed again once all are home (and after engage_at)."""
        want = t >= self.config.engage_at - _EPS_T and not any(a.resetting for a in self._arms.values())
        if want and not self._engaged:
            self.engage_events += 1
        self._engaged = want

    def _emit(self, t: float) -> HumanFrame:
        hands: dict[Side, HandState | None] = {side: None for side in SIDES}
        tt = np.array([t])
        for side, arm in self._arms.items():
            noise = self._noise[side]
            pos = arm.pos + noise.wrist_offset(tt)[0]
            q = self.hand.clip(arm.q + noise.joint_offset(tt, arm.q[None], self.hand)[0])
            keypoints = self.hand.forward(q, side)
            tips = keypoints[FINGERTIP_INDICES]
            self._record(arm, t, pos, tips)
            hands[side] = HandState(wrist_pos=pos, wrist_quat=quat_from_rotation(arm.rot),
                                    wrist_valid=True, keypoints=keypoints,
                                    valid=np.ones(len(keypoints), bool),
                                    confidence=np.ones(len(keypoints)))  # fmt: skip
        self._t = t
        return HumanFrame(t=t, hands=hands, pedals=PedalState(takeover=self._engaged))

    def _record(self, arm: _Arm, t: float, pos: np.ndarray, tips: np.ndarray) -> None:
        """Append this tick's emission with the running sums (motion counts only when engaged)."""
        if arm.emitted and arm.emitted[-1].t >= t - _EPS_T:
            arm.emitted.pop()  # the same tick asked again: replace, do not double count
        prev = arm.emitted[-1] if arm.emitted else None
        if prev is None:
            entry = _Emitted(t, pos, arm.rot.copy(), tips, np.zeros(3), np.eye(3), np.zeros_like(tips))
        elif self._engaged:
            entry = _Emitted(t, pos, arm.rot.copy(), tips,
                             prev.engaged_disp + (pos - prev.pos),
                             arm.rot @ prev.rot.T @ prev.engaged_rot,
                             prev.engaged_tips + (tips - prev.tips) / self.size_ratio)  # fmt: skip
        else:
            entry = dataclasses.replace(prev, t=t, pos=pos, rot=arm.rot.copy(), tips=tips)
        arm.emitted.append(entry)
        _prune(arm.emitted, t - self.profile.reaction_delay - 1.0)


__all__ = ["Intent", "IntentFollowingConfig", "IntentFollowingOperator", "IntentTarget"]
