"""Intent following: a simulated operator who corrects the robot in closed loop.

The operator is shown an intent (where the robot's palms and fingertips should be, e.g.
a scripted expert run on the scene) and the robot's state, both with their reaction
delay, and moves their own wrists and fingers so that the robot gets there, as a person
watching the robot through a headset would (docs/operators.md):

* Wrist: intended velocity proportional to the (predicted) palm error, mapped into the
  operator world by ``operator_to_robot`` (R: robot vector = R @ operator vector),
  speed-bounded. The palm seen is the commanded one where the feedback has it (a view's
  overlay of the command): contact can stop the real palm short of it, and servoing the
  real palm then winds up an offset. The robot follows the wrist's motion while the
  takeover pedal is down (relative arm shared control, HandITL §3.4).
* Fingers: a learned feed-forward (own fingertips where, by the two hands' correspondence
  at the first press, the robot's land on the intended ones) plus a bounded visual
  correction of the remaining fingertip error; a finger seen resting on an object is
  corrected by sight at most ``squeeze_depth`` past where it touched (the squeeze of a
  grasp, without winding up). Own fingertips are reached through the human hand model's
  fingertip Jacobian with damped least squares, speed- and limit-bounded.
* Engage: before the first press the operator shapes their hand like the robot's (where
  the robot hand has the human hand's joints) and presses once it matches.
* Delay: the operator sees the intent and the robot as they were ``reaction_delay`` ago.
  Like people (an internal forward model), they predict the robot's present state from
  the delayed view plus their own motion since (the robot follows relative motion only
  while the pedal is down); ``predictive=False`` turns this off.
* Workspace: if the intended wrist would leave the arm's comfortable sphere, the operator
  releases the pedal, brings that wrist back to its home position, and presses the pedal
  again (a *workspace reset*, counted, HandITL §4.3).
* Tremor, drift and tracker noise of the profile are added to what is emitted; the
  robot's response to tremor and drift is seen and corrected like any other error, and
  tracker noise is not part of the hand's own motion.
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
    """Fraction of the seen fingertip error added to the visual correction per second, 1/s."""
    max_finger_correction: float = 0.05
    """Bound on each fingertip's visual correction, m (robot hand units)."""
    squeeze_depth: float = 0.012
    """How far past the point where a finger touched an object the operator keeps pushing
    it by sight, m (robot hand units): the squeeze of a grasp."""
    finger_tracking_gain: float = 15.0
    """How fast the operator's own fingertips reach where they intend them, 1/s
    (proprioception: no reaction delay; bounded by the profile's finger speed)."""
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
    mirror_before_engage: bool = True
    """Before the first press, shape one's hand like the robot's (as seen) and press only
    once it matches (within ``mirror_tolerance``, at most ``mirror_timeout`` late): a
    person takes over with the robot's gesture, leaving their fingers' range for the task
    (engaged from a curled rest, a relative mapping cannot curl the robot's flat fingers
    fully). Only for robot hands with the human model's joints (the procedural hand)."""
    mirror_tolerance: float = 0.05
    """Largest joint difference, rad, at which the hand counts as mirroring the robot's."""
    mirror_timeout: float = 1.0
    """Press the pedal at ``engage_at`` + this at the latest, mirrored or not, s."""
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
    mirrored: bool = False
    """The fingers match the robot's as last seen (before the first press)."""
    tip_offset: np.ndarray | None = None
    """(5, 3) own fingertips (wrist frame) minus the robot's, scaled to the operator's hand,
    at the first closed-loop step: the operator's learned hand-to-robot correspondence."""
    tip_correction: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((5, 3)))
    """(5, 3) visual correction of the intended robot fingertips, robot palm frame, m."""
    touch_correction: np.ndarray = dataclasses.field(default_factory=lambda: np.full((5, 3), np.nan))
    """(5, 3) the correction when each finger was first seen touching an object (NaN: free)."""
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


def _clip_rows(v: np.ndarray, limit: float) -> np.ndarray:
    """Each row of ``v`` shortened to norm ``limit`` at most."""
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v * np.minimum(1.0, limit / np.maximum(norms, 1e-12))


