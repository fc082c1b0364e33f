"""Scripted expert for ``PickUpDrill``: wrap the handle, lift, pull the trigger.

The right hand takes the pistol handle like a person does: palm on the handle's right
side, thumb up along the handle's back, fingers wrapped horizontally round its front
with the index finger uppermost, its proximal phalanx level with the trigger. The palm
frame is set from the drill's frame (palm normal along the drill's +y, fingers along its
+x, thumb up), turned about the handle's axis so the fingertips curl round the front.
The hand approaches from behind along the fingers' direction with the thumb abducted and
the index straight, closes the thumb, middle, ring and little fingers a little past
their contact angles (the servos' pressure holds the drill), lifts with minimum-jerk
timing, and only then flexes the index past contact to pull the trigger (closing it with
the others would pre-press the trigger during the grasp, physics_notes.md). The grasp
angles were found by closing each finger on the handle until contact. The left arm stays
at its start pose.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from handitl.agents.experts.base import ScriptedExpert, Segment, SideTarget
from handitl.assets.props import drill as dp
from handitl.envs.bimanual_env import BimanualEnv
from handitl.envs.rotations import quat_from_mat
from handitl.envs.tasks.drill import PickUpDrill


def _rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclasses.dataclass(frozen=True)
class PickUpDrillExpertConfig:
    """Hand angles (rad, by joint name without side prefix), offsets (m, palm frame:
    +x palm normal, +y thumb, +z fingers) and timings (s)."""

    contact: tuple[tuple[str, float], ...] = (
        ("thumb_cmc_abd", 1.3), ("thumb_cmc_flex", -0.353), ("thumb_mcp_flex", 0.621),
        ("thumb_ip", 0.80),
        ("index_mcp", 0.265), ("index_pip", 1.60), ("index_dip", 1.20),
        ("middle_mcp", 1.00), ("middle_pip", 1.57), ("middle_dip", 1.17),
        ("ring_mcp", 0.635), ("ring_pip", 1.55), ("ring_dip", 1.153),
        ("little_mcp", 0.345), ("little_pip", 1.285), ("little_dip", 0.903),
    )  # fmt: skip
    """Angles at which each finger touches the handle (thumb round its back)."""
    pregrasp: tuple[tuple[str, float], ...] = (
        ("thumb_cmc_abd", 1.3), ("thumb_cmc_flex", -0.5), ("index_mcp", -0.2),
    )  # fmt: skip
    """Open hand for the approach: thumb abducted clear of the handle's back, index straight."""
    squeeze: float = 0.25
    """Extra flexion past contact on the middle, ring and little fingers and thumb IP/MCP."""
    thumb_squeeze: float = 0.6
    """Extra thumb CMC flexion past contact (presses the thumb against the handle's back)."""
    index_hold: float = -0.15
    """Index offset from its contact angles while grasping and lifting (clear of the trigger)."""
    index_pull: float = 1.0
    """Index MCP flexion past contact that pulls the trigger to ~95 % of its travel."""
    handle_in_palm: tuple[float, float] = (0.034, 0.075)
    """Handle centre in the palm frame (x: palmar, z: along the fingers) at the grasp."""
    roll: float = 0.25
    """Turn of the palm about the handle's axis (drill z) from the side-on pose, rad."""
    approach: float = 0.12
    """Distance behind the grasp pose (against the fingers' direction) to start from."""
    pre_height: float = 0.12
    """Extra height of the pre-grasp pose, m."""
    clearance: float = 0.08
    """Height the palm first rises above its start (or the pre-grasp, if higher), m."""
    lift: float = 0.15
    """Height the palm rises, m (the task needs 0.10)."""
    hold_s: float = 0.8
    """Time to keep the trigger pulled, s (the task needs 0.5)."""


