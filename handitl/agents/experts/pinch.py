"""Pad-pinch geometry shared by the experts that pick small things between the thumb and
index pads (parts, wing nuts): the hand pose of a pinch at a given gap, where its pads
meet in the palm frame, and the palm rotation that lays the pinch axis along a wanted
horizontal direction with the index fingertip pointing down."""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from handitl.assets.hand_description import FINGERS
from handitl.assets.procedural_hand import solve_pinch_pose
from handitl.envs.robot import HandBinding


@dataclasses.dataclass(frozen=True)
class PadPinch:
    """A pad pinch of one hand (directions and points in its palm frame)."""

    q: np.ndarray
    """(n,) hand joint targets, rad (description order)."""
    midpoint: np.ndarray
    """(3,) midpoint of the thumb and index fingertip sites, m."""
    axis: np.ndarray
    """(3,) unit index-to-thumb pinch axis."""
    tip: np.ndarray
    """(3,) unit direction the index fingertip points along."""


def pad_pinch(model: mujoco.MjModel, hand: HandBinding, gap: float, curl: np.ndarray) -> PadPinch:
    """The pad pinch at ``gap`` (m between the pads) with the other fingers at ``curl``
    (added to the pinch pose, rad): solved and measured on a scratch MjData."""
    q = solve_pinch_pose(model, hand.description, gap=gap) + curl
    data = mujoco.MjData(model)
    data.qpos[hand.qpos_idx] = q
    mujoco.mj_kinematics(model, data)
    R = data.site_xmat[hand.palm_site].reshape(3, 3)
    origin = data.site_xpos[hand.palm_site]
    thumb, index = (hand.fingertip_sites[FINGERS.index(f)] for f in ("thumb", "index"))
    mid = R.T @ (0.5 * (data.site_xpos[thumb] + data.site_xpos[index]) - origin)
    index_rot = R.T @ data.site_xmat[index].reshape(3, 3)
    return PadPinch(q, mid, index_rot[:, 0], index_rot[:, 2])


def palm_rotation(pinch: PadPinch, axis_world: np.ndarray) -> np.ndarray:
    """World rotation of the palm that puts the pinch axis along the horizontal unit
    ``axis_world`` and the index fingertip pointing down."""
    axis, tip = pinch.axis, pinch.tip
    u2 = tip - (tip @ axis) * axis
    u2 /= np.linalg.norm(u2)
    U = np.stack([axis, u2, np.cross(axis, u2)], 1)
    down = np.array([0.0, 0.0, -1.0])
    W = np.stack([axis_world, down, np.cross(axis_world, down)], 1)
    return W @ U.T
