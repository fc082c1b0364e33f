"""Fixtures for retargeting tests: hands, the shared MediaPipe recording, frames."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from handitl.assets.hand_description import Side
from handitl.assets.hands import build_hand
from handitl.intervention.streams.frame import HandState
from handitl.retarget import HandKinematics

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
HANDS = ("procedural21", "leap", "allegro", "shadow")


def hand_state(keypoints: np.ndarray, valid: np.ndarray | None = None) -> HandState:
    """A tracked hand at the wrist-frame origin with the given keypoints (21, 3)."""
    valid = np.ones(21, dtype=bool) if valid is None else valid
    kp = np.where(valid[:, None], keypoints, np.nan)
    return HandState(np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]), True, kp, valid,
                     valid.astype(float))  # fmt: skip


def make_kinematics(name: str, side: Side) -> HandKinematics:
    """Kinematics of a registered hand, skipping when its files or extra are missing."""
    if name == "shadow" and importlib.util.find_spec("gymnasium_robotics") is None:
        pytest.skip("Shadow hand needs gymnasium-robotics (pip install 'handitl[shadow]')")
    if name in ("leap", "allegro"):
        folder = os.environ.get("HANDITL_HAND_URDF_DIR") or str(SHARED / "data" / "hand_urdfs")
        if not Path(folder, "leap_hand").is_dir():
            pytest.skip(f"hand URDFs not found at {folder} (set HANDITL_HAND_URDF_DIR)")
        os.environ["HANDITL_HAND_URDF_DIR"] = folder
    return HandKinematics(build_hand(name, side))


@pytest.fixture(scope="session")
def mediapipe_right() -> np.ndarray:
    """The shared real MediaPipe recording (621, 21, 3), right hand, wrist frame, m."""
    path = SHARED / "data" / "human_streams" / "mediapipe21_right_wrist_frame.npy"
    if not path.is_file():
        pytest.skip(f"shared recording not found at {path}")
    return np.load(path)


def for_side(keypoints: np.ndarray, side: Side) -> np.ndarray:
    """The recording as the given side's hand (a left hand is the y-mirror image)."""
    out = np.array(keypoints, dtype=np.float64, copy=True)
    if side is Side.LEFT:
        out[..., 1] *= -1.0
    return out
