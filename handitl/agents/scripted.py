"""Scripted experts that read only observations (so they also drive vector envs)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from handitl.assets.hand_description import Side
from handitl.envs.actions import ActionLayout, ActionMode
from handitl.envs.rotations import rotvec_from_quat


class HoldPolicy:
    """Keeps the palms and hands where they were at the first observation."""

    def __init__(self, layout: ActionLayout) -> None:
        if layout.mode is ActionMode.JOINT:
            raise ValueError("HoldPolicy needs an end-effector action mode")
        self._layout = layout
        self._action: np.ndarray | None = None

    def reset(self) -> None:
        self._action = None

    def __call__(self, observation: dict[str, Any]) -> np.ndarray:
        if self._action is None:
            self._action = _pose_action(self._layout, observation)
        return self._action.copy()


class ReachExpert:
    """Moves both palms to the Reach goals (task_state), keeping their orientation, and
    waves the fingers closed and open once there (a visible check of the hand servos).

    Args:
        layout: the env's action layout (an end-effector mode).
        max_speed: palm speed limit of the approach, m/s.
        grip_period: period of the finger wave, s (0 keeps the hands open).
        control_dt: the env's control period, s.
    """

    def __init__(self, layout: ActionLayout, max_speed: float = 0.25, grip_period: float = 2.0,
                 control_dt: float = 0.02) -> None:  # fmt: skip
        if layout.mode is ActionMode.JOINT:
            raise ValueError("ReachExpert needs an end-effector action mode")
        self._layout = layout
        self._max_step = max_speed * control_dt
        self._grip_period = grip_period
        self._dt = control_dt
        self.reset()

    def reset(self) -> None:
        self._start: np.ndarray | None = None
        self._targets: dict[Side, np.ndarray] = {}
        self._time_at_goal = 0.0

    def __call__(self, observation: dict[str, Any]) -> np.ndarray:
        if self._start is None:
            self._start = _pose_action(self._layout, observation)
            self._targets = {s: observation["palm_pos"][i].copy() for i, s in enumerate(Side)}
        action = self._start.copy()
        goals = np.asarray(observation["task_state"]).reshape(2, 3)
        at_goal = True
        for i, side in enumerate(Side):
            # Walk the commanded point toward the goal at max_speed (a smooth approach).
            delta = goals[i] - self._targets[side]
            distance = float(np.linalg.norm(delta))
            if distance > self._max_step:
                self._targets[side] = self._targets[side] + delta * (self._max_step / distance)
                at_goal = False
            else:
                self._targets[side] = goals[i].copy()
            action[self._layout.slice(f"{side.value}/pos")] = self._targets[side]
        if at_goal and self._grip_period > 0:
            self._time_at_goal += self._dt
            closure = 0.5 * (1.0 - math.cos(2.0 * math.pi * self._time_at_goal / self._grip_period))
            for side in Side:
                sl = self._layout.slice(f"{side.value}/hand")
                action[sl] = closure * 0.6 * self._layout.space.high[sl]
        return action


def _pose_action(layout: ActionLayout, observation: dict[str, Any]) -> np.ndarray:
    """An action holding the observed palm poses and hand joint angles."""
    action = np.zeros(layout.size)
    for i, side in enumerate(Side):
        action[layout.slice(f"{side.value}/pos")] = observation["palm_pos"][i]
        action[layout.slice(f"{side.value}/rotvec")] = rotvec_from_quat(observation["palm_quat"][i])
        action[layout.slice(f"{side.value}/hand")] = observation["hand_qpos"][i]
    return np.clip(action, layout.space.low, layout.space.high)
