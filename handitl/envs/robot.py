"""Robot parts bound by name once after compile: index arrays, ids and the hand limits.

Nothing downstream slices ``qpos`` by hard-coded offsets; it asks these bindings.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from handitl.assets.hand_description import HandDescription, Side
from handitl.assets.scene import ArmDescription, SceneDescription


def _joint_addresses(model: mujoco.MjModel, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    qpos = np.array([model.joint(n).qposadr[0] for n in names], dtype=np.intp)
    dof = np.array([model.joint(n).dofadr[0] for n in names], dtype=np.intp)
    return qpos, dof


def _actuator_ids(model: mujoco.MjModel, names: tuple[str, ...]) -> np.ndarray:
    return np.array([model.actuator(n).id for n in names], dtype=np.intp)


def _site_ids(model: mujoco.MjModel, names: tuple[str | None, ...]) -> np.ndarray:
    """Site ids, -1 where the name is None (a keypoint the hand lacks)."""
    return np.array([-1 if n is None else model.site(n).id for n in names], dtype=np.intp)


@dataclasses.dataclass(frozen=True)
class ArmBinding:
    """One arm's addresses in a compiled scene."""

    side: Side
    qpos_idx: np.ndarray
    dof_idx: np.ndarray
    actuator_ids: np.ndarray
    q_lower: np.ndarray
    q_upper: np.ndarray
    home_qpos: np.ndarray

    @classmethod
    def bind(cls, model: mujoco.MjModel, arm: ArmDescription) -> ArmBinding:
        qpos_idx, dof_idx = _joint_addresses(model, arm.joint_names)
        jnt_ids = [model.joint(n).id for n in arm.joint_names]
        return cls(
            side=arm.side,
            qpos_idx=qpos_idx,
            dof_idx=dof_idx,
            actuator_ids=_actuator_ids(model, arm.actuator_names),
            q_lower=model.jnt_range[jnt_ids, 0].copy(),
            q_upper=model.jnt_range[jnt_ids, 1].copy(),
            home_qpos=np.array(arm.home_qpos),
        )


@dataclasses.dataclass(frozen=True)
class HandBinding:
    """One hand's addresses in a compiled scene."""

    side: Side
    description: HandDescription
    qpos_idx: np.ndarray
    dof_idx: np.ndarray
    actuator_ids: np.ndarray
    q_lower: np.ndarray
    q_upper: np.ndarray
    palm_site: int
    fingertip_sites: np.ndarray
    """Ids of the fingers the hand has (absent fingers are left out)."""
    keypoint_sites: np.ndarray
    """21 ids in MediaPipe order, -1 where absent."""

    @classmethod
    def bind(cls, model: mujoco.MjModel, hand: HandDescription) -> HandBinding:
        hand.validate(model)
        qpos_idx, dof_idx = _joint_addresses(model, hand.joint_names)
        jnt_ids = [model.joint(n).id for n in hand.joint_names]
        return cls(
            side=hand.side,
            description=hand,
            qpos_idx=qpos_idx,
            dof_idx=dof_idx,
            actuator_ids=_actuator_ids(model, hand.actuator_names),
            q_lower=model.jnt_range[jnt_ids, 0].copy(),
            q_upper=model.jnt_range[jnt_ids, 1].copy(),
            palm_site=model.site(hand.palm_site).id,
            fingertip_sites=_site_ids(model, tuple(s for s in hand.fingertip_sites if s)),
            keypoint_sites=_site_ids(model, hand.keypoint_sites),
        )

    @property
    def num_joints(self) -> int:
        return len(self.qpos_idx)

    @property
    def num_fingertips(self) -> int:
        return len(self.fingertip_sites)


@dataclasses.dataclass(frozen=True)
class RobotBindings:
    """Both arms and hands, keyed by side (iteration order: left, right)."""

    arms: dict[Side, ArmBinding]
    hands: dict[Side, HandBinding]

    @classmethod
    def bind(cls, model: mujoco.MjModel, scene: SceneDescription) -> RobotBindings:
        return cls(
            arms={s: ArmBinding.bind(model, scene.arms[s]) for s in Side},
            hands={s: HandBinding.bind(model, scene.hands[s]) for s in Side},
        )
