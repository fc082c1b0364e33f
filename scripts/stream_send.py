"""Send a human stream over UDP in real time, to a ``UdpHumanSource`` listening on PORT.

    python scripts/stream_send.py RECORDING.h5 --port 47800 [--rate 1.0] [--loop]
    python scripts/stream_send.py --synthetic --port 47800 [--duration 10] [--loop]

A recording (``handitl.stream`` HDF5, see ``handitl/intervention/streams/recording.py``)
is replayed at its own timestamps, scaled by ``--rate`` (2 = twice as fast); ``--synthetic``
sends two waving hands instead, so the command works without a file. One datagram per
frame (layout in ``handitl/intervention/streams/wire.py``). Ctrl-C stops.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from handitl.intervention.streams.live import DEFAULT_PORT, FrameSequence, UdpHumanSender, replay
from handitl.intervention.streams.render import WavingHands


def _frames(args: argparse.Namespace) -> FrameSequence:
    if args.synthetic:
        return WavingHands(duration=args.duration, rate_hz=args.synthetic_rate, dropout=args.dropout)
    from handitl.intervention.streams.recording import read_recording

    return read_recording(args.recording)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path, nargs="?", help="recording to replay (HDF5)")
    parser.add_argument("--synthetic", action="store_true", help="send two waving hands instead of a file")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"UDP port (default {DEFAULT_PORT})")
    parser.add_argument("--host", default="127.0.0.1", help="receiver address (default loopback)")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed, 1 = real time")
    parser.add_argument("--loop", action="store_true", help="start over at the end until Ctrl-C")
    parser.add_argument("--duration", type=float, default=10.0, help="length of the synthetic stream, s")
    parser.add_argument("--synthetic-rate", type=float, default=60.0, help="synthetic frame rate, Hz")
    parser.add_argument("--dropout", action="store_true", help="synthetic: include tracking dropouts")
    parser.add_argument("--float32", action="store_true", help="float32 keypoints (702-byte datagrams)")
    args = parser.parse_args(argv)
    if args.synthetic == (args.recording is not None):
        parser.error("give either a RECORDING or --synthetic")
    if not args.rate > 0:
        parser.error("--rate must be > 0")
    frames = _frames(args)
    stop = threading.Event()
    print(f"sending {len(frames)} frames{' (looped)' if args.loop else ''} to {args.host}:{args.port} "
          f"at x{args.rate:g}; Ctrl-C stops", file=sys.stderr)  # fmt: skip
    start = time.monotonic()
    with UdpHumanSender(args.host, args.port, float64_keypoints=not args.float32) as sender:
        try:
            replay(sender, frames, rate=args.rate, loop=args.loop, stop=stop)
        except KeyboardInterrupt:
            stop.set()
        print(f"sent {sender.sent} datagrams in {time.monotonic() - start:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
