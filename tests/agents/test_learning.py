"""Learned policies: losses fall, checkpoints reproduce actions, weights and gates behave."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from handitl.agents.checkpoint import PolicySettings, load_checkpoint, save_checkpoint
from handitl.agents.data import ChunkSamples, Normalizer, Trajectory, action_chunks, chunk_samples
from handitl.agents.flowcorrect import FlowCorrectConfig, RepairedFlowModel
from handitl.agents.learned import ChunkPolicy
from handitl.agents.models import BCConfig, BCModel, FlowConfig, FlowMatchingModel
from handitl.agents.policies import Policy
from handitl.agents.training import TrainConfig, Trainer, TrainingData
from handitl.agents.weighting import intervention_weights

torch.set_num_threads(1)

KEYS = ("a", "b")
S, A, H = 5, 3, 4


def _samples(n: int = 256, seed: int = 0, intervention_every: int = 0) -> ChunkSamples:
    """Chunks that are a smooth function of the state: learnable by a small MLP."""
    rng = np.random.default_rng(seed)
    states = rng.normal(size=(n, S))
    ramp = np.linspace(0.0, 1.0, H)[None, :, None]
    chunks = np.tanh(states[:, None, :A]) + 0.5 * ramp * states[:, None, A - 1 : A]
    labels = np.zeros(n, bool) if not intervention_every else (np.arange(n) % intervention_every == 0)
    return ChunkSamples(states, chunks, labels, np.ones(n, bool))


def _observation(state: np.ndarray) -> dict[str, np.ndarray]:
    return {"a": state[:2].reshape(1, 2), "b": state[2:]}


def _train(
    model: torch.nn.Module, samples: ChunkSamples, steps: int, **overrides
) -> tuple[Trainer, list[float]]:
    norm = dataclasses.replace(samples.fit_normalization(), state_keys=KEYS)
    config = TrainConfig(steps=steps, batch_size=64, lr=2e-3, log_every=10**9, **overrides)
    trainer = Trainer(model, TrainingData.from_samples(samples, norm), config)
    return trainer, trainer.run()


@pytest.mark.parametrize("kind", ["flow", "flow_velocity", "bc"])
def test_loss_falls_on_a_tiny_dataset(kind: str) -> None:
    """Training on 256 samples of a smooth state->chunk map cuts the loss at least in half
    (flow with either output parameterisation, and BC)."""
    torch.manual_seed(0)
    if kind.startswith("flow"):
        config = FlowConfig(
            S, A, H, hidden=(64, 64), time_features=8, integration_steps=4, data_prediction=kind == "flow"
        )
        model = FlowMatchingModel(config)
    else:
        model = BCModel(BCConfig(S, A, H, hidden=(64, 64)))
    _, losses = _train(model, _samples(), steps=300)
    first, last = np.mean(losses[:20]), np.mean(losses[-20:])
    assert last < 0.5 * first, (first, last)


def _policy_actions(policy: ChunkPolicy, states: np.ndarray) -> np.ndarray:
    policy.reset()
    return np.stack([policy(_observation(s)) for s in states])


@pytest.mark.parametrize("kind", ["flow", "bc"])
def test_checkpoint_round_trip_is_bit_for_bit(tmp_path, kind: str) -> None:
    """A reloaded checkpoint's policy gives exactly the saved policy's actions (seeded
    flow noise, receding horizon over 10 ticks) and keeps the training state."""
    torch.manual_seed(1)
    samples = _samples(64)
    if kind == "flow":
        model = FlowMatchingModel(FlowConfig(S, A, H, hidden=(32,), time_features=8, integration_steps=3))
    else:
        model = BCModel(BCConfig(S, A, H, hidden=(32,)))
    trainer, _ = _train(model, samples, steps=5)
    norm = dataclasses.replace(samples.fit_normalization(), state_keys=KEYS)
    settings = PolicySettings(n_exec=2, seed=7)
    path = save_checkpoint(tmp_path / "p.pt", model, norm, settings, {"task": "x"}, trainer.state_dict())
    ckpt = load_checkpoint(path)
    assert ckpt.train_state["step"] == 5 and ckpt.meta == {"task": "x"}
    assert ckpt.normalization.state_keys == KEYS
    states = samples.states[:10]
    policy = ChunkPolicy(model, norm, settings)
    assert isinstance(policy, Policy)
    before = _policy_actions(policy, states)
    after = _policy_actions(ChunkPolicy.from_checkpoint(path), states)
    assert np.array_equal(before, after)
    # Resetting replays the same noise: the episode is reproducible.
    assert np.array_equal(before, _policy_actions(ChunkPolicy.from_checkpoint(path), states))


def test_resumed_training_matches_an_uninterrupted_run(tmp_path) -> None:
    """10 steps + checkpoint + 10 resumed steps give the same weights as 20 steps in one go."""
    samples = _samples(64)
    norm = dataclasses.replace(samples.fit_normalization(), state_keys=KEYS)

    def fresh() -> FlowMatchingModel:
        torch.manual_seed(3)
        return FlowMatchingModel(FlowConfig(S, A, H, hidden=(32,), time_features=8, integration_steps=3))

    straight, _ = _train(fresh(), samples, steps=20)
    first, _ = _train(fresh(), samples, steps=10)
    path = save_checkpoint(tmp_path / "c.pt", first.model, norm, train_state=first.state_dict())
    ckpt = load_checkpoint(path)
    config = TrainConfig(steps=20, batch_size=64, lr=2e-3, log_every=10**9)
    resumed = Trainer(ckpt.model, TrainingData.from_samples(samples, norm), config)
    resumed.load_state_dict(ckpt.train_state)
    resumed.run()
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_intervention_weights_reach_the_target_share() -> None:
    """w = P*(c)/P(c): 10% interventions get 0.5/0.1 = 5, the rest 0.5/0.9; the weighted
    intervention share is the target and the weights average to 1."""
    labels = np.arange(100) % 10 == 0
    w = intervention_weights(labels, target=0.5)
    assert np.allclose(w[labels], 5.0) and np.allclose(w[~labels], 0.5 / 0.9)
    assert w.mean() == pytest.approx(1.0)
    for target in (0.2, 0.5, 0.8):
        w = intervention_weights(labels, target)
        assert w[labels].sum() / w.sum() == pytest.approx(target)
    assert np.array_equal(intervention_weights(np.zeros(5, bool)), np.ones(5))
    assert np.array_equal(intervention_weights(np.ones(5, bool)), np.ones(5))
    with pytest.raises(ValueError):
        intervention_weights(labels, 1.0)


def test_weighted_loss_is_the_weighted_mean_of_sample_losses() -> None:
    """The BC loss with weights w equals sum_i w_i l_i / sum_i w_i of the per-sample losses."""
    torch.manual_seed(0)
    model = BCModel(BCConfig(S, A, H, hidden=(16,)))
    samples = _samples(8)
    states = torch.as_tensor(samples.states, dtype=torch.float32)
    chunks = torch.as_tensor(samples.chunks, dtype=torch.float32)
    w = torch.arange(1.0, 9.0)
    per = torch.stack([model.loss(states[i : i + 1], chunks[i : i + 1]) for i in range(8)])
    assert torch.allclose(model.loss(states, chunks, w), (per * w).sum() / w.sum())


def test_last_intervention_segment_and_chunks() -> None:
    """The filtered segment starts where the last intervention run starts; chunks repeat
    the last action past the end of an episode."""
    labels = np.array([0, 1, 1, 0, 0, 1, 1, 1, 0, 0], bool)
    actions = np.arange(10.0)[:, None]
    traj = Trajectory(np.zeros((10, 2)), actions, labels, True)
    seg = traj.after_last_intervention()
    assert seg is not None and seg.num_steps == 5 and seg.actions[0, 0] == 5.0
    assert Trajectory(np.zeros((3, 2)), actions[:3], np.zeros(3, bool)).after_last_intervention() is None
    chunks = action_chunks(actions, 4)
    assert chunks[0, :, 0].tolist() == [0, 1, 2, 3] and chunks[8, :, 0].tolist() == [8, 9, 9, 9]
    samples = chunk_samples([traj, seg], horizon=3)
    assert len(samples) == 15 and samples.labels.sum() == labels.sum() + 3


def _repaired(
    learned_gate: bool, rank: int = 2, samples: ChunkSamples | None = None
) -> tuple[FlowMatchingModel, RepairedFlowModel]:
    """A base flow policy (trained on ``samples`` if given) and its repairable copy."""
    torch.manual_seed(0)
    base = FlowMatchingModel(FlowConfig(S, A, H, hidden=(64, 64), time_features=8, integration_steps=4))
    if samples is not None:
        _train(base, samples, steps=300)
    config = FlowCorrectConfig(base=base.config, rank=rank, learned_gate=learned_gate)
    return base, RepairedFlowModel(config, base)


@pytest.mark.parametrize("learned_gate", [True, False])
def test_zero_gate_gives_the_base_output_bit_for_bit(learned_gate: bool) -> None:
    """With nonzero adapters, gate scale 0 reproduces the base policy exactly; gate 1 does not."""
    base, repaired = _repaired(learned_gate)
    with torch.no_grad():
        for up in repaired.lora.up:
            up.normal_(0.0, 0.5)
    states = torch.randn(6, S)
    noise = torch.randn(6, H, A)
    repaired.gate_scale = 0.0
    assert torch.equal(repaired.predict(states, noise), base.predict(states, noise))
    repaired.gate_scale = 1.0
    assert not torch.equal(repaired.predict(states, noise), base.predict(states, noise))


def test_flowcorrect_repairs_corrections_and_keeps_anchors() -> None:
    """L_FE training moves the repaired policy's chunks toward the corrected chunks on
    corrected states (error at least halved), the base stays frozen, and on anchor states
    the output stays near the base's."""
    samples = _samples(128)
    # The failing region the human corrects: a part of the state space (where a gate can tell).
    samples = dataclasses.replace(samples, labels=samples.states[:, 0] > 0.7)
    norm = dataclasses.replace(samples.fit_normalization(), state_keys=KEYS)
    base, repaired = _repaired(learned_gate=True, rank=8, samples=samples)
    corrected = samples.chunks.copy()
    corrected[samples.labels] += 1.0  # the human's corrections: an offset of the actions
    samples = dataclasses.replace(samples, chunks=corrected)
    base_before = {k: v.clone() for k, v in base.state_dict().items()}
    data = TrainingData.from_samples(samples, norm)
    config = TrainConfig(steps=300, batch_size=64, lr=3e-3, log_every=10**9)
    Trainer(repaired, data, config).run()
    for k, v in base.state_dict().items():
        assert torch.equal(v, base_before[k])
    noise = torch.randn(len(data), H, A, generator=torch.Generator().manual_seed(0))
    lab = data.labels
    err_base = (base.predict(data.states, noise) - data.chunks).pow(2).mean(dim=(1, 2))
    out = repaired.predict(data.states, noise)
    err_rep = (out - data.chunks).pow(2).mean(dim=(1, 2))
    assert err_rep[lab].mean() < 0.5 * err_base[lab].mean()
    drift = (out - base.predict(data.states, noise)).pow(2).mean(dim=(1, 2))
    assert drift[~lab].mean() < 0.25 * drift[lab].mean()
    assert repaired.gate(data.states[lab]).mean() > repaired.gate(data.states[~lab]).mean()


def test_normalizer_centres_scales_and_floors_the_spread() -> None:
    """Normalised data have zero mean and unit std per dimension; a dimension whose
    spread is below the floor (1 cm / 0.01 rad) is only centred; round trip is exact
    to float precision."""
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(2.0, 3.0, 500), rng.normal(-1.0, 1e-4, 500)])
    norm = Normalizer.fit(x)
    z = norm.normalize(x)
    assert np.allclose(z.mean(axis=0), 0.0, atol=1e-12)
    assert z[:, 0].std() == pytest.approx(1.0) and norm.std[1] == 1.0
    assert np.allclose(norm.denormalize(z), x, rtol=0, atol=1e-12)
