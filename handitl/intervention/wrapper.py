"""``InterventionWrapper``: a human corrects a running policy (paper sections 3.2-3.4).

Each ``step(policy_action)``:

1. shows a closed-loop source the robot state (simulated operators), then reads the
   human frame for this tick from the injected :class:`HumanSource`;
2. asks the injected :class:`ModeSwitch` for the mode; on each engage it re-anchors the
   hand retargeters (human frame and the executed hand command at t0) and the arm
   mappings (robot palm pose and human wrist pose at t0);
3. fuses the policy action and the human input into the executed action::

       AUTONOMOUS  a_exec = a_policy
       TAKEOVER    hands: retargeted human hands; arms: anchored relative wrist mapping
       COPILOT     hands: q_policy + beta_h (q_retarget - q_retarget(t0));
                   arms: policy pose (+) beta_a * decaying velocity residual (Eq. 3-5),
                   feed-forward twist: the policy's + beta_a * the residual twist

4. steps the env with it, and reports an :class:`InterventionRecord` in
   ``info["intervention"]``; the injected recorder (if any) stores the step.

It never changes reward or termination and never resets the env by itself. When the
stream is stale or a hand is untracked during intervention, the affected commands hold
their last executed values. The policy must use an end-effector action mode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from handitl.assets.hand_description import SIDES, Side
from handitl.envs.actions import ActionMode
from handitl.envs.bimanual_env import BimanualEnv
from handitl.envs.rotations import quat_from_rotvec, rotvec_from_quat
from handitl.intervention.modes import Mode, ModeSwitch
from handitl.intervention.shared_control import (
    AnchoredWristMapping,
    SharedControlConfig,
    VelocityResidual,  # fmt: skip
)
from handitl.intervention.streams.frame import HandState, HumanFrame
from handitl.intervention.streams.source import ClosedLoopSource, HumanSource, RobotFeedback
from handitl.retarget.base import Retargeter


@dataclasses.dataclass(frozen=True)
class InterventionConfig:
    """How human input is fused with the policy's."""

    hand_authority: float = 1.0
    """beta_h: weight of the human's hand residual in copilot mode."""
    shared_control: SharedControlConfig = SharedControlConfig()
    """Arm residual (copilot) and anchored mapping (takeover) settings."""
    sides: tuple[Side, ...] = SIDES
    """Sides the human controls (others always follow the policy)."""


@dataclasses.dataclass(frozen=True)
class InterventionRecord:
    """What the wrapper did this step (``info["intervention"]``).

    Attributes:
        mode: the mode executed this step.
        policy_action: the action the policy proposed.
        executed_action: the action sent to the env.
        human_time: the human frame's timestamp (s), None without a frame.
        engaged: the human took over (or switched mode) at this step.
        disengaged: the human released at this step.
        engage_jump: per side, |q_hand_exec(t0+) - q_hand_exec(t0-)| (rad, L2) at the most
            recent engage: the gesture jump of the method.
        stale: the stream reported stale (commands held).
        held: per side, the retargeter held its last command (bad or missing hand).
    """

    mode: Mode
    policy_action: np.ndarray
    executed_action: np.ndarray
    human_time: float | None
    engaged: bool
    disengaged: bool
    engage_jump: dict[Side, float]
    stale: bool
    held: dict[Side, bool]


