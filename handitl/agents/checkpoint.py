"""Policy checkpoints: weights, normalisation, model config and (optionally) training state.

One file says everything needed to act: which model (``kind``) with which config, its
weights (float32, stored exactly), the state/action normalisation it was trained with and
the receding-horizon settings. Loading builds the same model and a
:class:`~handitl.agents.learned.ChunkPolicy` whose actions equal the saved one's bit for
bit (same weights, same inputs, same seeded noise). Files are read with
``torch.load(weights_only=True)``: plain containers and tensors only, no pickled code.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from handitl.agents.data import Normalization
from handitl.agents.flowcorrect import RepairedFlowModel, flowcorrect_config_from_dict
from handitl.agents.models import (
    BCModel,
    ChunkModel,
    FlowMatchingModel,
    bc_config_from_dict,
    flow_config_from_dict,
)

FORMAT_NAME = "handitl.policy"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file is not a readable handitl policy checkpoint."""


MODEL_BUILDERS: dict[str, Callable[[dict[str, Any]], nn.Module]] = {
    FlowMatchingModel.kind: lambda d: FlowMatchingModel(flow_config_from_dict(d)),
    BCModel.kind: lambda d: BCModel(bc_config_from_dict(d)),
    RepairedFlowModel.kind: lambda d: RepairedFlowModel(flowcorrect_config_from_dict(d)),
}
"""Model kind -> builder from its config dict (``dataclasses.asdict`` of the config)."""


@dataclasses.dataclass(frozen=True)
class PolicySettings:
    """How a chunk model is run as a policy (stored with the weights)."""

    n_exec: int = 8
    """Actions of each predicted chunk executed before predicting again (receding horizon)."""
    seed: int = 0
    """Seed of the flow noise generator, re-applied at every policy reset."""


@dataclasses.dataclass
class Checkpoint:
    """A loaded checkpoint."""

    model: nn.Module
    normalization: Normalization
    settings: PolicySettings
    meta: dict[str, Any]
    train_state: dict[str, Any] | None


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    normalization: Normalization,
    settings: PolicySettings | None = None,
    meta: dict[str, Any] | None = None,
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Write atomically (temporary file, then rename), so a killed run never leaves a
    half-written checkpoint under ``path``."""
    if not isinstance(model, ChunkModel) or model.kind not in MODEL_BUILDERS:
        raise TypeError(f"not a known chunk model: {type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kind": model.kind,
        "config": dataclasses.asdict(model.config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "normalization": normalization.to_dict(),
        "settings": dataclasses.asdict(settings or PolicySettings()),
        "meta": dict(meta or {}),
        "train_state": train_state,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint and rebuild its model (in eval mode); raises :class:`CheckpointError`."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path}: not a handitl policy checkpoint")
    if payload["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {payload['format_version']}, this handitl reads {FORMAT_VERSION}"
        )
    try:
        model = MODEL_BUILDERS[payload["kind"]](payload["config"])
    except KeyError:
        raise CheckpointError(f"{path}: unknown model kind {payload['kind']!r}") from None
    model.load_state_dict(payload["state_dict"])
    model.to(map_location).eval()
    return Checkpoint(
        model,
        Normalization.from_dict(payload["normalization"]),
        PolicySettings(**payload["settings"]),
        payload["meta"],
        payload["train_state"],
    )


__all__ = [
    "MODEL_BUILDERS",
    "Checkpoint",
    "CheckpointError",
    "PolicySettings",
    "load_checkpoint",
    "save_checkpoint",
]
