"""A learned chunk model run as a :class:`~handitl.agents.policies.Policy` in receding horizon.

Every ``n_exec`` control ticks the policy reads the state, predicts a chunk of H actions
and queues the first ``n_exec`` of them; executing part of a chunk keeps actions smooth
within it while replanning often enough to react. The flow noise comes from a generator
re-seeded at each :meth:`ChunkPolicy.reset`, so an episode's actions are reproducible.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handitl.agents.checkpoint import PolicySettings, load_checkpoint
from handitl.agents.data import Normalization, state_vector


class ChunkPolicy:
    """Receding-horizon policy over a chunk model (see the module docstring).

    Args:
        model: a :class:`~handitl.agents.models.ChunkModel` (flow, BC or repaired flow).
        normalization: the scalings the model was trained with.
        settings: ``n_exec`` (1..H) and the noise seed.
        device: where the model runs; noise is drawn on the CPU so that the same seed
            gives the same noise on any device.
    """

    def __init__(
        self,
        model: nn.Module,
        normalization: Normalization,
        settings: PolicySettings | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.model = model.to(device).eval()
        self.normalization = normalization
        self.settings = settings or PolicySettings()
        horizon = self.horizon = int(model.horizon)
        if not 1 <= self.settings.n_exec <= horizon:
            raise ValueError(f"n_exec must be in 1..{horizon}, got {self.settings.n_exec}")
        self.action_dim = len(normalization.action.mean)
        self.device = torch.device(device)
        self._generator = torch.Generator(device="cpu")
        self._queue: deque[np.ndarray] = deque()
        self.reset()

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | torch.device = "cpu", n_exec: int | None = None
    ) -> ChunkPolicy:
        ckpt = load_checkpoint(path, map_location=device)
        settings = ckpt.settings if n_exec is None else PolicySettings(n_exec, ckpt.settings.seed)
        return cls(ckpt.model, ckpt.normalization, settings, device)

    def reset(self) -> None:
        self._generator.manual_seed(self.settings.seed)
        self._queue.clear()

    def predict_chunk(self, observation: dict[str, Any]) -> np.ndarray:
        """(H, A) float64 action chunk for one observation (draws noise from the generator)."""
        state = self.normalization.state.normalize(state_vector(observation, self.normalization.state_keys))
        states = torch.as_tensor(state, dtype=torch.float32, device=self.device)[None]
        noise = torch.randn((1, self.horizon, self.action_dim), generator=self._generator).to(self.device)
        with torch.no_grad():
            chunk = self.model.predict(states, noise)[0].cpu().numpy()
        return self.normalization.action.denormalize(chunk)

    def __call__(self, observation: dict[str, Any]) -> np.ndarray:
        if not self._queue:
            self._queue.extend(self.predict_chunk(observation)[: self.settings.n_exec])
        return self._queue.popleft()


__all__ = ["ChunkPolicy"]
