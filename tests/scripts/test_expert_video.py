"""``scripts/expert_video.py`` end to end on a few steps, and the video writer's checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from handitl.envs.video import write_video
from tests.envs.test_render import needs_gl

ROOT = Path(__file__).resolve().parents[2]


@needs_gl
def test_expert_video_writes_frames_and_stage_stills(tmp_path: Path) -> None:
    """40 control steps of the BreadClip expert, a frame every 10: a 4-frame animation of
    the requested size, and the strip of stills once a stage is reached (BreadClip's first
    stage, the pinch, comes at ~2.2 s, so none within 0.8 s: no strip)."""
    cmd = [sys.executable, str(ROOT / "scripts/expert_video.py"), "--tasks", "BreadClip",
           "--max-steps", "40", "--every", "10", "--size", "48", "64", "--out", str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MUJOCO_GL": "egl"}, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    videos = list(tmp_path.glob("BreadClip.*"))
    assert len(videos) == 1, videos
    assert "BreadClip: 4 frames" in proc.stdout
    if videos[0].suffix == ".gif":  # (GIF encoding merges identical consecutive frames)
        with Image.open(videos[0]) as gif:
            assert gif.size == (64, 48) and 1 <= gif.n_frames <= 4
    assert not (tmp_path / "BreadClip_stages.png").exists()


def test_write_video_rejects_bad_input(tmp_path: Path) -> None:
    """Empty input, frames of different sizes and a non-positive rate are refused with a
    message naming the problem; nothing is written."""
    with pytest.raises(ValueError, match="no frames"):
        write_video([], tmp_path / "v", 10)
    frames = [np.zeros((4, 6, 3), np.uint8), np.zeros((4, 8, 3), np.uint8)]
    with pytest.raises(ValueError, match="differ in size"):
        write_video(frames, tmp_path / "v", 10)
    with pytest.raises(ValueError, match="fps"):
        write_video(frames[:1], tmp_path / "v", 0)
    assert not list(tmp_path.iterdir())
