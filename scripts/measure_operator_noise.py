"""Measure tremor and tracker noise in real hand recordings (the operator profiles' figures).

    python scripts/measure_operator_noise.py [--streams ../shared/data/human_streams] [--json]

Reads the Qualisys marker mocap (100 Hz) and the MediaPipe landmark stream (video rate)
shipped in ``../shared/data/human_streams/`` and prints, per marker, the tremor (6-14 Hz
band: RMS, spectral centre and spread) and the tracker's per-frame noise (mocap: above
25 Hz; MediaPipe: second differences of the quietest frames), then the profile values
(``handitl.intervention.streams.operators.profiles``) beside them. Method and limits:
:mod:`handitl.intervention.streams.operators.calibration`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from handitl.intervention.streams.importers import read_qualisys_tsv
from handitl.intervention.streams.operators.calibration import (
    high_rate_tick_noise,
    measure_tremor,
    video_rate_tick_noise,
)
from handitl.intervention.streams.operators.profiles import PROFILES

DEFAULT_STREAMS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "human_streams"
MOCAP_FILE = "qualisys_hand_markers_100hz.tsv"
MEDIAPIPE_FILE = "mediapipe21_right_wrist_frame.npy"
WRIST_MARKERS = ("hand_top", "hand_left", "hand_right")
TIP_MARKERS = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "little_tip")
MEDIAPIPE_TIPS = (4, 8, 12, 16, 20)


def measure(streams: Path) -> dict:
    """Per-marker figures (mm, Hz) and their medians over the wrist and fingertip markers."""
    mocap = read_qualisys_tsv(streams / MOCAP_FILE)
    rows = {}
    for name in (*WRIST_MARKERS, *TIP_MARKERS):
        x = mocap.markers[name]
        tremor = measure_tremor(x, mocap.rate_hz)
        rows[name] = {
            "lost_percent": round(100.0 * float(np.isnan(x).any(axis=1).mean()), 1),
            "tremor_mm": round(1e3 * tremor.rms, 3),
            "tremor_hz": round(tremor.frequency, 2),
            "spread_hz": round(tremor.bandwidth, 2),
            "tick_noise_mm": round(1e3 * high_rate_tick_noise(x, mocap.rate_hz), 4),
        }
    landmarks = np.load(streams / MEDIAPIPE_FILE)
    median = {
        key: float(np.median([rows[n][key] for n in TIP_MARKERS]))
        for key in ("tremor_mm", "tremor_hz", "spread_hz", "tick_noise_mm")
    }
    return {
        "mocap": rows,
        "fingertips_median": median,
        "wrist_tremor_mm": round(float(np.median([rows[n]["tremor_mm"] for n in WRIST_MARKERS])), 3),
        "mediapipe_tick_noise_mm": round(1e3 * video_rate_tick_noise(landmarks[:, MEDIAPIPE_TIPS]), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=Path, default=DEFAULT_STREAMS, help="folder of the recordings")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()
    missing = [f for f in (MOCAP_FILE, MEDIAPIPE_FILE) if not (args.streams / f).is_file()]
    if missing:
        where = f"{', '.join(missing)} not found in {args.streams}"
        hint = "the recordings ship in ../shared/data/human_streams; pass --streams"
        parser.exit(2, f"measure_operator_noise.py: {where} ({hint})\n")
    figures = measure(args.streams)
    if args.json:
        print(json.dumps(figures))
        return
    print("| marker | lost % | tremor RMS mm (6-14 Hz) | centre Hz | spread Hz | noise mm/axis (>25 Hz) |")
    print("|---|---|---|---|---|---|")
    for name, r in figures["mocap"].items():
        print(f"| {name} | {r['lost_percent']} | {r['tremor_mm']:.3f} | {r['tremor_hz']:.2f} | "
              f"{r['spread_hz']:.2f} | {r['tick_noise_mm']:.3f} |")  # fmt: skip
    m = figures["fingertips_median"]
    print(f"\nfingertips (median): tremor {m['tremor_mm']:.3f} mm at {m['tremor_hz']:.2f} Hz "
          f"(spread {m['spread_hz']:.2f} Hz), mocap noise {m['tick_noise_mm']:.3f} mm/axis; "
          f"back of the hand: tremor {figures['wrist_tremor_mm']:.3f} mm")  # fmt: skip
    print(f"MediaPipe per-frame noise (fingertips, quietest 30% of frames): "
          f"{figures['mediapipe_tick_noise_mm']:.3f} mm/axis")  # fmt: skip
    print("\nprofiles: name, fingertip / wrist tremor mm, centre Hz, spread Hz, tracker noise mm/axis")
    for p in PROFILES.values():
        print(f"  {p.name}: {1e3 * p.tremor_rms:.3f} / {1e3 * p.wrist_tremor_rms:.3f}, {p.tremor_frequency}, "
              f"{p.tremor_bandwidth}, {1e3 * p.tracking_noise_rms:.3f}")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
