"""Draw human keypoints beside the retargeted robot hand, per method, for a few frames.

    python scripts/retarget_picture.py --out docs/images [--hand procedural21] [--frames 0 150 300 450]

Uses the shared MediaPipe recording (``../shared/data/human_streams``) when present,
else a synthetic closing hand. Each row is a method (direct, delta, jacobian, relative),
each column a frame; the human skeleton (scaled into the robot palm frame, grey) and the
robot's keypoints (coloured) are drawn in the palm frame's y-z plane (palm view), with
the robot anchored at the first frame in a pose different from the human's (the
takeover situation). Writes ``retarget_<hand>.png``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "disable")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from handitl.assets.hand_description import Side  # noqa: E402
from handitl.assets.hands import build_hand  # noqa: E402
from handitl.intervention.streams.frame import HandState  # noqa: E402
from handitl.retarget import METHODS, HandKinematics, calibrate_alignment  # noqa: E402

RECORDING = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "human_streams"
             / "mediapipe21_right_wrist_frame.npy")  # fmt: skip
BONES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10),
         (10, 11), (11, 12), (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18),
         (18, 19), (19, 20), (5, 9), (9, 13), (13, 17)]  # fmt: skip
FINGER_COLOURS = ["tab:red", "tab:green", "tab:blue", "tab:orange", "tab:purple"]


def _frames() -> np.ndarray:
    if RECORDING.is_file():
        return np.load(RECORDING)
    # A synthetic open -> curled hand: fingertips move toward the palm.
    from handitl.intervention.streams import human_hand

    hand = human_hand.HumanHand()
    poses = np.linspace(hand.pose("open"), hand.pose("power_grasp"), 200)
    return hand.keypoints(poses, Side.RIGHT)


def _state(keypoints: np.ndarray) -> HandState:
    return HandState(np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]), True, keypoints,
                     np.ones(21, dtype=bool), np.ones(21))  # fmt: skip


def _draw(ax, points: np.ndarray, colour: str | None, alpha: float, width: float) -> None:
    for a, b in BONES:
        if np.isfinite(points[[a, b]]).all():
            c = colour or FINGER_COLOURS[min((max(a, b) - 1) // 4, 4)]
            ax.plot(points[[a, b], 1], points[[a, b], 2], color=c, alpha=alpha, lw=width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--hand", default="procedural21")
    parser.add_argument("--frames", type=int, nargs="+", default=[0, 150, 300, 450, 600])
    parser.add_argument("--anchor-offset", type=int, default=250,
                        help="the robot starts at the pose of this later frame (a mismatch)")  # fmt: skip
    args = parser.parse_args()
    frames = _frames()
    kin = HandKinematics(build_hand(args.hand, Side.RIGHT))
    alignment = calibrate_alignment(frames[0], kin)
    # The robot's command at takeover: the absolute retarget of a different human pose.
    start = METHODS["direct"](kin, alignment)
    start.reset(_state(frames[args.anchor_offset]), np.zeros(kin.nq))
    for _ in range(30):
        q0 = start.retarget(_state(frames[args.anchor_offset])).q
    shown = [f for f in args.frames if f < len(frames)]
    fig, axes = plt.subplots(len(METHODS), len(shown), figsize=(2.4 * len(shown), 2.6 * len(METHODS)),
                             squeeze=False)  # fmt: skip
    for row, (name, cls) in enumerate(METHODS.items()):
        retargeter = cls(kin, alignment)
        retargeter.reset(_state(frames[0]), q0)
        commands = {}
        for k in range(max(shown) + 1):
            result = retargeter.retarget(_state(frames[k]))
            if k in shown:
                commands[k] = result.q
        for col, k in enumerate(shown):
            ax = axes[row, col]
            human = alignment.apply(frames[k] - frames[k][0])
            kin.set_q(commands[k])
            _draw(ax, human, "0.6", 0.8, 3.0)
            _draw(ax, kin.keypoints(), None, 1.0, 1.6)
            ax.set_aspect("equal")
            ax.set_xlim(-0.13, 0.13)
            ax.set_ylim(-0.03, 0.25)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"frame {k}", fontsize=9)
            if col == 0:
                ax.set_ylabel(name, fontsize=10)
    fig.suptitle(f"{args.hand}: human (grey, scaled) vs robot keypoints, palm view (y right, z up)",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"retarget_{args.hand}.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