def _damped_step(jac: np.ndarray, move: np.ndarray, damping: float) -> np.ndarray:
    """Damped least-squares joint step making ``jac @ dq`` approach ``move``."""
    return jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(len(jac)), move)


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
            elif not self._engaged and self.engage_events == 0:
                # At the first frame the hand is already shaped (prepared before the
                # episode began, from the robot as it is now); later, by sight.
                first = self._t is None
                self._mirror(arm, t if first else t_seen, dt, instant=first)
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

        # The palm is servoed on its command where the view shows it (a ghost overlay):
        # contact may stop the robot's palm short of its command (fingers on the table),
        # and a servo on the real palm would push on, winding up an offset that lags the
        # next move.
        palm_pos, palm_quat = fb.palm_command if fb.palm_command is not None else (fb.palm_pos, fb.palm_quat)
        if target.palm_pos is not None and np.isfinite(palm_pos).all():
            predicted = palm_pos + self._r_or @ (last.engaged_disp - base.engaged_disp)
            v = self._r_or.T @ (cfg.wrist_gain * (np.asarray(target.palm_pos) - predicted))
            new_pos = arm.pos + _clip_norm(v, prof.max_wrist_speed) * dt
            excess = self.profile.workspace.excess(new_pos, side) + cfg.workspace_margin
            if excess > 0.0:
                self._start_reset(side, arm, new_pos)
                return
            arm.pos = new_pos
        if target.palm_quat is not None and np.isfinite(palm_quat).all():
            moved = last.engaged_rot @ base.engaged_rot.T
            predicted_rot = self._r_or @ moved @ self._r_or.T @ rotation_from_quat(palm_quat)
            err = rotvec_from_rotation(rotation_from_quat(np.asarray(target.palm_quat)) @ predicted_rot.T)
            w = self._r_or.T @ (cfg.rotation_gain * err)
            arm.rot = rotation_from_rotvec(_clip_norm(w, prof.max_wrist_angular_speed) * dt) @ arm.rot
        if target.fingertips_in_palm is not None:
            self._shape_fingers(side, arm, np.asarray(target.fingertips_in_palm, dtype=float),
                                fb.fingertips_in_palm, fb.fingertip_contact,
                                last.engaged_tips - base.engaged_tips, base, dt)  # fmt: skip

    def _shape_fingers(self, side: Side, arm: _Arm, target: np.ndarray, seen_tips: np.ndarray,
                       contact: np.ndarray | None, own_since: np.ndarray, base: _Emitted,
                       dt: float) -> None:  # fmt: skip
        """Fingers: a learned feed-forward plus a visual correction that does not wind up.

        The operator shapes their own hand where, from experience, the robot's fingertips
        land on the intended ones (own tip = offset + size ratio x (robot tip wanted); the
        offset is the two hands' correspondence at the first closed-loop step), and
        corrects what they see remain: the error between the intended fingertips and the
        robot's (predicted from the delayed view plus their own motion since) accumulates
        into a per-finger correction, bounded by ``max_finger_correction``. A finger seen
        resting on an object is pushed by sight at most ``squeeze_depth`` past where it
        touched: the object blocks it, and an integrator would close the hand without end
        (the thumb folds into the palm and the pinch is lost). ``target``/``seen_tips``
        (5, 3) in the robot palm frame; NaN rows (an absent finger, no wish) hold.
        """
        cfg, ratio = self.config, self.size_ratio
        wish = np.isfinite(target).all(axis=1) & np.isfinite(seen_tips).all(axis=1)
        if arm.tip_offset is None:
            arm.tip_offset = base.tips - ratio * np.nan_to_num(seen_tips)
        err = np.where(wish[:, None], target - (seen_tips + own_since), 0.0)
        corr = _clip_rows(arm.tip_correction + cfg.finger_gain * err * dt, cfg.max_finger_correction)
        if contact is not None:
            new = contact & ~np.isfinite(arm.touch_correction).all(axis=1)
            arm.touch_correction[new] = arm.tip_correction[new]
            arm.touch_correction[~contact] = np.nan
            squeezed = arm.touch_correction + _clip_rows(corr - arm.touch_correction, cfg.squeeze_depth)
            corr = np.where(contact[:, None], squeezed, corr)
        arm.tip_correction = corr
        own = self.hand.forward(arm.q, side)[FINGERTIP_INDICES]
        wanted = arm.tip_offset + ratio * (np.nan_to_num(target) + arm.tip_correction)
        move = np.where(wish[:, None], wanted - own, 0.0) * min(1.0, cfg.finger_tracking_gain * dt)
        jac = self.hand.fingertip_jacobian(arm.q, side).jacobian.reshape(3 * len(FINGERS), NUM_JOINTS)
        dq = _damped_step(jac, move.ravel(), cfg.jacobian_damping)
        # Joints at a limit that the step pushes further cannot help: solve again without them.
        at_lower, at_upper = arm.q <= self.hand.lower + 1e-9, arm.q >= self.hand.upper - 1e-9
        stuck = (at_lower & (dq < 0.0)) | (at_upper & (dq > 0.0))
        if stuck.any():
            dq = _damped_step(jac * ~stuck, move.ravel(), cfg.jacobian_damping)
        limit = self.profile.max_finger_speed * dt
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

    def _mirror(self, arm: _Arm, t_seen: float, dt: float, instant: bool = False) -> None:
        """Before the first press: move one's fingers toward the robot hand's seen joints
        (``instant``: already there, the hand shaped before the episode began)."""
        seen = _latest(arm.seen, t_seen)
        if seen is None:
            arm.mirrored = not self.config.mirror_before_engage
            return
        arm.mirrored = True
        if not self.config.mirror_before_engage or len(seen.feedback.hand_qpos) != NUM_JOINTS:
            return
        goal = self.hand.clip(np.asarray(seen.feedback.hand_qpos, dtype=float))
        limit = self.profile.max_finger_speed * dt
        arm.q = goal.copy() if instant else arm.q + np.clip(goal - arm.q, -limit, limit)
        arm.mirrored = float(np.max(np.abs(goal - arm.q))) <= self.config.mirror_tolerance

    def _update_pedal(self, t: float) -> None:
        """Pedal up while any hand resets; pressed again once all are home (and after engage_at).
        The first press waits for the hands to mirror the robot's (``mirror_before_engage``)."""
        cfg = self.config
        want = t >= cfg.engage_at - _EPS_T and not any(a.resetting for a in self._arms.values())
        if want and self.engage_events == 0 and t < cfg.engage_at + cfg.mirror_timeout - _EPS_T:
            want = all(a.mirrored for a in self._arms.values())
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
            self._record(arm, t, pos, tips)  # the hand's own motion, without the tracker's noise
            tracked_pos, tracked = noise.tracked(tt, pos[None], keypoints[None])
            pos, keypoints = tracked_pos[0], tracked[0]
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
