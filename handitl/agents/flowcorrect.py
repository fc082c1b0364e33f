"""FlowCorrect: local repair of a frozen flow policy from human corrections (FlowCorrect §IV).

The pretrained velocity field ``f_theta`` stays frozen. Low-rank adapters (LoRA) on each
of its linear layers give an adapted field ``f_{theta+dtheta}``; their difference is the
repair term ``v_dtheta``, and a gate ``alpha(s)`` in [0, 1] decides where it applies::

    f_rep(x, k, s) = f_theta(x, k, s) + alpha(s) * v_dtheta(x, k, s)

Training (per correction sample: state ``s``, corrected chunk ``a_corr``) rolls the
repaired flow out from noise, ``x_0 .. x_{N-1}`` with Euler steps ``dk = 1/N``, and asks
each step to head for the corrected action by the end of integration (L_FE)::

    v*_n = (a_corr - x_n) / ((N - n) dk),   L_FE = 1/N sum_n w_n ||f_rep(x_n, k_n, s) - v*_n||^2

so the flow *converges* to the correction rather than only its end point being fitted.
Robustness elsewhere comes from successful-rollout anchors (samples not corrected): there
the repaired field is pulled to the base field, and the learned gate is trained toward 0
on anchors and 1 on corrections. A gate of exactly 0 (``gate_scale = 0``) returns the base
field itself, so the base policy's actions are reproduced bit for bit.

With a vision base, its image encoder is part of the frozen policy: the adapters and the
gate see the base's condition (state plus image features), so ``s`` above is that vector.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import nn

from handitl.agents.models import (
    MLP,
    FlowConfig,
    FlowMatchingModel,
    flow_config_from_dict,
    randn,
    weighted_mean,
)
from handitl.agents.vision import Conditioner


@dataclasses.dataclass(frozen=True)
class FlowCorrectConfig:
    """Adapter, gate and loss settings of a :class:`RepairedFlowModel`."""

    base: FlowConfig
    """The frozen base policy's config."""
    rank: int = 8
    """LoRA rank r of every adapted linear layer."""
    lora_scale: float = 1.0
    """Multiplier of the low-rank update B A (LoRA's alpha / r)."""
    learned_gate: bool = True
    """alpha(s) from a small sigmoid MLP of the state; False: the constant ``gate_scale``."""
    gate_hidden: tuple[int, ...] = (64,)
    """Hidden widths of the gate MLP."""
    gate_scale: float = 1.0
    """Multiplies the gate; 0 switches the repair off (base output bit for bit)."""
    anchor_weight: float = 1.0
    """Weight of the anchor term ||f_rep - f_theta||^2 on uncorrected samples."""
    gate_weight: float = 0.1
    """Weight of the gate's cross-entropy (target 1 on corrections, 0 on anchors)."""
    late_step_weight: float = 0.0
    """w_n = 1 + late_step_weight * n / N: > 0 stresses the last integration steps."""


