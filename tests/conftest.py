"""Shared fixtures. MUJOCO_GL defaults to EGL (headless) before MuJoCo is imported."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def hand_urdf_dir() -> Path:
    """Folder with leap_hand/ and allegro_hand/ (HANDITL_HAND_URDF_DIR or ../shared)."""
    env = os.environ.get("HANDITL_HAND_URDF_DIR")
    path = Path(env) if env else SHARED_DIR / "data" / "hand_urdfs"
    if not (path / "leap_hand").is_dir():
        pytest.skip(f"hand URDFs not found at {path} (set HANDITL_HAND_URDF_DIR)")
    return path
