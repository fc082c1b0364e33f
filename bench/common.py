"""Helpers shared by the benchmark scripts (run as ``python bench/<script>.py``, so this
folder is on ``sys.path``)."""

from __future__ import annotations

import argparse


def parse_seeds(text: str) -> range:
    """``"START:STOP"`` -> range(START, STOP); ``"N"`` -> range(N). An argparse type: bad
    input raises ``ArgumentTypeError`` (one line, exit 2)."""
    try:
        if ":" in text:
            start, stop = (int(part) for part in text.split(":"))
        else:
            start, stop = 0, int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds {text!r}: expected N or START:STOP (integers)") from None
    if start < 0 or stop <= start:
        raise argparse.ArgumentTypeError(f"--seeds {text!r}: need 0 <= START < STOP")
    return range(start, stop)
