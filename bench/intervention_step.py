"""Benchmark: latency of one full intervention step, single thread.

    python bench/intervention_step.py [--method relative] [--steps 600]

A scripted operator's stream (operator_a, moving: gestures and tremor), recorded once
and replayed as a recording (as a live or recorded stream would arrive; simulating the
operator is not part of the robot's loop), takes over the Reach task from a holding
policy; per step the wrapper reads the stream, retargets both hands, maps both wrists,
fuses, and steps the env (differential IK for both arms + 10 physics steps).
Reported for takeover and copilot: median and p95 of the wrapper's own work (everything
but ``env.step``) and of the whole step. Prints a table, then one JSON line last.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MUJOCO_GL", "disable")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

from handitl.agents import HoldPolicy  # noqa: E402
from handitl.envs import make_env  # noqa: E402
from handitl.intervention.factory import hand_retargeters  # noqa: E402
from handitl.intervention.modes import Interval, Mode, ScheduledModes  # noqa: E402
from handitl.intervention.streams import (GestureScript, RecordedSource,  # noqa: E402
                                          RecordingMetadata, ScriptedOperator, StreamRecording,
                                          get_profile)  # fmt: skip
from handitl.intervention.wrapper import InterventionWrapper  # noqa: E402


class _EnvTimer(gym.Wrapper):
    """Times env.step below the intervention wrapper."""

    def step(self, action):
        start = time.perf_counter()
        out = self.env.step(action)
        self.elapsed = time.perf_counter() - start
        return out


def run(method: str, mode: Mode, steps: int) -> dict[str, float]:
    env = _EnvTimer(make_env("Reach", terminate_on_success=False))
    script = GestureScript.of(("relaxed", 2.0), ("power_grasp", 2.0), ("open", 2.0), ("pinch", 2.0),
                              ("relaxed", 100.0))  # fmt: skip
    operator = ScriptedOperator(get_profile("operator_a"), script, seed=0)
    operator.reset(0)
    dt = env.unwrapped.control_dt
    frames = [operator.frame_at(k * dt) for k in range(steps + 20)]
    stream = RecordedSource(StreamRecording.from_frames(
        frames, RecordingMetadata(source="simulated", nominal_rate_hz=1.0 / dt)))
    wrapper = InterventionWrapper(env, stream, hand_retargeters(env.unwrapped, method),
                                  ScheduledModes([Interval(0.1, 1e9, mode)]))  # fmt: skip
    obs, _ = wrapper.reset(seed=0)
    policy = HoldPolicy(env.unwrapped.layout)
    for _ in range(10):
        obs, *_ = wrapper.step(policy(obs))
    total, own = [], []
    for _ in range(steps):
        action = policy(obs)
        start = time.perf_counter()
        obs, *_ = wrapper.step(action)
        elapsed = time.perf_counter() - start
        total.append(elapsed)
        own.append(elapsed - env.elapsed)
    wrapper.close()
    return {
        "wrapper_median_ms": round(1e3 * float(np.median(own)), 3),
        "wrapper_p95_ms": round(1e3 * float(np.percentile(own, 95)), 3),
        "step_median_ms": round(1e3 * float(np.median(total)), 3),
        "step_p95_ms": round(1e3 * float(np.percentile(total, 95)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="relative")
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    results: dict[str, object] = {"machine": f"{platform.machine()}, {os.cpu_count()} cpus",
                                  "method": args.method}  # fmt: skip
    for mode in (Mode.TAKEOVER, Mode.COPILOT):
        r = run(args.method, mode, args.steps)
        results[mode.name.lower()] = r
        print(f"{mode.name.lower():>9} ({args.method}): wrapper {r['wrapper_median_ms']:.3f} ms median, "
              f"{r['wrapper_p95_ms']:.3f} p95; whole step incl. env {r['step_median_ms']:.3f} ms median, "
              f"{r['step_p95_ms']:.3f} p95")  # fmt: skip
    print(json.dumps(results))


if __name__ == "__main__":
    main()
