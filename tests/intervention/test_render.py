"""Stream rendering (skeleton PNGs, MP4 fallback), the synthetic waving hands and the
conventions picture."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from handitl.assets.hand_description import KEYPOINT_NAMES, SIDES, Side
from handitl.envs.rotations import mat_from_quat
from handitl.intervention.streams.frame import HumanFrame, PedalState, untracked_hand
from handitl.intervention.streams.render import (
    WavingHands,
    draw_conventions_figure,
    hand_keypoints,
    render_stream,
    waving_frame,
)

REPO = Path(__file__).resolve().parents[2]
MIRROR = np.diag([1.0, -1.0, 1.0])


class FrameList:
    def __init__(self, frames: list[HumanFrame]) -> None:
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, i: int) -> HumanFrame:
        return self.frames[i]


def _image(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def _assert_drawn(pixels: np.ndarray) -> None:
    """Not blank: > 2 % non-white pixels, and the red of thumb bones / x axes is present."""
    non_white = (pixels < 235).any(axis=-1).mean()
    assert non_white > 0.02, non_white
    red = (pixels[..., 0] > 170) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    assert red.sum() > 50


# -- synthetic hands: the conventions as properties ---------------------------------------------


def test_hand_keypoints_follow_the_wrist_frame_conventions() -> None:
    """Wrist at the origin, middle MCP on +z, fingers flex toward +x (palmar), the thumb on
    +y for a right hand, and the left hand is the right one mirrored in y."""
    right = hand_keypoints(Side.RIGHT, curl=0.4)
    middle_mcp = KEYPOINT_NAMES.index("middle_mcp")
    np.testing.assert_array_equal(right[0], 0.0)
    np.testing.assert_allclose(right[middle_mcp, :2], 0.0, atol=1e-15)
    assert right[middle_mcp, 2] > 0.05
    tips = [KEYPOINT_NAMES.index(f"{f}_tip") for f in ("index", "middle", "ring", "little")]
    assert (right[tips, 0] > 0.01).all()
    assert (hand_keypoints(Side.RIGHT, curl=0.0)[tips, 0] == 0.0).all()
    assert right[KEYPOINT_NAMES.index("thumb_tip"), 1] > 0.03
    np.testing.assert_array_equal(hand_keypoints(Side.LEFT, curl=0.4), right @ MIRROR)


def test_waving_hands_are_mirror_images_in_the_world() -> None:
    """At every instant the left hand's world keypoints are the right's reflected in the world
    xz plane (wrist position, orientation R_left = M R_right M, keypoints)."""
    for t in np.linspace(0.0, 2.0, 9):
        frame = waving_frame(float(t))
        left, right = frame.hands[Side.LEFT], frame.hands[Side.RIGHT]
        r_left, r_right = mat_from_quat(left.wrist_quat), mat_from_quat(right.wrist_quat)
        np.testing.assert_allclose(r_right.T @ r_right, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(r_left, MIRROR @ r_right @ MIRROR, atol=1e-12)
        world_left = left.wrist_pos + left.keypoints @ r_left.T
        world_right = right.wrist_pos + right.keypoints @ r_right.T
        np.testing.assert_allclose(world_left, world_right @ MIRROR, atol=1e-12)


def test_waving_hands_dropouts_and_pedals() -> None:
    """The dropout and pedal schedules are as documented (t in s)."""
    stream = WavingHands(duration=4.0, rate_hz=20.0, dropout=True, pedal_demo=True)
    assert len(stream) == 80 and stream.t[-1] == pytest.approx(3.95)
    at = {round(float(t), 2): stream.frame(i) for i, t in enumerate(stream.t)}
    assert not at[1.6].hands[Side.RIGHT].valid[19:].any() and at[1.6].hands[Side.RIGHT].valid[:19].all()
    assert at[2.3].hands[Side.LEFT] is None and not at[2.8].hands[Side.RIGHT].wrist_valid
    assert at[1.5].pedals == PedalState(copilot=True) and at[3.0].pedals == PedalState(takeover=True)
    assert at[0.5].pedals == PedalState()
    with pytest.raises(IndexError):
        stream.frame(80)


# -- rendering ------------------------------------------------------------------------------


def test_render_stream_writes_pngs_of_the_right_size(tmp_path: Path) -> None:
    """Every k-th frame becomes a PNG of exactly the requested size with drawn content,
    including frames with invalid keypoints, a lost hand, an invalid wrist and pedals."""
    times = [0.0, 1.6, 2.3, 2.8, 2.9]
    frames = FrameList([waving_frame(t, dropout=True, pedals=PedalState(takeover=t > 2.85)) for t in times])
    paths = render_stream(frames, tmp_path, every=2, size=(640, 360))
    assert [p.name for p in paths] == ["frame_00000.png", "frame_00002.png", "frame_00004.png"]
    images = [_image(p) for p in paths]
    for pixels in images:
        assert pixels.shape == (360, 640, 3)
        _assert_drawn(pixels)
    assert np.abs(images[0] - images[1]).sum() > 0  # frames differ


def test_render_survives_degenerate_frames(tmp_path: Path) -> None:
    """No valid keypoint, no hands at all, a single frame: rendered without error."""
    cases = {
        "untracked": [HumanFrame(t=0.0, hands={s: untracked_hand() for s in SIDES})],
        "no hands": [HumanFrame(t=0.0, hands={}),
                     HumanFrame(t=0.1, hands={}, pedals=PedalState(copilot=True))],  # fmt: skip
        "one hand once": [waving_frame(0.0, (Side.LEFT,))],
    }
    for name, frames in cases.items():
        out = tmp_path / name.replace(" ", "_")
        paths = render_stream(FrameList(frames), out, size=(320, 240))
        assert len(paths) == len(frames)
        assert _image(paths[0]).shape == (240, 320, 3)


def test_mp4_falls_back_to_pngs_without_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without imageio-ffmpeg, video=True warns with the install hint and writes PNGs."""
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # makes the import fail
    with pytest.warns(UserWarning, match=r"pip install imageio\[ffmpeg\]"):
        paths = render_stream(WavingHands(duration=0.1, rate_hz=20.0), tmp_path, video=True, size=(320, 240))
    assert [p.suffix for p in paths] == [".png", ".png"]