class InterventionWrapper(gym.Wrapper):
    """Fuses a human stream into a policy's actions; see the module docstring.

    Args:
        env: a (possibly wrapped) :class:`BimanualEnv` in an end-effector action mode.
        source: the human stream (recorded, scripted, closed-loop or live).
        retargeters: one hand retargeter per controlled side (any method).
        modes: what switches between autonomous, takeover and copilot.
        config: fusion settings.
        recorder: optional sink for every step (see :mod:`handitl.intervention.recorder`).
    """

    def __init__(self, env: gym.Env, source: HumanSource, retargeters: Mapping[Side, Retargeter],
                 modes: ModeSwitch, config: InterventionConfig | None = None,
                 recorder: Any = None) -> None:  # fmt: skip
        super().__init__(env)
        base = env.unwrapped
        if not isinstance(base, BimanualEnv):
            raise TypeError(f"InterventionWrapper needs a BimanualEnv, got {type(base).__name__}")
        if base.layout.mode is ActionMode.JOINT:
            raise ValueError("InterventionWrapper needs an end-effector action mode (ee_pose or "
                             "ee_pose_twist); the arms are corrected in task space")  # fmt: skip
        self.config = config or InterventionConfig()
        missing = [s.value for s in self.config.sides if s not in retargeters]
        if missing:
            raise ValueError(f"no retargeter for the controlled side(s) {missing}")
        self.base = base
        self.source = source
        # isinstance on a runtime-checkable Protocol costs ~30 us: decided once, not per step.
        self._closed_loop = isinstance(source, ClosedLoopSource)
        self.retargeters = dict(retargeters)
        self.modes = modes
        self.recorder = recorder
        dt = base.control_dt
        self._residuals = {s: VelocityResidual(dt, self.config.shared_control) for s in SIDES}
        self._anchors = {s: AnchoredWristMapping(self.config.shared_control) for s in SIDES}
        self._layout = base.layout
        self._has_twist = base.layout.mode is ActionMode.EE_POSE_TWIST
        self._mode = Mode.AUTONOMOUS
        self._last_executed: np.ndarray | None = None
        self._hand_anchor: dict[Side, np.ndarray] = {}
        self._retarget_anchor: dict[Side, np.ndarray] = {}
        self._engage_jump = {s: 0.0 for s in SIDES}
        self._pending_jump = False

    # --- gymnasium API ------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.source.reset(seed)
        self.modes.reset()
        for side in SIDES:
            self._residuals[side].reset()
        self._anchors = {s: AnchoredWristMapping(self.config.shared_control) for s in SIDES}
        self._mode = Mode.AUTONOMOUS
        self._last_executed = None
        self._engage_jump = {s: 0.0 for s in SIDES}
        self._pending_jump = False
        if self.recorder is not None:
            self.recorder.begin_episode(seed=seed, observation=obs)
        return obs, info

    def step(self, policy_action: Any):
        policy_action = np.asarray(policy_action, dtype=np.float64)
        t = float(self.base.data.time)
        if self._closed_loop:
            self.source.observe(t, self._feedback())
        frame = self.source.frame_at(t)
        stale = self.source.status().stale
        mode = self.modes.mode(t, frame)
        engaged, disengaged = self._switch(mode, frame, policy_action)
        executed, held = self._fuse(policy_action, frame, stale)
        if engaged:
            self._record_jump(executed, policy_action)
        obs, reward, terminated, truncated, info = self.env.step(executed)
        self._last_executed = executed
        record = InterventionRecord(
            mode=self._mode, policy_action=policy_action, executed_action=executed,
            human_time=None if frame is None else frame.t, engaged=engaged, disengaged=disengaged,
            engage_jump=dict(self._engage_jump), stale=stale, held=held,
        )  # fmt: skip
        info["intervention"] = record
        if self.recorder is not None:
            self.recorder.add_step(observation=obs, record=record, frame=frame, reward=reward,
                                   terminated=terminated, truncated=truncated)  # fmt: skip
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        self.source.close()
        super().close()

    # --- mode switching --------------------------------------------------------------------------

    def _switch(self, mode: Mode, frame: HumanFrame | None, policy_action: np.ndarray) -> tuple[bool, bool]:
        previous = self._mode
        if mode == previous:
            return False, False
        self._mode = mode
        disengaged = previous is not Mode.AUTONOMOUS
        engaged = mode is not Mode.AUTONOMOUS
        if engaged:
            self._engage(frame, policy_action)
        return engaged, disengaged

    def _engage(self, frame: HumanFrame | None, policy_action: np.ndarray) -> None:
        """Re-anchor every mapping at t0 on the current human frame and robot command."""
        before = self._last_executed if self._last_executed is not None else policy_action
        for side in self.config.sides:
            hand_slice = self._layout.slice(f"{side.value}/hand")
            q0 = before[hand_slice].copy()
            self._hand_anchor[side] = q0
            self._residuals[side].reset()
            hand = None if frame is None else frame.hands[side]
            if hand is not None and _usable(hand):
                self.retargeters[side].reset(hand, q0)
                self._retarget_anchor[side] = q0
            else:
                self._retarget_anchor.pop(side, None)
            pos, quat = self.base.palm_pose(side)
            if hand is not None and hand.wrist_valid:
                self._anchors[side].reset(pos, quat, hand.wrist_pos, hand.wrist_quat)
            else:
                self._anchors[side] = AnchoredWristMapping(self.config.shared_control)
        self._pending_jump = True

    def _record_jump(self, executed: np.ndarray, policy_action: np.ndarray) -> None:
        before = self._last_executed if self._last_executed is not None else policy_action
        for side in self.config.sides:
            sl = self._layout.slice(f"{side.value}/hand")
            self._engage_jump[side] = float(np.linalg.norm(executed[sl] - before[sl]))

    # --- fusion ------------------------------------------------------------------------------------

    def _fuse(self, policy: np.ndarray, frame: HumanFrame | None, stale: bool) -> tuple[np.ndarray, dict]:
        executed = policy.copy()
        held = {side: False for side in SIDES}
        if self._mode is Mode.AUTONOMOUS:
            return executed, held
        previous = self._last_executed if self._last_executed is not None else policy
        for side in self.config.sides:
            hand = None if frame is None else frame.hands[side]
            if stale:
                self._hold_side(executed, previous, side)
                held[side] = True
                continue
            held[side] = self._fuse_hand(executed, policy, previous, side, hand)
            self._fuse_arm(executed, policy, previous, side, hand)
        return executed, held

    def _hold_side(self, executed: np.ndarray, previous: np.ndarray, side: Side) -> None:
        for part in ("pos", "rotvec", "hand"):
            sl = self._layout.slice(f"{side.value}/{part}")
            executed[sl] = previous[sl]
        if self._has_twist:
            executed[self._layout.slice(f"{side.value}/twist")] = 0.0

    def _fuse_hand(self, executed: np.ndarray, policy: np.ndarray, previous: np.ndarray, side: Side,
                   hand: HandState | None) -> bool:  # fmt: skip
        sl = self._layout.slice(f"{side.value}/hand")
        retargeter = self.retargeters[side]
        if hand is None or side not in self._retarget_anchor:
            if hand is not None and _usable(hand):  # the hand became trackable: anchor now
                q0 = previous[sl].copy()
                retargeter.reset(hand, q0)
                self._retarget_anchor[side] = q0
            executed[sl] = previous[sl] if self._mode is Mode.TAKEOVER else policy[sl]
            return True
        result = retargeter.retarget(hand)
        if self._mode is Mode.TAKEOVER:
            executed[sl] = result.q
        else:
            residual = result.q - self._retarget_anchor[side]
            executed[sl] = policy[sl] + self.config.hand_authority * residual
        return result.held

    def _fuse_arm(self, executed: np.ndarray, policy: np.ndarray, previous: np.ndarray, side: Side,
                  hand: HandState | None) -> None:  # fmt: skip
        pos_sl = self._layout.slice(f"{side.value}/pos")
        rot_sl = self._layout.slice(f"{side.value}/rotvec")
        wrist = (hand.wrist_pos, hand.wrist_quat) if hand is not None and hand.wrist_valid else None
        if self._mode is Mode.TAKEOVER:
            anchor = self._anchors[side]
            if wrist is None or not anchor.anchored:
                executed[pos_sl], executed[rot_sl] = previous[pos_sl], previous[rot_sl]
            else:
                pos, quat = anchor.target(*wrist)
                executed[pos_sl], executed[rot_sl] = pos, rotvec_from_quat(quat)
            if self._has_twist:
                executed[self._layout.slice(f"{side.value}/twist")] = 0.0
            return
        residual = self._residuals[side]
        residual.update(*(wrist if wrist is not None else (None, None)))
        pos, quat = residual.apply(policy[pos_sl], quat_from_rotvec(policy[rot_sl]))
        executed[pos_sl], executed[rot_sl] = pos, rotvec_from_quat(quat)
        if self._has_twist:
            tw = self._layout.slice(f"{side.value}/twist")
            executed[tw] = policy[tw] + self.config.shared_control.authority * residual.twist

    def _palm_command(self, action: np.ndarray, side: Side) -> tuple[np.ndarray, np.ndarray]:
        """The palm pose (position, quaternion) ``action`` commands for ``side``."""
        lay = self._layout
        pos, rotvec = action[lay.slice(f"{side.value}/pos")], action[lay.slice(f"{side.value}/rotvec")]
        return pos.copy(), quat_from_rotvec(rotvec)

    def _feedback(self) -> dict[Side, RobotFeedback]:
        out = {}
        # A simulated env knows its contacts; a real robot's feedback has none.
        contacts = getattr(self.base, "fingertip_contacts", None)
        # The commanded palm (the last executed action) where actions are palm poses.
        last = self._last_executed if self._layout.mode is not ActionMode.JOINT else None
        for side in SIDES:
            pos, quat = self.base.palm_pose(side)
            hand = self.base.robot.hands[side]
            d = self.base.data
            R = d.site_xmat[hand.palm_site].reshape(3, 3)
            tips = np.full((5, 3), np.nan)
            present = [k for k, s in enumerate(hand.description.fingertip_sites) if s is not None]
            tips[present] = (d.site_xpos[hand.fingertip_sites] - pos) @ R
            out[side] = RobotFeedback(side=side, palm_pos=pos, palm_quat=quat,
                                      fingertips_in_palm=tips, hand_qpos=d.qpos[hand.qpos_idx].copy(),
                                      fingertip_contact=contacts(side) if contacts else None,
                                      palm_command=None if last is None
                                      else self._palm_command(last, side))  # fmt: skip
        return out


def _usable(hand: HandState) -> bool:
    return bool(hand.valid[0]) and hand.num_valid >= 6