class LoRAAdapters(nn.Module):
    """Low-rank updates ``W + scale * B A`` for each linear layer of an :class:`MLP`.

    The MLP is passed to :meth:`forward` rather than held, so its (frozen) weights are
    stored once, with the base model. B starts at zero: the adapted net equals the base.
    """

    def __init__(self, mlp: MLP, rank: int, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.down = nn.ParameterList(
            nn.Parameter(torch.empty(rank, layer.in_features)) for layer in mlp.layers
        )
        self.up = nn.ParameterList(
            nn.Parameter(torch.zeros(layer.out_features, rank)) for layer in mlp.layers
        )
        for a in self.down:
            nn.init.kaiming_uniform_(a, a=5**0.5)

    def forward(self, mlp: MLP, x: torch.Tensor) -> torch.Tensor:
        n = len(mlp.layers)
        for i, layer in enumerate(mlp.layers):
            x = layer(x) + self.scale * ((x @ self.down[i].T) @ self.up[i].T)
            if i < n - 1:
                x = nn.functional.silu(x)
        return x


class RepairedFlowModel(nn.Module):
    """A frozen :class:`FlowMatchingModel` plus gated LoRA repair (a :class:`ChunkModel`)."""

    kind: ClassVar[str] = "flowcorrect"

    def __init__(self, config: FlowCorrectConfig, base: FlowMatchingModel | None = None) -> None:
        super().__init__()
        self.config = config
        self.base = base if base is not None else FlowMatchingModel(config.base)
        self.base.requires_grad_(False)
        self.lora = LoRAAdapters(self.base.net, config.rank, config.lora_scale)
        cond_dim = self.base.conditioner.dim
        self.gate_net = MLP([cond_dim, *config.gate_hidden, 1]) if config.learned_gate else None
        self.gate_scale = config.gate_scale
        """Set to 0 at run time to act exactly as the base policy."""

    @property
    def horizon(self) -> int:
        return self.config.base.horizon

    @property
    def conditioner(self) -> Conditioner:
        """The frozen base's state/image conditioner."""
        return self.base.conditioner

    def train(self, mode: bool = True) -> RepairedFlowModel:
        super().train(mode)
        self.base.eval()  # frozen: never in training mode
        return self

    def gate_logit(self, cond: torch.Tensor) -> torch.Tensor | None:
        return None if self.gate_net is None else self.gate_net(cond).squeeze(1)

    def gate(self, cond: torch.Tensor) -> torch.Tensor:
        """alpha(s): (B,) gate values in [0, gate_scale] of the base's condition ``cond``."""
        logit = self.gate_logit(cond)
        if logit is None:
            return torch.full((len(cond),), float(self.gate_scale), dtype=cond.dtype, device=cond.device)
        return self.gate_scale * torch.sigmoid(logit)

    def velocity(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """f_rep(x, t, s) (B, H, A); the base field itself when the gate scale is 0."""
        base_v = self.base.velocity(x, t, cond)
        if self.gate_scale == 0.0:
            return base_v
        adapted = self.base.field(lambda f: self.lora(self.base.net, f), x, t, cond)
        return base_v + self.gate(cond)[:, None, None] * (adapted - base_v)

    @torch.no_grad()
    def predict(
        self, states: torch.Tensor, noise: torch.Tensor, images: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.base.integrate(self.base.condition(states, images), noise, self.velocity)

    def fe_loss(self, cond: torch.Tensor, corrected: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """(B,) L_FE per correction sample (module docstring), trajectories from ``noise``."""
        n_steps = self.config.base.integration_steps
        dk = 1.0 / n_steps
        with torch.no_grad():  # the flow trajectory is data for the loss, not differentiated
            xs, x = [], noise
            for n in range(n_steps):
                xs.append(x)
                t = torch.full((len(x),), n * dk, dtype=x.dtype, device=x.device)
                x = x + dk * self.velocity(x, t, cond)
        b = len(cond)
        x_all = torch.cat(xs)
        steps = torch.arange(n_steps, dtype=noise.dtype, device=noise.device).repeat_interleave(b)
        target = (corrected.repeat(n_steps, 1, 1) - x_all) / ((n_steps - steps) * dk)[:, None, None]
        pred = self.velocity(x_all, steps * dk, cond.repeat(n_steps, 1))
        per = (pred - target).pow(2).flatten(1).mean(dim=1).view(n_steps, b)
        w_n = (
            1.0
            + self.config.late_step_weight
            * torch.arange(n_steps, dtype=per.dtype, device=per.device)
            / n_steps
        )
        return (w_n[:, None] * per).sum(dim=0) / w_n.sum()

    def anchor_loss(
        self, cond: torch.Tensor, chunks: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """(B,) ||f_rep - f_theta||^2 at points of the anchor chunks' flow paths."""
        x_t = (1.0 - t[:, None, None]) * noise + t[:, None, None] * chunks
        with torch.no_grad():
            base_v = self.base.velocity(x_t, t, cond)
        return (self.velocity(x_t, t, cond) - base_v).pow(2).flatten(1).mean(dim=1)

    def loss(
        self,
        states: torch.Tensor,
        chunks: torch.Tensor,
        weights: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        images: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """L_FE on corrections (``labels`` True) + anchor and gate terms on the others."""
        if labels is None:
            raise ValueError("FlowCorrect needs the intervention labels: corrections vs anchors")
        labels = labels.bool()
        w = torch.ones(len(states), dtype=states.dtype, device=states.device) if weights is None else weights
        noise = randn(chunks.shape, generator, chunks)
        with torch.no_grad():  # the base's image encoder is frozen with it
            cond = self.base.conditioner(states, images, generator, augment=True)
        total = cond.new_zeros(())
        if labels.any():
            total = total + weighted_mean(
                self.fe_loss(cond[labels], chunks[labels], noise[labels]), w[labels]
            )
        anchors = ~labels
        if anchors.any() and self.config.anchor_weight > 0:
            t = torch.rand(
                int(anchors.sum()),
                generator=generator,
                device=generator.device if generator is not None else cond.device,
                dtype=cond.dtype,
            ).to(cond.device)
            term = self.anchor_loss(cond[anchors], chunks[anchors], noise[anchors], t)
            total = total + self.config.anchor_weight * weighted_mean(term, w[anchors])
        logit = self.gate_logit(cond)
        if logit is not None and self.config.gate_weight > 0:
            bce = nn.functional.binary_cross_entropy_with_logits(
                logit, labels.to(logit.dtype), reduction="none"
            )
            total = total + self.config.gate_weight * weighted_mean(bce, w)
        return total

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]


def flowcorrect_config_from_dict(d: dict[str, Any]) -> FlowCorrectConfig:
    """Rebuild a :class:`FlowCorrectConfig` from ``dataclasses.asdict`` output."""
    fields = dict(d)
    base = flow_config_from_dict(fields.pop("base"))
    fields["gate_hidden"] = tuple(fields["gate_hidden"])
    return FlowCorrectConfig(base=base, **fields)


__all__ = ["FlowCorrectConfig", "LoRAAdapters", "RepairedFlowModel", "flowcorrect_config_from_dict"]
