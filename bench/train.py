"""Benchmark: training throughput and inference latency of the chunk policies.

    python bench/train.py [--task BreadClip] [--threads 1] [--seconds 5] [--device auto] [--batch 256]
                          [--cameras 1] [--image-size 84]

Shapes are the real ones: the task's default state vector (S) and action vector (A) from
a reset observation, H = 16, the default MLP (3 x 256) and K = 10 Euler steps. Per model
(flow matching, behaviour cloning, FlowCorrect with its gate on, and flow matching with
the optional image encoder on ``--cameras`` synthetic uint8 images of ``--image-size``
pixels square, ``flow_vision``; ``--cameras 0`` leaves it out):

- **train samples/s**: optimiser steps at batch 256 (``--batch``) on in-memory data, after
  warm-up;
- **latency per chunk**: one ``ChunkPolicy.predict_chunk`` on a real observation
  (normalisation, noise, K network evaluations for flow, denormalisation), median and
  p95 over repeated calls; a policy replans every n_exec = 8 ticks, so at 50 Hz control
  a chunk must take well under 160 ms.

Prints a table, then one JSON line last.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "disable")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from handitl.agents.data import ChunkSamples, state_vector  # noqa: E402
from handitl.agents.flowcorrect import FlowCorrectConfig, RepairedFlowModel  # noqa: E402
from handitl.agents.learned import ChunkPolicy  # noqa: E402
from handitl.agents.models import BCConfig, BCModel, FlowConfig, FlowMatchingModel  # noqa: E402
from handitl.agents.training import TrainConfig, Trainer, TrainingData  # noqa: E402
from handitl.agents.vision import VisionConfig  # noqa: E402
from handitl.envs import make_env  # noqa: E402

HORIZON = 16
BATCH = 256


def build(kind: str, s: int, a: int, cameras: int = 0) -> torch.nn.Module:
    flow = FlowConfig(s, a, HORIZON)
    if kind == "flow":
        return FlowMatchingModel(flow)
    if kind == "flow_vision":
        return FlowMatchingModel(FlowConfig(s, a, HORIZON, vision=VisionConfig(cameras)))
    if kind == "bc":
        return BCModel(BCConfig(s, a, HORIZON))
    return RepairedFlowModel(FlowCorrectConfig(base=flow))


def train_rate(model: torch.nn.Module, samples: ChunkSamples, device: torch.device, seconds: float,
               batch: int = BATCH) -> float:  # fmt: skip
    """Training samples per second (after 5 warm-up steps)."""
    norm = samples.fit_normalization(image_keys=_camera_names(samples))
    labels = np.arange(len(samples)) % 4 == 0  # FlowCorrect: a quarter corrections, the rest anchors
    samples = ChunkSamples(samples.states, samples.chunks, labels, samples.success, samples.images)
    trainer = Trainer(
        model,
        TrainingData.from_samples(samples, norm, device=device),
        TrainConfig(steps=10**9, batch_size=batch),
        device,
    )
    for _ in range(5):
        trainer.train_step()
    _sync(device)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        trainer.train_step()
        steps += 1
    _sync(device)
    return steps * batch / (time.perf_counter() - start)


def latency(
    model: torch.nn.Module, samples: ChunkSamples, obs: dict, device: torch.device, seconds: float
) -> tuple[float, float]:
    """(median, p95) ms of one chunk prediction from an observation."""
    policy = ChunkPolicy(model, samples.fit_normalization(image_keys=_camera_names(samples)), device=device)
    if samples.images is not None:
        obs = {**obs, "images": {c: samples.images[0, i] for i, c in enumerate(_camera_names(samples))}}
    for _ in range(5):
        policy.predict_chunk(obs)
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 20:
        t0 = time.perf_counter()
        policy.predict_chunk(obs)
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 95))


def _camera_names(samples: ChunkSamples) -> tuple[str, ...]:
    return () if samples.images is None else tuple(f"cam{i}" for i in range(samples.images.shape[1]))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="BreadClip")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=BATCH, help="training batch size")
    parser.add_argument("--cameras", type=int, default=1, help="images of the flow_vision model (0: skip it)")
    parser.add_argument("--image-size", type=int, default=84, help="square image side, pixels")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )

    env = make_env(args.task)
    obs, _ = env.reset(seed=0)
    s, a = len(state_vector(obs)), env.layout.size
    rng = np.random.default_rng(0)
    n = max(4096, args.batch)
    samples = ChunkSamples(
        rng.normal(size=(n, s)), rng.normal(size=(n, HORIZON, a)), np.zeros(n, bool), np.ones(n, bool)
    )

    results = {}
    print(f"{args.task}: S={s}, A={a}, H={HORIZON}, batch {args.batch}, device {device}, "
          f"{args.threads} thread(s)")  # fmt: skip
    print("| model | train samples/s | chunk latency median ms | p95 ms |")
    print("|---|---|---|---|")
    kinds = ["flow", "bc", "flowcorrect"] + (["flow_vision"] if args.cameras > 0 else [])
    for kind in kinds:
        torch.manual_seed(0)
        model = build(kind, s, a, args.cameras)
        data = samples
        if kind == "flow_vision":
            side = args.image_size
            images = rng.integers(0, 256, size=(n, args.cameras, side, side, 3), dtype=np.uint8)
            data = ChunkSamples(samples.states, samples.chunks, samples.labels, samples.success, images)
        rate = train_rate(model, data, device, args.seconds, args.batch)
        med, p95 = latency(model, data, obs, device, args.seconds / 2)
        results[kind] = {
            "train_samples_per_s": round(rate, 1),
            "latency_ms_median": round(med, 3),
            "latency_ms_p95": round(p95, 3),
        }
        print(f"| {kind} | {rate:.0f} | {med:.2f} | {p95:.2f} |")
    record = {
        "bench": "train",
        "task": args.task,
        "state_dim": s,
        "action_dim": a,
        "horizon": HORIZON,
        "batch": args.batch,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "integration_steps": 10,
        "vision_cameras": args.cameras,
        "image_size": args.image_size,
        "device": str(device),
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        **results,
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()
