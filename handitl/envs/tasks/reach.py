"""``HandITL/Reach-v0``: bring both palms to goal points above the table and hold.

A simple task that exercises the whole stack (arms, hands, IK, rewards) until the
manipulation tasks land.

* Action: any :class:`~handitl.envs.actions.ActionMode`.
* Task state (6): left goal xyz, right goal xyz (world frame, m).
* Reward terms: ``reach_left``, ``reach_right`` in [0, 1] (dm_control tolerance of the
  palm-goal distance: 1 within ``tolerance``, long-tail decay over ``margin``), and
  ``hands_open`` in [0, 0.1] for keeping the fingers relaxed.
* Stages: ``left_reached``, ``right_reached``, ``held`` (both within tolerance for
  ``hold_steps`` consecutive control steps). Success = ``held``.
* Version history: v0, first release.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from handitl.assets.hand_description import SIDES, Side
from handitl.assets.scene import SceneDescription
from handitl.envs.rewards import tolerance
from handitl.envs.robot import RobotBindings
from handitl.envs.tasks.base import Task, TaskStatus


@dataclasses.dataclass(frozen=True)
class ReachConfig:
    """Goal sampling and scoring (world frame, m)."""

    goal_low: tuple[float, float, float] = (0.35, 0.12, 0.15)
    """Lower corner of the right goal box; the left box is its mirror image (y negated)."""
    goal_high: tuple[float, float, float] = (0.6, 0.4, 0.4)
    tolerance: float = 0.02
    """Palm-goal distance counted as reached."""
    margin: float = 0.3
    """Distance over which the reach reward decays to 0.1."""
    hold_steps: int = 10
    """Consecutive control steps with both palms within tolerance for success."""


class Reach(Task):
    name = "Reach"

    def __init__(self, config: ReachConfig | None = None) -> None:
        self.config = config or ReachConfig()
        self._goal_sites: dict[Side, int] = {}
        self._held = 0
        self._distance = [math.inf, math.inf]

    def build(self, spec: mujoco.MjSpec, scene: SceneDescription) -> None:
        for side in Side:
            goal = spec.worldbody.add_body(name=f"reach_goal_{side.value}", mocap=True)
            goal.add_site(name=f"reach_goal_{side.value}", size=[0.015, 0, 0],
                          rgba=[0.1, 0.8, 0.2, 0.5], group=2)  # fmt: skip

    def bind(self, model: mujoco.MjModel, robot: RobotBindings) -> None:
        self._goal_sites = {s: model.site(f"reach_goal_{s.value}").id for s in Side}
        self._hand_qpos = np.concatenate([h.qpos_idx for h in robot.hands.values()])
        # Rows: left palm, right palm, left goal, right goal (one gather per query).
        self._site_rows = np.array([robot.hands[s].palm_site for s in SIDES]
                                   + [self._goal_sites[s] for s in SIDES])  # fmt: skip
        self._goal_mocap = {s: model.body(f"reach_goal_{s.value}").mocapid[0] for s in Side}

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        lo, hi = np.array(self.config.goal_low), np.array(self.config.goal_high)
        data.mocap_pos[self._goal_mocap[Side.RIGHT]] = rng.uniform(lo, hi) * [1.0, -1.0, 1.0]
        data.mocap_pos[self._goal_mocap[Side.LEFT]] = rng.uniform(lo, hi)
        self._initial_conditions = {
            f"{side.value}_goal_{axis}_m": float(value)
            for side in SIDES
            for axis, value in zip("xyz", data.mocap_pos[self._goal_mocap[side]])
        }
        self._held = 0

    @property
    def state_size(self) -> int:
        return 6

    def goals(self, data: mujoco.MjData) -> dict[Side, np.ndarray]:
        return {s: data.site_xpos[i].copy() for s, i in self._goal_sites.items()}

    def state(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        return data.site_xpos[self._site_rows[2:]].ravel()

    def update(self, model: mujoco.MjModel, data: mujoco.MjData, *, reset: bool = False) -> None:
        xpos = data.site_xpos[self._site_rows]
        # Palm-goal distances (left, right), m; reward() and evaluate() read this cache.
        self._distance = np.sqrt(((xpos[:2] - xpos[2:]) ** 2).sum(axis=1)).tolist()
        both = max(self._distance) <= self.config.tolerance
        self._held = self._held + 1 if both and not reset else 0

    def reward(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        c = self.config
        left, right = self._distance
        flex = float(np.abs(data.qpos[self._hand_qpos]).sum()) / len(self._hand_qpos)
        return {
            "reach_left": tolerance(left, 0.0, c.tolerance, margin=c.margin, sigmoid="long_tail"),
            "reach_right": tolerance(right, 0.0, c.tolerance, margin=c.margin, sigmoid="long_tail"),
            "hands_open": 0.1 * tolerance(flex, 0.0, 0.3, margin=1.0),
        }

    def evaluate(self, model: mujoco.MjModel, data: mujoco.MjData) -> TaskStatus:
        left, right = self._distance
        held = self._held >= self.config.hold_steps
        stages = {"left_reached": left <= self.config.tolerance,
                  "right_reached": right <= self.config.tolerance, "held": held}  # fmt: skip
        return TaskStatus(stages=stages, success=held)
