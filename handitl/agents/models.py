"""Torch action-chunk models: a flow-matching policy and a behaviour-cloning baseline.

Both map a normalised state vector ``s`` (B, S) to a normalised action chunk (B, H, A)
(see :mod:`handitl.agents.data`) and share one small interface, :class:`ChunkModel`:
``loss(states, chunks, weights)`` for training and ``predict(states, noise)`` for acting,
so training, checkpoints and the receding-horizon policy do not care which one it is.
With a :class:`~handitl.agents.vision.VisionConfig` they also see camera images
(``images=`` (B, C, h, w, 3) uint8), encoded and joined to the state by a
:class:`~handitl.agents.vision.Conditioner`; the networks below read that condition.

Flow matching (rectified flow / conditional OT path): with noise ``x0 ~ N(0, I)`` and a
data chunk ``x1``, ``x_t = (1 - t) x0 + t x1`` moves at the constant velocity
``x1 - x0``; an MLP ``f(x_t, t, s)`` regresses it. Acting integrates
``dx/dt = f(x, t, s)`` from the noise with K explicit Euler steps. Noise is an argument,
not drawn inside, so that a seeded generator upstream makes acting reproducible.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from handitl.agents.vision import Conditioner, VisionConfig


@runtime_checkable
class ChunkModel(Protocol):
    """What training, checkpoints and :class:`~handitl.agents.learned.ChunkPolicy` need."""

    kind: ClassVar[str]
    config: Any

    @property
    def horizon(self) -> int:
        """H: actions per chunk."""

    @property
    def conditioner(self) -> Conditioner:
        """Joins the state and (with vision) image features; ``.vision`` its config."""

    def loss(
        self,
        states: torch.Tensor,
        chunks: torch.Tensor,
        weights: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        images: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scalar training loss of normalised (B, S) states and (B, H, A) chunks; ``weights``
        (B,) scale each sample's term (DexHiL), ``generator`` draws the training noise,
        ``labels`` (B,) bool are the intervention labels (used by FlowCorrect only),
        ``images`` (B, C, h, w, 3) uint8 the camera images of a model with vision."""

    def predict(
        self, states: torch.Tensor, noise: torch.Tensor, images: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, H, A) normalised chunks for (B, S) states; ``noise`` (B, H, A) ~ N(0, I)."""


class MLP(nn.Module):
    """Linear layers with SiLU between them (none after the last)."""

    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = nn.functional.silu(x)
        return x


def time_features(t: torch.Tensor, size: int) -> torch.Tensor:
    """(B, size) sinusoidal features of flow times ``t`` (B,) in [0, 1]: fixed
    log-spaced frequencies, so the embedding has no weights to store or train."""
    half = size // 2
    freqs = torch.exp(
        torch.arange(half, dtype=t.dtype, device=t.device) * (-math.log(1000.0) / max(half - 1, 1))
    )
    angles = t[:, None] * freqs[None, :] * (2.0 * math.pi)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


_MIN_REMAINING_TIME = 1e-3
"""Floor of 1 - t in the velocity of a data-predicting field (Euler never evaluates t = 1)."""


def weighted_mean(per_sample: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if weights is None:
        return per_sample.mean()
    return (per_sample * weights).sum() / weights.sum().clamp_min(1e-12)


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """Shape and solver of a :class:`FlowMatchingModel`."""

    state_dim: int
    """S: length of the (normalised) state vector."""
    action_dim: int
    """A: length of the env's action vector."""
    horizon: int = 16
    """H: actions per predicted chunk (control ticks)."""
    hidden: tuple[int, ...] = (256, 256, 256)
    """Hidden layer widths of the velocity MLP."""
    time_features: int = 32
    """Sinusoidal features of the flow time fed to the MLP."""
    integration_steps: int = 10
    """K: explicit Euler steps from noise to a chunk."""
    data_prediction: bool = True
    """The MLP outputs the clean chunk x1_hat and the velocity is (x1_hat - x) / (1 - t);
    False: the MLP outputs the velocity. A velocity net must carry x_t (H*A = 864 values
    for the bimanual env) through hidden layers narrower than that, and plateaus near the
    data variance; predicting the chunk lets it ignore x_t where the data are unimodal
    (the same field, parameterised for an MLP narrower than its output)."""
    vision: VisionConfig | None = None
    """Image encoder (None: state only)."""


