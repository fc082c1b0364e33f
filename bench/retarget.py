"""Benchmark: retargeting speed, jitter and solution quality, single thread.

    python bench/retarget.py [--hands procedural21 leap] [--quality-every 10] [--no-dex]

On the shared real MediaPipe recording (``../shared/data/human_streams``, 30 fps)
resampled to 90 Hz, anchored at its first frame with the robot at the converged
absolute retarget of that frame, for each method and hand:

* median and p95 wall time per frame (ms), single thread;
* jitter: mean |q_t - q_{t-1}| (L2, rad) per frame;
* quality (optimising methods): on every k-th frame the same frame is also solved to
  convergence from the same state; reported: the median relative cost gap and the
  share of frames more than 0.1% above the converged cost;
* fingertip-vector error: mean |v_robot - s v_human| over the wrist-to-tip and
  thumb-to-tip vectors, m.

With the optional ``dex-retargeting`` extra installed (``pip install "handitl[bench]"``),
dex-retargeting's DexPilot and vector optimizers run on the same LEAP hand and frames with
their own configs, beside our absolute retargeter at their scale factor (1.6).

Prints a table, then one JSON line last.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # single thread, as the targets are stated
os.environ.setdefault("MUJOCO_GL", "disable")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from handitl.assets.hand_description import KEYPOINT_NAMES, Side  # noqa: E402
from handitl.assets.hands import build_hand  # noqa: E402
from handitl.intervention.streams.frame import HandState  # noqa: E402
from handitl.retarget import (  # noqa: E402
    METHODS,
    AbsoluteRetargeter,
    Alignment,
    HandKinematics,
    calibrate_alignment,  # fmt: skip
)
from handitl.retarget.solver import TIGHT  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RECORDING = SHARED / "data" / "human_streams" / "mediapipe21_right_wrist_frame.npy"
TIP = {f: KEYPOINT_NAMES.index(f"{f}_tip") for f in ("thumb", "index", "middle", "ring", "little")}


def resample(frames: np.ndarray, rate_in: float, rate_out: float) -> np.ndarray:
    """Linear interpolation of (N, 21, 3) keypoints from rate_in to rate_out (Hz)."""
    t_in = np.arange(len(frames)) / rate_in
    t_out = np.arange(0.0, t_in[-1] + 1e-9, 1.0 / rate_out)
    flat = frames.reshape(len(frames), -1)
    out = np.stack([np.interp(t_out, t_in, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    return out.reshape(len(t_out), 21, 3)


def hand_state(keypoints: np.ndarray) -> HandState:
    return HandState(np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]), True, keypoints,
                     np.ones(21, dtype=bool), np.ones(21))  # fmt: skip


def vector_error(kin: HandKinematics, alignment: Alignment, q: np.ndarray, human: np.ndarray) -> float:
    """Mean |v_robot - s R v_human| over wrist-to-tip and thumb-to-tip vectors (m)."""
    kin.set_q(q)
    robot = kin.fingertips()
    tips = [TIP[f] for f in kin.fingers]
    target = alignment.apply(human[tips] - human[0])
    errors = list(np.linalg.norm(robot - target, axis=1))
    thumb = kin.fingers.index("thumb")
    for i in range(len(tips)):
        if i != thumb:
            errors.append(float(np.linalg.norm((robot[i] - robot[thumb]) - (target[i] - target[thumb]))))
    return float(np.mean(errors))


def run_method(name: str, kin: HandKinematics, alignment: Alignment, frames: np.ndarray,
               q0: np.ndarray, quality_every: int) -> dict[str, float]:  # fmt: skip
    retargeter = METHODS[name](kin, alignment)
    retargeter.reset(hand_state(frames[0]), q0)
    times, jumps, errors, gaps = [], [], [], []
    previous = q0
    states = [hand_state(f) for f in frames]
    for k, state in enumerate(states):
        reference = None
        if quality_every and k % quality_every == 0 and hasattr(retargeter, "snapshot"):
            saved = retargeter.snapshot()
            reference = retargeter.retarget(state, solver=TIGHT).cost
            retargeter.restore(saved)
        start = time.perf_counter()
        result = retargeter.retarget(state)
        times.append(time.perf_counter() - start)
        if reference is not None:
            gaps.append((result.cost - reference) / max(reference, 1e-12))
        jumps.append(float(np.linalg.norm(result.q - previous)))
        previous = result.q
        if k % 5 == 0:
            errors.append(vector_error(kin, alignment, result.q, frames[k]))
    out = {
        "median_ms": round(1e3 * float(np.median(times)), 3),
        "p95_ms": round(1e3 * float(np.percentile(times, 95)), 3),
        "jitter_rad": round(float(np.mean(jumps)), 5),
        "vector_error_m": round(float(np.mean(errors)), 5),
    }
    if gaps:
        out["cost_gap_median"] = float(f"{np.median(gaps):.3g}")
        out["frames_above_0.1pct"] = round(float(np.mean(np.array(gaps) > 1e-3)), 3)
    return out


def bench_hand(hand: str, frames: np.ndarray, quality_every: int) -> dict[str, dict[str, float]]:
    kin = HandKinematics(build_hand(hand, Side.RIGHT))
    alignment = calibrate_alignment(frames[0], kin)
    absolute = AbsoluteRetargeter(kin, alignment)
    absolute.reset(hand_state(frames[0]), np.zeros(kin.nq))
    q0 = absolute.retarget(hand_state(frames[0]), solver=TIGHT).q
    results = {}
    for name in METHODS:
        results[name] = run_method(name, kin, alignment, frames, q0, quality_every)
        r = results[name]
        print(f"{hand:>12} {name:>9}: {r['median_ms']:6.3f} ms median, {r['p95_ms']:6.3f} ms p95, "
              f"jitter {r['jitter_rad']:.4f} rad/frame, vector error {1e3 * r['vector_error_m']:.1f} mm"
              + (f", cost gap median {r['cost_gap_median']:.2g}, >0.1%: {100 * r['frames_above_0.1pct']:.0f}%"
                 if "cost_gap_median" in r else ""), flush=True)  # fmt: skip
    return results


def bench_dex(frames: np.ndarray, urdf_dir: Path) -> dict[str, dict[str, float]] | None:
    """dex-retargeting's DexPilot and vector optimizers on LEAP, against our absolute
    retargeter at the same scale factor, by speed and fingertip-vector error."""
    try:
        from dex_retargeting.retargeting_config import RetargetingConfig
    except ImportError:
        print("dex-retargeting not installed: pip install 'handitl[bench]' to compare")
        return None
    import dex_retargeting

    RetargetingConfig.set_default_urdf_dir(str(urdf_dir))
    config_dir = Path(dex_retargeting.__file__).parent / "configs" / "teleop"
    kin = HandKinematics(build_hand("leap", Side.RIGHT))
    results: dict[str, dict[str, float]] = {}
    for label, config_file in (("dex_dexpilot", "leap_hand_right_dexpilot.yml"),
                               ("dex_vector", "leap_hand_right.yml")):  # fmt: skip
        retargeting = RetargetingConfig.load_from_file(config_dir / config_file).build()
        scale = float(retargeting.optimizer.scaling) if hasattr(retargeting.optimizer, "scaling") else 1.6
        indices = retargeting.optimizer.target_link_human_indices
        names = retargeting.joint_names
        order = [names.index(j) for j in kin.joint_names]
        times, errors = [], []
        for k, frame in enumerate(frames):
            ref = frame[indices[1]] - frame[indices[0]]
            start = time.perf_counter()
            q = retargeting.retarget(ref)
            times.append(time.perf_counter() - start)
            if k % 5 == 0:
                errors.append(vector_error(kin, Alignment(scale=scale), np.asarray(q)[order], frame))
        results[label] = {"median_ms": round(1e3 * float(np.median(times)), 3),
                          "p95_ms": round(1e3 * float(np.percentile(times, 95)), 3),
                          "vector_error_m": round(float(np.mean(errors)), 5), "scale": scale}  # fmt: skip
    ours = AbsoluteRetargeter(kin, Alignment(scale=1.6))
    ours.reset(hand_state(frames[0]), np.zeros(kin.nq))
    times, errors = [], []
    for k, frame in enumerate(frames):
        start = time.perf_counter()
        q = ours.retarget(hand_state(frame)).q
        times.append(time.perf_counter() - start)
        if k % 5 == 0:
            errors.append(vector_error(kin, Alignment(scale=1.6), q, frame))
    results["ours_absolute_s1.6"] = {
        "median_ms": round(1e3 * float(np.median(times)), 3),
        "p95_ms": round(1e3 * float(np.percentile(times, 95)), 3),
        "vector_error_m": round(float(np.mean(errors)), 5),
        "scale": 1.6,
    }
    for label, r in results.items():
        print(f"{'leap':>12} {label:>18}: {r['median_ms']:6.3f} ms median, {r['p95_ms']:6.3f} ms p95, "
              f"vector error {1e3 * r['vector_error_m']:.1f} mm (scale {r['scale']})")
    speedup = results["dex_dexpilot"]["median_ms"] / results["ours_absolute_s1.6"]["median_ms"]
    results["speedup_vs_dexpilot"] = {"x": round(speedup, 2)}
    print(f"our absolute retargeter is {speedup:.1f}x faster than dex-retargeting's DexPilot")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hands", nargs="+", default=["procedural21", "leap"])
    parser.add_argument("--rate", type=float, default=90.0, help="resampling rate, Hz")
    parser.add_argument("--quality-every", type=int, default=10,
                        help="compare with a converged solve every k frames (0: never)")  # fmt: skip
    parser.add_argument("--no-dex", action="store_true", help="skip the dex-retargeting comparison")
    args = parser.parse_args()
    if not RECORDING.is_file():
        raise SystemExit(f"needs the shared recording at {RECORDING}")
    urdf_dir = Path(os.environ.get("HANDITL_HAND_URDF_DIR", SHARED / "data" / "hand_urdfs"))
    os.environ["HANDITL_HAND_URDF_DIR"] = str(urdf_dir)
    frames = resample(np.load(RECORDING), 30.0, args.rate)
    print(f"{len(frames)} frames at {args.rate:.0f} Hz from {RECORDING.name}")
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}",
        "frames": len(frames),
    }
    for hand in args.hands:
        results[hand] = bench_hand(hand, frames, args.quality_every)
    if not args.no_dex:
        results["dex_retargeting"] = bench_dex(frames, urdf_dir)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