def test_mp4_when_ffmpeg_is_installed(tmp_path: Path) -> None:
    """With imageio[ffmpeg], video=True writes one non-empty MP4."""
    pytest.importorskip("imageio_ffmpeg", reason="optional: pip install imageio[ffmpeg]")
    paths = render_stream(WavingHands(duration=0.3, rate_hz=20.0), tmp_path, video=True, size=(320, 240))
    assert paths == [tmp_path / "stream.mp4"] and paths[0].stat().st_size > 1000


def test_conventions_picture(tmp_path: Path) -> None:
    """The picture is written at its size with content; the docs page embeds the checked-in copy."""
    path = draw_conventions_figure(tmp_path / "conventions.png", size=(900, 600))
    pixels = _image(path)
    assert pixels.shape == (600, 900, 3)
    _assert_drawn(pixels)
    page = (REPO / "docs" / "conventions.md").read_text()
    assert "images/conventions_hand_frames.png" in page
    assert (REPO / "docs" / "images" / "conventions_hand_frames.png").is_file()


def test_render_stream_script(tmp_path: Path) -> None:
    """`render_stream.py --synthetic` writes the frames it reports."""
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "render_stream.py"), "--synthetic", "--out", str(tmp_path),
         "--duration", "2", "--every", "25", "--width", "320", "--height", "200"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    pngs = sorted(tmp_path.glob("frame_*.png"))
    assert [p.name for p in pngs] == ["frame_00000.png", "frame_00025.png", "frame_00050.png"]
    assert _image(pngs[-1]).shape == (200, 320, 3)