class FlowMatchingModel(nn.Module):
    """MLP velocity field over a flattened action chunk, conditioned on the state (and
    image features, with vision).

    :meth:`velocity`, :meth:`field`, :meth:`output` and :meth:`integrate` take the
    condition ``cond`` (B, D) of :meth:`condition`: the state itself without vision."""

    kind: ClassVar[str] = "flow"

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.chunk_size = c.horizon * c.action_dim
        self.conditioner = Conditioner(c.state_dim, c.vision)
        self.net = MLP([self.chunk_size + c.time_features + self.conditioner.dim, *c.hidden, self.chunk_size])

    @property
    def horizon(self) -> int:
        return self.config.horizon

    def condition(self, states: torch.Tensor, images: torch.Tensor | None = None) -> torch.Tensor:
        """(B, D) condition of normalised states and (with vision) uint8 images."""
        return self.conditioner(states, images)

    def velocity(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """f(x, t, s): (B, H, A) velocity at chunks ``x`` (B, H, A), times ``t`` (B,)."""
        return self.field(self.net, x, t, cond)

    def field(self, net: nn.Module, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The velocity computed by ``net`` on this model's input layout (LoRA variants
        of :attr:`net` reuse it)."""
        out = self.output(net, x, t, cond)
        if not self.config.data_prediction:
            return out
        return (out - x) / (1.0 - t).clamp_min(_MIN_REMAINING_TIME)[:, None, None]

    def output(self, net: nn.Module, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(B, H, A) raw output of ``net``: the chunk estimate or the velocity."""
        features = torch.cat([x.flatten(1), time_features(t, self.config.time_features), cond], dim=1)
        return net(features).view_as(x)

    def loss(
        self,
        states: torch.Tensor,
        chunks: torch.Tensor,
        weights: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        images: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Conditional flow matching; with data prediction the regression is on the
        chunk (the velocity error times (1 - t), which stays bounded as t -> 1)."""
        noise = randn(chunks.shape, generator, chunks)
        t = rand((len(chunks),), generator, chunks)
        cond = self.conditioner(states, images, generator, augment=True)
        x_t = (1.0 - t[:, None, None]) * noise + t[:, None, None] * chunks
        out = self.output(self.net, x_t, t, cond)
        err = out - chunks if self.config.data_prediction else out - (chunks - noise)
        return weighted_mean(err.pow(2).flatten(1).mean(dim=1), weights)

    def integrate(self, cond: torch.Tensor, noise: torch.Tensor, field: Any = None) -> torch.Tensor:
        """Euler-integrate ``field`` (default :meth:`velocity`) from ``noise`` over K steps."""
        field = field or self.velocity
        k = self.config.integration_steps
        x = noise
        for n in range(k):
            t = torch.full((len(x),), n / k, dtype=x.dtype, device=x.device)
            x = x + field(x, t, cond) / k
        return x

    @torch.no_grad()
    def predict(
        self, states: torch.Tensor, noise: torch.Tensor, images: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.integrate(self.condition(states, images), noise)


@dataclasses.dataclass(frozen=True)
class BCConfig:
    """Shape of a :class:`BCModel`."""

    state_dim: int
    action_dim: int
    horizon: int = 16
    hidden: tuple[int, ...] = (256, 256, 256)
    vision: VisionConfig | None = None
    """Image encoder (None: state only)."""


class BCModel(nn.Module):
    """Plain behaviour cloning: an MLP regressing the chunk (mean-squared error). It
    averages multimodal demonstrations; the flow policy is the comparison."""

    kind: ClassVar[str] = "bc"

    def __init__(self, config: BCConfig) -> None:
        super().__init__()
        self.config = config
        self.conditioner = Conditioner(config.state_dim, config.vision)
        self.net = MLP([self.conditioner.dim, *config.hidden, config.horizon * config.action_dim])

    @property
    def horizon(self) -> int:
        return self.config.horizon

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        """(B, H, A) chunks of the condition (the state without vision)."""
        return self.net(cond).view(len(cond), self.config.horizon, self.config.action_dim)

    def loss(
        self,
        states: torch.Tensor,
        chunks: torch.Tensor,
        weights: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        images: torch.Tensor | None = None,
    ) -> torch.Tensor:
        cond = self.conditioner(states, images, generator, augment=True)
        return weighted_mean((self(cond) - chunks).pow(2).flatten(1).mean(dim=1), weights)

    @torch.no_grad()
    def predict(
        self, states: torch.Tensor, noise: torch.Tensor, images: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self(self.conditioner(states, images))


def flow_config_from_dict(d: dict[str, Any]) -> FlowConfig:
    """Rebuild a :class:`FlowConfig` from ``dataclasses.asdict`` output (checkpoints)."""
    return FlowConfig(
        **{**d, "hidden": tuple(d["hidden"]), "vision": VisionConfig.from_dict(d.get("vision"))}
    )


def bc_config_from_dict(d: dict[str, Any]) -> BCConfig:
    return BCConfig(**{**d, "hidden": tuple(d["hidden"]), "vision": VisionConfig.from_dict(d.get("vision"))})


def randn(
    shape: tuple[int, ...] | torch.Size, generator: torch.Generator | None, like: torch.Tensor
) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device, then moved to ``like``'s."""
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def rand(shape: tuple[int, ...], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    device = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


__all__ = [
    "BCConfig",
    "BCModel",
    "ChunkModel",
    "FlowConfig",
    "FlowMatchingModel",
    "MLP",
    "bc_config_from_dict",
    "flow_config_from_dict",
    "time_features",
]
