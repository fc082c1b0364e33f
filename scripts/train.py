"""Train a chunk policy (flow matching, behaviour cloning, or FlowCorrect repair), headless.

    python scripts/train.py task=BreadClip data.teleop_demos=20              # demos, then flow
    python scripts/train.py data.demos=[runs/demos] model.kind=bc train.steps=5000
    python scripts/train.py init=runs/base/policy.pt data.demos=[runs/demos] \
        data.corrections=[runs/takeover] dexhil.enabled=true dexhil.target=0.5   # DexHiL
    python scripts/train.py model.kind=flowcorrect flowcorrect.base=runs/base/policy.pt \
        data.demos=[runs/demos] data.corrections=[runs/corrections]           # FlowCorrect
    python scripts/train.py resume=runs/train/<run>/policy.pt                 # continue a run
    MUJOCO_GL=egl python scripts/train.py task=BreadClip data.teleop_demos=20 \
        data.image_keys=[top,third] data.image_size=[84,84]                   # + camera images

With ``data.image_keys`` the policy also sees those cameras' images through a small conv
encoder with spatial softmax (``model.vision``, :mod:`handitl.agents.vision`); demos must
hold ``images/<camera>`` (record them with the env's ``image_cameras``, which needs a GL
backend: ``MUJOCO_GL=egl``). The images are held in memory and on the training device as
uint8: steps x cameras x h x w x 3 bytes (100 000 steps of two 84x84 cameras: 4.2 GB).

Writes ``<run dir>/policy.pt`` (weights, normalisation, config, training state: every
``train.checkpoint_every`` steps and at the end; ``resume=`` continues from it to
``train.steps``) and ``<run dir>/wandb`` (offline unless ``wandb.mode=online``;
``wandb.mode=disabled`` needs no wandb at all). The device is CUDA when available.

Several GPUs (DDP, one process per GPU; each takes ``train.batch_size`` samples a step):

    torchrun --standalone --nproc_per_node=4 scripts/train.py task=BreadClip data.demos=[d]

Sweeps with hydra multirun, locally in parallel processes with the joblib launcher
(``pip install hydra-joblib-launcher``) or on a SLURM cluster with the submitit launcher
(``pip install hydra-submitit-launcher``):

    python scripts/train.py -m hydra/launcher=joblib hydra.launcher.n_jobs=2 \
        model.kind=flow,bc train.seed=0,1,2 data.demos=[runs/demos]
    python scripts/train.py -m hydra/launcher=submitit_slurm hydra.launcher.partition=gpu \
        hydra.launcher.gpus_per_node=1 hydra.launcher.timeout_min=120 \
        dexhil.enabled=false,true data.demos=[runs/demos] data.corrections=[runs/corr]
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "disable")  # demos are recorded state-only
os.environ.setdefault("WANDB_SILENT", "true")

import hydra  # noqa: E402
import torch  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from handitl.agents.checkpoint import PolicySettings, load_checkpoint, save_checkpoint  # noqa: E402
from handitl.agents.data import (  # noqa: E402
    DEFAULT_STATE_KEYS,
    ChunkSamples,
    Normalization,
    chunk_samples,
    concat_samples,
    load_trajectories,
)
from handitl.agents.flowcorrect import FlowCorrectConfig, RepairedFlowModel  # noqa: E402
from handitl.agents.models import BCConfig, BCModel, FlowConfig, FlowMatchingModel  # noqa: E402
from handitl.agents.training import TrainConfig, Trainer, TrainingData  # noqa: E402
from handitl.agents.vision import VisionConfig  # noqa: E402
from handitl.agents.weighting import intervention_weights  # noqa: E402

MODEL_KINDS = ("flow", "bc", "flowcorrect")


def select_device(name: str) -> torch.device:
    """``auto``: the local-rank CUDA device when there is one, else the CPU."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def sample_layout(cfg: DictConfig) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """(state keys, camera names, horizon H) of the samples: a policy trained further
    (``resume``, ``init``, FlowCorrect's base) keeps its own, whatever ``data`` says."""
    source = cfg.resume or cfg.init or (cfg.flowcorrect.base if cfg.model.kind == "flowcorrect" else None)
    if source:
        ckpt = load_checkpoint(source)
        norm = ckpt.normalization
        return norm.state_keys, norm.image_keys, int(ckpt.model.horizon)
    keys = tuple(cfg.data.state_keys) if cfg.data.state_keys else DEFAULT_STATE_KEYS
    return keys, tuple(cfg.data.image_keys or ()), int(cfg.data.horizon)


def demo_sources(
    cfg: DictConfig, out_dir: Path, is_main: bool, image_keys: tuple[str, ...] = ()
) -> list[str]:
    """The demo episode sources; records simulated teleop demos first when asked."""
    if cfg.data.demos or cfg.data.teleop_demos <= 0:
        return [str(p) for p in cfg.data.demos]
    demo_dir = out_dir / "demos"
    if is_main and not any(demo_dir.glob("episode_*.h5")):
        from handitl.agents.teleop import TeleopConfig, record_teleop_demos

        steps = cfg.data.max_steps
        config = TeleopConfig(task=cfg.task, operator=cfg.data.operator,
                              max_steps=None if steps is None else int(steps),
                              image_cameras=image_keys, image_size=tuple(cfg.data.image_size))  # fmt: skip
        seeds = range(int(cfg.data.demo_seed), int(cfg.data.demo_seed) + int(cfg.data.teleop_demos))
        with tqdm(total=len(seeds), desc="teleop demos", unit="ep", disable=not cfg.progress) as bar:
            results = record_teleop_demos(config, demo_dir, seeds, progress=lambda r: bar.update())
        ok = sum(r.success for r in results)
        print(f"teleop demos: {ok}/{len(results)} successful, in {demo_dir}")
    _barrier()
    return [str(demo_dir)]


def load_samples(cfg: DictConfig, out_dir: Path, is_main: bool = True) -> ChunkSamples:
    """Demo samples (labels False: offline data) and correction samples (labels: the
    per-frame intervention flags); FlowCorrect keeps corrections plus successful anchors."""
    keys, cameras, horizon = sample_layout(cfg)
    parts = []
    demos = demo_sources(cfg, out_dir, is_main, cameras)
    if demos:
        demo_trajs = load_trajectories(demos, keys, demonstrations=True, image_keys=cameras)
        parts.append(chunk_samples(demo_trajs, horizon))
    if cfg.data.corrections:
        corrections = load_trajectories(
            cfg.data.corrections, keys, cfg.data.last_intervention_only, image_keys=cameras
        )
        parts.append(chunk_samples(corrections, horizon))
    if not parts:
        raise ValueError("no training data: give data.demos, data.corrections or data.teleop_demos > 0")
    samples = concat_samples(parts)
    if cfg.model.kind == "flowcorrect":
        anchors = ~samples.labels & samples.success
        if not anchors.any():
            warnings.warn("no successful-rollout anchors: every uncorrected sample anchors", stacklevel=2)
            anchors = ~samples.labels
        samples = samples.subset(samples.labels | anchors)
        if not samples.labels.any():
            raise ValueError("FlowCorrect needs correction samples (intervention frames) in data.corrections")
    return samples


def build_model(
    cfg: DictConfig, state_dim: int, action_dim: int, num_cameras: int = 0
) -> tuple[torch.nn.Module, Normalization | None]:
    """A fresh model, or the ``init`` checkpoint's / FlowCorrect base's, with the
    normalisation it must keep (None: fit it on the data)."""
    kind = cfg.model.kind
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model.kind {kind!r}; choose from {MODEL_KINDS}")
    if kind == "flowcorrect":
        if not cfg.flowcorrect.base:
            raise ValueError("model.kind=flowcorrect needs flowcorrect.base=<flow policy checkpoint>")
        base = load_checkpoint(cfg.flowcorrect.base)
        if not isinstance(base.model, FlowMatchingModel):
            raise ValueError(f"flowcorrect.base must be a flow policy, got {base.model.kind!r}")
        fc = OmegaConf.to_container(cfg.flowcorrect, resolve=True)
        assert isinstance(fc, dict)
        fc.pop("base")
        fc["gate_hidden"] = tuple(fc["gate_hidden"])
        return RepairedFlowModel(
            FlowCorrectConfig(base=base.model.config, **fc), base.model
        ), base.normalization
    if cfg.init:
        ckpt = load_checkpoint(cfg.init)
        if ckpt.model.kind != kind:
            raise ValueError(f"init checkpoint is a {ckpt.model.kind!r} model, model.kind is {kind!r}")
        return ckpt.model, ckpt.normalization
    m, horizon = cfg.model, int(cfg.data.horizon)
    vision = None
    if num_cameras:
        v = m.vision
        vision = VisionConfig(num_cameras, int(v.keypoints), tuple(v.channels), int(v.shift))
    if kind == "flow":
        config = FlowConfig(
            state_dim,
            action_dim,
            horizon,
            tuple(m.hidden),
            int(m.time_features),
            int(m.integration_steps),
            vision=vision,
        )
        return FlowMatchingModel(config), None
    return BCModel(BCConfig(state_dim, action_dim, horizon, tuple(m.hidden), vision)), None


def train_config(cfg: DictConfig) -> TrainConfig:
    t = OmegaConf.to_container(cfg.train, resolve=True)
    assert isinstance(t, dict)
    return TrainConfig(**t)


def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return int(os.environ.get("RANK", 0)), world


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def run(cfg: DictConfig, out_dir: Path) -> Path:
    """Train as ``cfg`` says; returns the checkpoint path (written by rank 0)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rank, world = _distributed()
    is_main = rank == 0
    device = select_device(cfg.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    samples = load_samples(cfg, out_dir, is_main)
    resume_state: dict[str, Any] | None = None
    if cfg.resume:
        ckpt = load_checkpoint(cfg.resume, map_location="cpu")
        model, normalization, resume_state = ckpt.model, ckpt.normalization, ckpt.train_state
        if resume_state is None:
            raise ValueError(f"{cfg.resume} has no training state to resume from (use init= to fine-tune)")
    else:
        cameras = 0 if samples.images is None else samples.images.shape[1]
        model, normalization = build_model(cfg, samples.states.shape[1], samples.chunks.shape[2], cameras)
    normalization = normalization or samples.fit_normalization(*sample_layout(cfg)[:2])
    weights = intervention_weights(samples.labels, float(cfg.dexhil.target)) if cfg.dexhil.enabled else None
    data = TrainingData.from_samples(samples, normalization, weights, device)
    wrap = None
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        def wrap(module: torch.nn.Module) -> torch.nn.Module:
            return DistributedDataParallel(
                module, device_ids=[device.index] if device.type == "cuda" else None
            )

    trainer = Trainer(model, data, train_config(cfg), device, rank=rank, wrap=wrap)
    if resume_state is not None:
        trainer.load_state_dict(resume_state)
    path = out_dir / "policy.pt"
    settings = PolicySettings(int(cfg.policy.n_exec), int(cfg.policy.seed))
    meta = {
        "task": cfg.task,
        "num_samples": len(samples),
        "intervention_share": float(samples.labels.mean()),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    if is_main:
        print(
            f"{len(samples)} samples ({samples.labels.mean():.1%} interventions), model {cfg.model.kind}, "
            f"device {device}, world {world}, from step {trainer.step}"
        )
        if samples.images is not None:  # held whole on the training device, as uint8
            print(f"camera images {samples.images.shape[1:]} uint8: {samples.images.nbytes / 2**30:.2f} GiB")
    logger = _WandbLogger(cfg, out_dir) if is_main else None
    bar = tqdm(
        total=trainer.config.steps, initial=trainer.step, desc="train", disable=not (cfg.progress and is_main)
    )

    def on_log(step: int, loss: float) -> None:
        bar.set_postfix(loss=f"{loss:.4f}")
        if is_main and not cfg.progress:  # headless logs still show the curve
            print(f"step {step} loss {loss:.5f}", flush=True)
        if logger is not None:
            logger.log(step, loss)

    def on_checkpoint(step: int) -> None:
        if is_main:
            save_checkpoint(
                path, model, normalization, settings, {**meta, "step": step}, trainer.state_dict()
            )

    with bar:
        trainer.run(on_log=on_log, on_checkpoint=on_checkpoint, progress=lambda step: bar.update())
    if logger is not None:
        logger.finish()
    _barrier()
    if world > 1:
        torch.distributed.destroy_process_group()
    return path


class _WandbLogger:
    """Loss curve to Weights & Biases (offline by default); wandb imported only when used."""

    def __init__(self, cfg: DictConfig, out_dir: Path) -> None:
        self._run = None
        if cfg.wandb.mode == "disabled":
            return
        try:
            import wandb
        except ImportError as exc:
            raise ImportError(
                "wandb logging needs `pip install wandb`; or run with wandb.mode=disabled"
            ) from exc
        self._run = wandb.init(
            project=cfg.wandb.project,
            group=cfg.wandb.group,
            mode=cfg.wandb.mode,
            dir=str(out_dir),
            config=OmegaConf.to_container(cfg, resolve=True),
        )

    def log(self, step: int, loss: float) -> None:
        if self._run is not None:
            self._run.log({"train/loss": loss}, step=step)

    def finish(self) -> None:
        if self._run is not None:
            self._run.finish()


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    path = run(cfg, out_dir)
    if int(os.environ.get("RANK", 0)) == 0:
        print(f"checkpoint: {path}")


if __name__ == "__main__":
    main()