class PickUpDrillExpert(ScriptedExpert):
    """Plays the drill plan (see the module docstring); the right hand does the task."""

    def __init__(self, env: BimanualEnv, config: PickUpDrillExpertConfig | None = None) -> None:
        super().__init__(env)
        task = env.task
        if not isinstance(task, PickUpDrill):
            raise TypeError(f"PickUpDrillExpert needs a PickUpDrill task, got {type(task).__name__}")
        self.task: PickUpDrill = task
        self.config = config or PickUpDrillExpertConfig()
        self.side = task.config.side
        self._hand = env.robot.hands[self.side]
        self._names = [n.split("/")[-1] for n in self._hand.description.joint_names]

    def _pose(self, angles: tuple[tuple[str, float], ...]) -> np.ndarray:
        q = np.zeros(len(self._names))
        for name, value in angles:
            q[self._names.index(name)] = value
        return q

    def _offset(self, q: np.ndarray, joints: tuple[str, ...], delta: float) -> np.ndarray:
        q = q.copy()
        for name in joints:
            q[self._names.index(name)] += delta
        return q

    def hand_poses(self) -> dict[str, np.ndarray]:
        """Hand targets (description order, rad) of the plan's phases: ``open``,
        ``grasp`` (thumb and three fingers squeezed, index just clear of the trigger)
        and ``pull`` (index flexed past contact)."""
        c = self.config
        contact = self._pose(c.contact)
        grasp = self._offset(contact, ("middle_mcp", "middle_pip", "middle_dip", "ring_mcp",
                                       "ring_pip", "ring_dip", "little_mcp", "little_pip",
                                       "little_dip", "thumb_mcp_flex", "thumb_ip"), c.squeeze)  # fmt: skip
        grasp = self._offset(grasp, ("thumb_cmc_flex",), c.thumb_squeeze)
        grasp = self._offset(grasp, ("index_mcp",), c.index_hold)
        pull = self._offset(grasp, ("index_mcp",), c.index_pull - c.index_hold)
        return {"open": self._pose(c.pregrasp), "grasp": grasp, "pull": pull}

    def grasp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(palm position m, palm rotation 3x3) of the grasp, world frame, from the drill's
        current pose: the index's proximal phalanx level with the trigger."""
        c = self.config
        pos, rot = self.task.drill_pose(self.env.data)
        # Palm axes in the drill frame: normal +y, thumb +z (up), fingers +x; then turned.
        side_on = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        palm_in_drill = _rot_z(c.roll) @ side_on
        index_y = self._index_proximal_height()
        handle = np.array([0.0, 0.0, 0.0])
        palm = handle - palm_in_drill @ np.array([c.handle_in_palm[0], 0.0, c.handle_in_palm[1]])
        palm[2] = dp.TRIGGER_Z - index_y
        return pos + rot @ palm, rot @ palm_in_drill

    def _index_proximal_height(self) -> float:
        """Palm-frame y (thumb axis) of the index's proximal phalanx centre in the grasp."""
        import mujoco

        model, hand = self.env.model, self._hand
        data = mujoco.MjData(model)
        data.qpos[hand.qpos_idx] = self._pose(self.config.contact)
        mujoco.mj_kinematics(model, data)
        R = data.site_xmat[hand.palm_site].reshape(3, 3)
        mcp, pip = hand.keypoint_sites[5], hand.keypoint_sites[6]
        mid = 0.5 * (data.site_xpos[mcp] + data.site_xpos[pip]) - data.site_xpos[hand.palm_site]
        return float((R.T @ mid)[1])

    def plan(self) -> list[Segment]:
        c, side = self.config, self.side
        poses = self.hand_poses()
        grasp_pos, R = self.grasp_pose()
        quat = quat_from_mat(R)
        fingers = R[:, 2]
        pre = grasp_pos - c.approach * fingers + [0.0, 0.0, c.pre_height]
        behind = grasp_pos - c.approach * fingers
        lifted = grasp_pos + [0.0, 0.0, c.lift]
        task = self.task
        start, _ = self.env.palm_pose(side)
        # The home pose's fingers hang near the drill: rise clear of it before turning.
        clear = np.array([start[0], start[1] - 0.04, max(start[2], pre[2]) + c.clearance])
        return [
            Segment("rise", 0.6, {side: SideTarget(clear)}),
            Segment("pre_grasp", 1.2, {side: SideTarget(pre, quat, poses["open"])}),
            Segment("descend", 0.5, {side: SideTarget(behind)}),
            Segment("approach", 0.8, {side: SideTarget(grasp_pos)}),
            Segment("grasp", 0.6, {side: SideTarget(hand_q=poses["grasp"])},
                    until=lambda e: task.measurements["grasped"] > 0, timeout=1.0),  # fmt: skip
            Segment("lift", 1.0, {side: SideTarget(lifted)},
                    until=lambda e: task.measurements["lifted"] > 0, timeout=1.0),  # fmt: skip
            Segment("pull", 0.4, {side: SideTarget(hand_q=poses["pull"])},
                    until=lambda e: task.evaluate(e.model, e.data).success,
                    timeout=c.hold_s + 1.0),  # fmt: skip
        ]
