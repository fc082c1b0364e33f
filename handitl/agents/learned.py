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
        vision = model.conditioner.vision
        cameras = 0 if vision is None else vision.num_cameras
        if cameras != len(normalization.image_keys) or (cameras and normalization.image_size is None):
            raise ValueError(
                f"the model sees {cameras} camera image(s) but the normalisation names cameras "
                f"{list(normalization.image_keys)} of size {normalization.image_size}"
            )
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

    @property
    def env_overrides(self) -> dict[str, Any]:
        """EnvConfig fields the env must have for this policy's observations (the camera
        images of a vision policy; empty for a state policy): ``make_env(task, **overrides)``."""
        norm = self.normalization
        if not norm.image_keys:
            return {}
        return {"image_cameras": tuple(norm.image_keys), "image_size": norm.image_size}

    def reset(self) -> None:
        self._generator.manual_seed(self.settings.seed)
        self._queue.clear()

    def predict_chunk(self, observation: dict[str, Any]) -> np.ndarray:
        """(H, A) float64 action chunk for one observation (draws noise from the generator)."""
        state = self.normalization.state.normalize(state_vector(observation, self.normalization.state_keys))
        states = torch.as_tensor(state, dtype=torch.float32, device=self.device)[None]
        noise = torch.randn((1, self.horizon, self.action_dim), generator=self._generator).to(self.device)
        with torch.no_grad():
            if self.normalization.image_keys:
                images = torch.as_tensor(self._images(observation), device=self.device)[None]
                chunk = self.model.predict(states, noise, images=images)[0].cpu().numpy()
            else:
                chunk = self.model.predict(states, noise)[0].cpu().numpy()
        return self.normalization.action.denormalize(chunk)

    def _images(self, observation: dict[str, Any]) -> np.ndarray:
        """(C, h, w, 3) uint8 camera images of ``observation``, checked against the layout
        the policy was trained on."""
        norm = self.normalization
        rendered = observation.get("images") or {}
        missing = [c for c in norm.image_keys if c not in rendered]
        if missing:
            raise ValueError(
                f"this policy needs camera images {list(norm.image_keys)} (missing {missing}); make the "
                f"env with {self.env_overrides}"
            )
        images = np.stack([np.asarray(rendered[c]) for c in norm.image_keys])
        expected = (len(norm.image_keys), *(norm.image_size or ()), 3)
        if images.shape != expected or images.dtype != np.uint8:
            raise ValueError(
                f"camera images are {images.dtype} {images.shape}, the policy was trained on uint8 "
                f"{expected}; make the env with {self.env_overrides}"
            )
        return images

    def __call__(self, observation: dict[str, Any]) -> np.ndarray:
        if not self._queue:
            self._queue.extend(self.predict_chunk(observation)[: self.settings.n_exec])
        return self._queue.popleft()


__all__ = ["ChunkPolicy"]
