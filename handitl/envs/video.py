"""Writing rendered frames as a video: MP4 when imageio's ffmpeg is installed
(``pip install "handitl[video]"``), otherwise an animated GIF, which needs nothing extra."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def write_video(frames: Sequence[np.ndarray | Image.Image], stem: Path, fps: int) -> Path:
    """Write ``frames`` (RGB arrays or images, all one size) to ``stem`` + ``.mp4`` or
    ``.gif``; returns the path written."""
    if not frames:
        raise ValueError("no frames to write")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    arrays = [np.asarray(f) for f in frames]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(f"frames differ in size: {sorted({a.shape for a in arrays})}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    try:
        import imageio.v3 as iio

        path = stem.with_suffix(".mp4")
        iio.imwrite(path, np.stack(arrays), fps=fps, codec="libx264")
    except Exception:  # imageio or its ffmpeg plugin missing
        path = stem.with_suffix(".gif")
        images = [Image.fromarray(a) for a in arrays]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path
