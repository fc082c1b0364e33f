"""What stands behind the robot server: the project's own simulation or real drivers.

A backend holds targets and reports measurements; the server decides *when* (ticks,
watchdog, e-stop). :class:`SimBackend` is "sim as hardware": the very
:class:`~handitl.envs.BimanualEnv` physics in joint action mode, so the whole real-env
code path (client, safety, server, wire) runs without a robot and without a second copy
of the physics. :class:`DriverBackend` drives two arms and two hands through the
driver interfaces (FR3s over franky, hands over ZeroMQ or a vendor SDK).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

import mujoco
import numpy as np

from handitl.assets.hand_description import SIDES, Side
from handitl.real.drivers.base import ArmDriver, HandDriver, JointCommand


class RobotBackend(abc.ABC):
    """Both arms and hands behind the server. Arrays have the side axis first."""

    control_dt: float
    hand_joints: int

    @abc.abstractmethod
    def reset(self, seed: int | None) -> None:
        """Start an episode (a sim resets; hardware stays where it is)."""

    @abc.abstractmethod
    def apply(self, arm_q: np.ndarray, hand_q: np.ndarray) -> None:
        """New joint targets, (2, 7) and (2, n) rad."""

    @abc.abstractmethod
    def hold(self) -> None:
        """Targets := the measured pose (arms and hands)."""

    @abc.abstractmethod
    def tick(self) -> None:
        """One control period passes (the sim steps its physics; drivers run on their own)."""

    @abc.abstractmethod
    def measure(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """(arm_q, arm_dq, hand_q, hand_dq, objects) as in :class:`~.protocol.RobotSnapshot`."""

    def close(self) -> None:
        """Release devices; a backend holds before it lets go."""


class SimBackend(RobotBackend):
    """A :class:`BimanualEnv` in joint action mode standing in for the hardware.

    The env's task still runs (its props, motors and randomised reset), so objects move
    under contact physics; their joint states are published like a motion-capture
    system would (``objects``), which ``ServerPerception`` hands to the real env.
    """

    def __init__(self, task: str = "Reach", **config_overrides) -> None:
        from handitl.envs import make_env

        config_overrides.setdefault("terminate_on_success", False)
        self.env = make_env(task, action_mode="joint", **config_overrides)
        self.control_dt = self.env.control_dt
        robot = self.env.robot
        self.hand_joints = robot.hands[SIDES[0]].num_joints
        self._arm_qpos = np.stack([robot.arms[s].qpos_idx for s in SIDES])
        self._arm_dof = np.stack([robot.arms[s].dof_idx for s in SIDES])
        self._hand_qpos = np.stack([robot.hands[s].qpos_idx for s in SIDES])
        self._hand_dof = np.stack([robot.hands[s].dof_idx for s in SIDES])
        self._objects = _object_joints(self.env.model, self._arm_qpos, self._hand_qpos)
        layout = self.env.layout
        self._arm_slices = [layout.slice(f"{s.value}/arm_q") for s in SIDES]
        self._hand_slices = [layout.slice(f"{s.value}/hand") for s in SIDES]
        self.env.reset(seed=0)
        self._action = self.env.hold_action()

    def reset(self, seed: int | None) -> None:
        self.env.reset(seed=seed)
        self._action = self.env.hold_action()

    def apply(self, arm_q: np.ndarray, hand_q: np.ndarray) -> None:
        action = self._action.copy()
        for k in range(2):
            action[self._arm_slices[k]] = arm_q[k]
            action[self._hand_slices[k]] = hand_q[k]
        self._action = action

    def hold(self) -> None:
        self._action = self.env.hold_action()

    def tick(self) -> None:
        self.env.step(self._action)

    def measure(self):
        d = self.env.data
        objects = {name: d.qpos[sl].copy() for name, sl in self._objects.items()}
        return (d.qpos[self._arm_qpos], d.qvel[self._arm_dof], d.qpos[self._hand_qpos],
                d.qvel[self._hand_dof], objects)  # fmt: skip

    def close(self) -> None:
        self.env.close()


def _object_joints(model: mujoco.MjModel, *robot_qpos: np.ndarray) -> dict[str, slice]:
    """Name -> qpos slice of every joint that is not the robot's (props, objects)."""
    robot = set(np.concatenate([a.ravel() for a in robot_qpos]).tolist())
    sizes = {int(mujoco.mjtJoint.mjJNT_FREE): 7, int(mujoco.mjtJoint.mjJNT_BALL): 4}
    out = {}
    for j in range(model.njnt):
        adr = int(model.jnt_qposadr[j])
        if adr not in robot:
            out[model.joint(j).name] = slice(adr, adr + sizes.get(int(model.jnt_type[j]), 1))
    return out


class DriverBackend(RobotBackend):
    """Two arms and two hands through their drivers (which keep their own fast loops).

    Joint space only: joint targets go to the drivers and joint states come back, so
    each arm's own base frame (the FCI's, or franka-sim's, which puts every arm at its
    own origin) never enters. Palms, the workspace box and the arm-to-arm distance are
    computed by the env on its mirror scene, whose base placement must match the cell
    (``docs/deployment.md``, calibration step 1).
    """

    def __init__(self, arms: Mapping[Side, ArmDriver], hands: Mapping[Side, HandDriver],
                 control_dt: float = 0.02) -> None:  # fmt: skip
        self.arms, self.hands = dict(arms), dict(hands)
        self.control_dt = control_dt
        for device in (*self.arms.values(), *self.hands.values()):
            device.connect()
        # After connect: a protocol hand (ZmqHandDriver) learns its joints from its server.
        self.hand_joints = self.hands[SIDES[0]].num_joints

    def reset(self, seed: int | None) -> None:
        self.hold()

    def apply(self, arm_q: np.ndarray, hand_q: np.ndarray) -> None:
        for k, side in enumerate(SIDES):
            self.arms[side].send_command(JointCommand(np.asarray(arm_q[k])))
            self.hands[side].send_command(JointCommand(np.asarray(hand_q[k])))

    def hold(self) -> None:
        for device in (*self.arms.values(), *self.hands.values()):
            device.hold()

    def tick(self) -> None:
        pass

    def measure(self):
        arms = [self.arms[s].read_state() for s in SIDES]
        hands = [self.hands[s].read_state() for s in SIDES]
        return (np.stack([a.q for a in arms]), np.stack([a.dq for a in arms]),
                np.stack([h.q for h in hands]), np.stack([h.dq for h in hands]), {})  # fmt: skip

    def close(self) -> None:
        for device in (*self.arms.values(), *self.hands.values()):
            try:
                device.hold()
            finally:
                device.disconnect()
