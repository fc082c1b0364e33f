"""Render a human stream (hand skeletons, wrist trajectories, pedals) to PNGs or an MP4.

    python scripts/render_stream.py RECORDING.h5 --out runs/stream [--every 5] [--mp4]
    python scripts/render_stream.py --synthetic --out runs/stream
    python scripts/render_stream.py --conventions --out docs/images

Writes ``OUT/frame_NNNNN.png`` for every k-th frame, or ``OUT/stream.mp4`` with ``--mp4``
if ``imageio[ffmpeg]`` is installed (PNGs otherwise). ``--synthetic`` renders two waving
hands with tracking dropouts and pedal presses. ``--conventions`` writes the picture of the
wrist-frame conventions used by docs/conventions.md (``conventions_hand_frames.png``).
Headless (matplotlib Agg).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from handitl.intervention.streams.live import FrameSequence
from handitl.intervention.streams.render import WavingHands, draw_conventions_figure, render_stream

CONVENTIONS_PICTURE = "conventions_hand_frames.png"


def _frames(args: argparse.Namespace) -> FrameSequence:
    if args.synthetic:
        return WavingHands(duration=args.duration, rate_hz=30.0, dropout=True, pedal_demo=True)
    from handitl.intervention.streams.recording import read_recording

    return read_recording(args.recording)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path, nargs="?", help="recording to render (HDF5)")
    parser.add_argument("--synthetic", action="store_true", help="render two waving hands instead of a file")
    parser.add_argument("--conventions", action="store_true", help=f"write {CONVENTIONS_PICTURE} and exit")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--every", type=int, default=1, help="render every k-th frame")
    parser.add_argument("--start", type=int, default=0, help="first frame index")
    parser.add_argument("--stop", type=int, default=None, help="stop before this frame index")
    parser.add_argument("--mp4", action="store_true", help="one MP4 (needs `pip install imageio[ffmpeg]`)")
    parser.add_argument("--fps", type=float, default=None, help="MP4 frame rate (default: real time)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--duration", type=float, default=4.0, help="length of the synthetic stream, s")
    args = parser.parse_args(argv)
    if args.conventions:
        print(draw_conventions_figure(args.out / CONVENTIONS_PICTURE))
        return 0
    if args.synthetic == (args.recording is not None):
        parser.error("give either a RECORDING or --synthetic")
    if args.every < 1:
        parser.error("--every must be >= 1")
    frames = _frames(args)
    start = time.monotonic()
    paths = render_stream(frames, args.out, every=args.every, start=args.start, stop=args.stop,
                          video=args.mp4, fps=args.fps, size=(args.width, args.height))  # fmt: skip
    print(f"wrote {len(paths)} file(s) to {args.out} in {time.monotonic() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
