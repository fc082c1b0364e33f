"""Training loop of chunk models: minibatch SGD on in-memory samples, resumable.

The whole dataset lives on the training device as tensors (state datasets are small: a
million samples of ~150 floats is under 1 GB; camera images stay uint8, 12 kB per 64x64
image, and become floats only per minibatch), so a step is an index draw and a
forward/backward pass, no data-loader workers. All randomness (minibatch indices,
flow noise and times) comes from generators seeded from ``TrainConfig.seed`` and the
process rank, and their states are part of :meth:`Trainer.state_dict`, so a resumed run
continues the same random streams. Under ``torchrun`` the model is wrapped in
DistributedDataParallel by the caller (``scripts/train.py``); the loss goes through
:class:`LossModule` so that DDP sees a ``forward`` call and synchronises gradients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from handitl.agents.data import ChunkSamples, Normalization


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings."""

    steps: int = 2000
    """Total optimiser steps (a resumed run stops at the same total)."""
    batch_size: int = 256
    """Samples per step and process."""
    lr: float = 3e-4
    """AdamW learning rate."""
    weight_decay: float = 1e-6
    grad_clip: float = 1.0
    """Max global gradient norm (0: no clipping)."""
    seed: int = 0
    log_every: int = 50
    """Steps between log callbacks."""
    checkpoint_every: int = 500
    """Steps between checkpoint callbacks (0: only at the end)."""


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """Normalised samples on the training device (M of them)."""

    states: torch.Tensor
    """(M, S) float32."""
    chunks: torch.Tensor
    """(M, H, A) float32."""
    labels: torch.Tensor
    """(M,) bool intervention labels."""
    weights: torch.Tensor
    """(M,) float32 per-sample loss weights (1 without DexHiL)."""
    images: torch.Tensor | None = None
    """(M, C, h, w, 3) uint8 camera images (None: state only)."""

    def __len__(self) -> int:
        return len(self.states)

    @classmethod
    def from_samples(
        cls,
        samples: ChunkSamples,
        normalization: Normalization,
        weights: np.ndarray | None = None,
        device: str | torch.device = "cpu",
    ) -> TrainingData:
        states, chunks = samples.normalized(normalization)
        w = np.ones(len(samples)) if weights is None else np.asarray(weights)
        return cls(
            torch.as_tensor(states, device=device),
            torch.as_tensor(chunks, device=device),
            torch.as_tensor(samples.labels, device=device),
            torch.as_tensor(w, dtype=torch.float32, device=device),
            None if samples.images is None else torch.as_tensor(samples.images, device=device),
        )


class LossModule(nn.Module):
    """``forward`` = the model's loss (DDP only synchronises through ``forward``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        states: torch.Tensor,
        chunks: torch.Tensor,
        weights: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator,
        images: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if images is None:  # state-only models need not know the argument
            return self.model.loss(states, chunks, weights, generator, labels)
        return self.model.loss(states, chunks, weights, generator, labels, images=images)


class Trainer:
    """Optimises ``model`` on ``data``.

    Args:
        model: a chunk model (its ``requires_grad`` parameters are optimised: a
            FlowCorrect model exposes only its adapters and gate).
        data: the normalised samples, on ``device``.
        config: optimisation settings.
        device: training device.
        rank: process rank (0 without DDP): offsets the random streams.
        wrap: optional wrapper of the loss module (``DistributedDataParallel``).
    """

    def __init__(
        self,
        model: nn.Module,
        data: TrainingData,
        config: TrainConfig,
        device: str | torch.device = "cpu",
        rank: int = 0,
        wrap: Callable[[nn.Module], nn.Module] | None = None,
    ) -> None:
        if len(data) == 0:
            raise ValueError("no training samples")
        self.model = model.to(device)
        self.data = data
        self.config = config
        self.device = torch.device(device)
        loss_module = LossModule(self.model)
        self.loss_module = wrap(loss_module) if wrap is not None else loss_module
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the model has no trainable parameters")
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.step = 0
        self._index_gen = torch.Generator(device="cpu").manual_seed(config.seed * 1000 + rank)
        self._noise_gen = torch.Generator(device=self.device).manual_seed(config.seed * 1000 + rank + 1)

    def train_step(self) -> float:
        """One optimiser step; returns the minibatch loss."""
        self.model.train()
        n = len(self.data)
        idx = torch.randint(n, (min(self.config.batch_size, n),), generator=self._index_gen).to(self.device)
        d = self.data
        images = None if d.images is None else d.images[idx]
        loss = self.loss_module(
            d.states[idx], d.chunks[idx], d.weights[idx], d.labels[idx], self._noise_gen, images
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        self.optimizer.step()
        self.step += 1
        return float(loss.detach())

    def run(
        self,
        on_log: Callable[[int, float], None] | None = None,
        on_checkpoint: Callable[[int], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[float]:
        """Train until ``config.steps``; returns every step's loss. ``progress(step)``
        after every step (a progress bar), ``on_log(step, mean loss since the last log)``
        every ``log_every`` steps, ``on_checkpoint(step)`` every ``checkpoint_every`` and
        at the end."""
        losses: list[float] = []
        since_log: list[float] = []
        c = self.config
        while self.step < c.steps:
            loss = self.train_step()
            losses.append(loss)
            since_log.append(loss)
            if progress is not None:
                progress(self.step)
            if on_log is not None and (self.step % c.log_every == 0 or self.step == c.steps):
                on_log(self.step, float(np.mean(since_log)))
                since_log = []
            due = self.step == c.steps or (c.checkpoint_every > 0 and self.step % c.checkpoint_every == 0)
            if on_checkpoint is not None and due:
                on_checkpoint(self.step)
        self.model.eval()
        return losses

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs besides the weights (stored in the checkpoint)."""
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "index_generator": self._index_gen.get_state(),
            "noise_generator": self._noise_gen.get_state().cpu(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._index_gen.set_state(state["index_generator"])
        self._noise_gen.set_state(state["noise_generator"])


__all__ = ["LossModule", "TrainConfig", "Trainer", "TrainingData"]
