"""Optional camera-image conditioning of chunk models.

State observations are the default; a policy may also look at camera images
(``EnvConfig.image_cameras``: uint8 (h, w, 3) per camera). Each camera gets its own small
convolutional encoder ending in a *spatial softmax* (Levine et al. 2016, the robomimic
default for low-data visuomotor policies): every feature map becomes the expected image
coordinates of its softmax, so the encoder reports *where* things are (a drill, a part,
the fingertips) in 2 numbers per keypoint rather than a large flattened map, which suits
a few dozen demonstrations. GroupNorm, not BatchNorm: no running statistics, so a frozen
encoder (FlowCorrect) and evaluation behave exactly as in training.

During training, images are shifted by up to ``shift`` pixels with the borders repeated
(the random-shift augmentation of DrQ): a few pixels of camera jitter then do not move
the policy's output. Shifts are drawn from the caller's generator, so training stays
reproducible. The :class:`Conditioner` joins the state vector and the image features into
the vector a model conditions on; without cameras it returns the state tensor itself, so
state-only models are unchanged (no parameters, no random draws).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


@dataclasses.dataclass(frozen=True)
class VisionConfig:
    """Image encoder of a chunk model (see the module docstring)."""

    num_cameras: int
    """C: camera images per observation (their names and size travel with the
    normalisation, :class:`~handitl.agents.data.Normalization`)."""
    keypoints: int = 32
    """K: spatial-softmax keypoints per camera; 2K features each."""
    channels: tuple[int, ...] = (32, 32, 64)
    """Output channels of the conv layers (the first two stride 2)."""
    shift: int = 4
    """Random-shift augmentation in training: up to this many pixels (0: none)."""

    def __post_init__(self) -> None:
        if self.num_cameras < 1:
            raise ValueError(f"VisionConfig.num_cameras must be >= 1, got {self.num_cameras}")
        if self.keypoints < 1 or not self.channels or min(self.channels) < 1 or self.shift < 0:
            raise ValueError(f"invalid VisionConfig: {self}")

    @property
    def feature_dim(self) -> int:
        return self.num_cameras * 2 * self.keypoints

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> VisionConfig | None:
        if d is None:
            return None
        return cls(**{**d, "channels": tuple(d.get("channels", cls.channels))})


class SpatialSoftmax(nn.Module):
    """(B, K, h, w) maps -> (B, 2K) expected (x, y) in [-1, 1] of each map's softmax."""

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        b, k, h, w = maps.shape
        attention = torch.softmax(maps.flatten(2), dim=-1).view(b, k, h, w)
        xs = torch.linspace(-1.0, 1.0, w, dtype=maps.dtype, device=maps.device)
        ys = torch.linspace(-1.0, 1.0, h, dtype=maps.dtype, device=maps.device)
        expected_x = (attention.sum(dim=2) * xs).sum(dim=-1)
        expected_y = (attention.sum(dim=3) * ys).sum(dim=-1)
        return torch.stack([expected_x, expected_y], dim=-1).flatten(1)


class CameraEncoder(nn.Module):
    """One camera: conv layers (GroupNorm, SiLU), a 1x1 conv to K maps, spatial softmax."""

    def __init__(self, channels: tuple[int, ...], keypoints: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i, c_out in enumerate(channels):
            stride = 2 if i < 2 else 1
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1),
                nn.GroupNorm(_groups(c_out), c_out),
                nn.SiLU(),
            ]
            c_in = c_out
        layers.append(nn.Conv2d(c_in, keypoints, 1))
        self.convs = nn.Sequential(*layers)
        self.softmax = SpatialSoftmax()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, h, w) float images in [-0.5, 0.5] -> (B, 2K)."""
        return self.softmax(self.convs(images))


def _groups(channels: int) -> int:
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


def random_shift(images: torch.Tensor, shift: int, generator: torch.Generator | None) -> torch.Tensor:
    """``images`` (B, C, h, w, 3) translated per sample by integer offsets in
    [-shift, shift] (the same for all cameras of a sample), borders repeated."""
    if shift == 0:
        return images
    b, _, h, w, _ = images.shape
    device = generator.device if generator is not None else images.device
    offsets = torch.randint(-shift, shift + 1, (b, 2), generator=generator, device=device).to(images.device)
    rows = (offsets[:, :1] + torch.arange(h, device=images.device)).clamp(0, h - 1)  # (B, h)
    cols = (offsets[:, 1:] + torch.arange(w, device=images.device)).clamp(0, w - 1)  # (B, w)
    batch = torch.arange(b, device=images.device)[:, None, None]
    shifted = images.permute(0, 2, 3, 1, 4)[batch, rows[:, :, None], cols[:, None, :]]  # (B, h, w, C, 3)
    return shifted.permute(0, 3, 1, 2, 4)


class ImageEncoder(nn.Module):
    """(B, C, h, w, 3) uint8 images -> (B, C * 2K) features, one encoder per camera."""

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.config = config
        self.cameras = nn.ModuleList(
            CameraEncoder(config.channels, config.keypoints) for _ in range(config.num_cameras)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 5 or images.shape[1] != self.config.num_cameras or images.shape[-1] != 3:
            raise ValueError(
                f"images must be (batch, {self.config.num_cameras} cameras, height, width, 3), "
                f"got {tuple(images.shape)}"
            )
        x = images.permute(0, 1, 4, 2, 3).float() / 255.0 - 0.5
        return torch.cat([enc(x[:, i]) for i, enc in enumerate(self.cameras)], dim=1)


class Conditioner(nn.Module):
    """The vector a chunk model conditions on: the state, plus image features when the
    model has cameras. ``dim`` is its length."""

    def __init__(self, state_dim: int, vision: VisionConfig | None) -> None:
        super().__init__()
        self.vision = vision
        self.encoder = ImageEncoder(vision) if vision is not None else None
        self.dim = state_dim + (vision.feature_dim if vision is not None else 0)

    def forward(
        self,
        states: torch.Tensor,
        images: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        augment: bool = False,
    ) -> torch.Tensor:
        """(B, dim) condition; ``augment`` applies the random shift (training)."""
        if self.encoder is None:
            if images is not None:
                raise ValueError("this model has no image encoder (vision=None), but images were given")
            return states
        assert self.vision is not None
        if images is None:
            raise ValueError(f"this model sees {self.vision.num_cameras} camera image(s); pass images")
        if augment:
            images = random_shift(images, self.vision.shift, generator)
        return torch.cat([states, self.encoder(images).to(states.dtype)], dim=1)


__all__ = ["CameraEncoder", "Conditioner", "ImageEncoder", "SpatialSoftmax", "VisionConfig", "random_shift"]
