"""The optional image encoder: spatial softmax, augmentation, learning from pixels,
checkpoints, FlowCorrect on a vision base, and the recorded-demo -> train -> evaluate path
(the last needs a GL backend and is skipped without one)."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from handitl.agents.checkpoint import PolicySettings, load_checkpoint, save_checkpoint
from handitl.agents.dagger import CollectConfig, collect_corrections
from handitl.agents.data import ChunkSamples, Normalization, load_trajectories
from handitl.agents.flowcorrect import FlowCorrectConfig, RepairedFlowModel
from handitl.agents.learned import ChunkPolicy
from handitl.agents.models import BCConfig, BCModel, FlowConfig, FlowMatchingModel
from handitl.agents.training import TrainConfig, Trainer, TrainingData
from handitl.agents.vision import Conditioner, SpatialSoftmax, VisionConfig, random_shift

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[2]
S, A, H, SIZE = 3, 2, 4, 16
CAMERAS = ("top",)


def _pixel_samples(n: int = 256, seed: int = 0) -> ChunkSamples:
    """A bright 3x3 square at a random place in a 16x16 image; the chunk is the square's
    (x, y) centre. The state is noise, so only the image tells the action."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(2, SIZE - 2, size=(n, 2))  # (col, row)
    images = np.full((n, 1, SIZE, SIZE, 3), 30, np.uint8)
    for k, (col, row) in enumerate(centres):
        images[k, 0, row - 1 : row + 2, col - 1 : col + 2] = 230
    chunks = np.repeat((centres / (SIZE - 1.0))[:, None, :], H, axis=1)
    states = rng.normal(size=(n, S))
    return ChunkSamples(states, chunks, np.zeros(n, bool), np.ones(n, bool), images)


def _vision(shift: int = 0) -> VisionConfig:
    return VisionConfig(num_cameras=1, keypoints=8, channels=(16, 16), shift=shift)


def _train(model: torch.nn.Module, samples: ChunkSamples, steps: int) -> tuple[Trainer, list[float]]:
    return _train_with(model, samples, samples.fit_normalization(("s",), CAMERAS), steps)


def _train_with(
    model: torch.nn.Module, samples: ChunkSamples, norm: Normalization, steps: int
) -> tuple[Trainer, list[float]]:
    config = TrainConfig(steps=steps, batch_size=64, lr=3e-3, log_every=10**9)
    trainer = Trainer(model, TrainingData.from_samples(samples, norm), config)
    return trainer, trainer.run()


def test_spatial_softmax_returns_the_peak_coordinates() -> None:
    """A map peaked at (row 2, col 6) of an 8x8 grid gives x = -1 + 2*6/7, y = -1 + 2*2/7."""
    maps = torch.zeros(1, 2, 8, 8)
    maps[0, 0, 2, 6] = 50.0
    maps[0, 1, 7, 0] = 50.0
    out = SpatialSoftmax()(maps)[0].numpy()
    expected = [-1 + 12 / 7, -1 + 4 / 7, -1.0, 1.0]
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_random_shift_translates_every_camera_of_a_sample_alike() -> None:
    """Pixels move by one integer offset per sample (same for its cameras), at most
    ``shift``, borders repeated; the same generator seed gives the same shifts."""
    b, c, h, w = 6, 2, 9, 11
    cols = np.broadcast_to(np.arange(w, dtype=np.uint8)[None, None, None, :, None], (b, c, h, w, 3))
    rows = np.broadcast_to(np.arange(h, dtype=np.uint8)[None, None, :, None, None], (b, c, h, w, 3))
    images = torch.as_tensor(np.concatenate([cols[..., :2], rows[..., :1]], axis=-1).copy())
    assert random_shift(images, 0, None) is images
    out = random_shift(images, 3, torch.Generator().manual_seed(5)).numpy().astype(int)
    again = random_shift(images, 3, torch.Generator().manual_seed(5)).numpy()
    assert np.array_equal(out, again)
    for k in range(b):
        dx = out[k, 0, 4, 5, 0] - 5
        dy = out[k, 0, 4, 5, 2] - 4
        assert abs(dx) <= 3 and abs(dy) <= 3
        shifted_cols = np.clip(np.arange(w) + dx, 0, w - 1)
        shifted_rows = np.clip(np.arange(h) + dy, 0, h - 1)
        np.testing.assert_array_equal(out[k, :, :, :, 0], np.broadcast_to(shifted_cols, (c, h, w)))
        np.testing.assert_array_equal(out[k, :, :, :, 2], np.broadcast_to(shifted_rows[:, None], (c, h, w)))
    offsets = {(int(out[k, 0, 4, 5, 0]), int(out[k, 0, 4, 5, 2])) for k in range(b)}
    assert len(offsets) > 1  # samples get their own shifts


def test_conditioner_joins_state_and_features_and_checks_its_inputs() -> None:
    states, images = torch.zeros(2, S), torch.zeros(2, 1, SIZE, SIZE, 3, dtype=torch.uint8)
    state_only = Conditioner(S, None)
    assert state_only(states) is states and state_only.dim == S
    with pytest.raises(ValueError, match="no image encoder"):
        state_only(states, images)
    seeing = Conditioner(S, _vision())
    assert seeing(states, images).shape == (2, S + 16) and seeing.dim == S + 16
    with pytest.raises(ValueError, match="pass images"):
        seeing(states)
    with pytest.raises(ValueError, match=r"\(batch, 1 cameras"):
        seeing(states, torch.zeros(2, 2, SIZE, SIZE, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="num_cameras"):
        VisionConfig(num_cameras=0)


@pytest.mark.parametrize("kind", ["flow", "bc"])
def test_policy_learns_the_action_from_pixels(kind: str) -> None:
    """With the state uninformative, the loss falls below a quarter of its start and, on
    unseen images, the predicted square position is within 1 px on average (the
    positions spread over 12 px)."""
    torch.manual_seed(0)
    samples = _pixel_samples()
    if kind == "flow":
        model = FlowMatchingModel(FlowConfig(S, A, H, (64, 64), 8, 4, vision=_vision()))
    else:
        model = BCModel(BCConfig(S, A, H, (64, 64), vision=_vision()))
    trainer, losses = _train(model, samples, steps=400)
    first, last = np.mean(losses[:20]), np.mean(losses[-20:])
    assert last < 0.25 * first, (first, last)
    norm = samples.fit_normalization(("s",), CAMERAS)
    policy = ChunkPolicy(model, norm, PolicySettings(n_exec=1))
    held_out = _pixel_samples(32, seed=1)
    errors = []
    for k in range(len(held_out)):
        obs = {"s": held_out.states[k], "images": {"top": held_out.images[k, 0]}}
        errors.append(np.abs(policy.predict_chunk(obs)[0] - held_out.chunks[k, 0]).max() * (SIZE - 1))
    assert np.mean(errors) < 1.0, np.mean(errors)


def test_vision_checkpoint_round_trip_is_bit_for_bit(tmp_path) -> None:
    """Saved and reloaded, a vision policy acts identically; it names the env settings
    its observations need and rejects missing or wrongly sized images."""
    torch.manual_seed(2)
    samples = _pixel_samples(64)
    model = FlowMatchingModel(FlowConfig(S, A, H, (32,), 8, 3, vision=_vision(shift=2)))
    trainer, _ = _train(model, samples, steps=5)
    norm = samples.fit_normalization(("s",), CAMERAS)
    assert norm.image_size == (SIZE, SIZE)
    settings = PolicySettings(n_exec=2, seed=3)
    path = save_checkpoint(tmp_path / "p.pt", model, norm, settings, {}, trainer.state_dict())
    loaded = ChunkPolicy.from_checkpoint(path)
    assert loaded.model.config.vision == _vision(shift=2)
    assert loaded.env_overrides == {"image_cameras": CAMERAS, "image_size": (SIZE, SIZE)}
    observations = [{"s": samples.states[k], "images": {"top": samples.images[k, 0]}} for k in range(8)]

    def actions(policy: ChunkPolicy) -> np.ndarray:
        policy.reset()
        return np.stack([policy(o) for o in observations])

    assert np.array_equal(actions(ChunkPolicy(model, norm, settings)), actions(loaded))
    with pytest.raises(ValueError, match="image_cameras"):
        loaded.predict_chunk({"s": samples.states[0]})
    with pytest.raises(ValueError, match=r"uint8 \(1, 16, 16, 3\)"):
        loaded.predict_chunk({"s": samples.states[0], "images": {"top": np.zeros((8, 8, 3), np.uint8)}})
    with pytest.raises(
        ValueError, match=r"sees 1 camera image\(s\) but the normalisation names cameras \[\]"
    ):
        ChunkPolicy(model, dataclasses.replace(norm, image_keys=(), image_size=None), settings)


def test_flowcorrect_on_a_vision_base_keeps_the_encoder_frozen() -> None:
    """The repair trains adapters and gate only (encoder weights unchanged), moves the
    corrected samples' actions toward the corrections, and at gate 0 acts exactly as the
    vision base."""
    torch.manual_seed(4)
    samples = _pixel_samples(128)
    base = FlowMatchingModel(FlowConfig(S, A, H, (32,), 8, 3, vision=_vision(shift=1)))
    _train(base, samples, steps=100)
    encoder_before = {k: v.clone() for k, v in base.conditioner.state_dict().items()}
    labels = np.arange(len(samples)) % 2 == 0
    shifted = samples.chunks + np.where(labels, 0.3, 0.0)[:, None, None]  # corrections: +0.3
    corrections = dataclasses.replace(samples, labels=labels, chunks=shifted)
    repaired = RepairedFlowModel(FlowCorrectConfig(base.config, rank=4), base)
    norm = samples.fit_normalization(("s",), CAMERAS)
    _, losses = _train_with(repaired, corrections, norm, steps=150)
    assert np.isfinite(losses).all()
    for k, v in base.conditioner.state_dict().items():
        assert torch.equal(v, encoder_before[k]), k
    idx = np.flatnonzero(labels)[:32]
    states = torch.as_tensor(norm.state.normalize(samples.states[idx]), dtype=torch.float32)
    images = torch.as_tensor(samples.images[idx])
    noise = torch.randn(len(idx), H, A, generator=torch.Generator().manual_seed(0))
    target = torch.as_tensor(norm.action.normalize(shifted[idx]), dtype=torch.float32)
    before = base.predict(states, noise, images=images)
    after = repaired.predict(states, noise, images=images)
    ratio = float((after - target).abs().mean() / (before - target).abs().mean())
    assert ratio < 0.7, ratio
    repaired.gate_scale = 0.0
    assert torch.equal(repaired.predict(states, noise, images=images), before)


def _rendering_available() -> bool:
    try:
        import mujoco

        mujoco.Renderer(mujoco.MjModel.from_xml_string("<mujoco/>"), 8, 8).close()
        return True
    except Exception:
        return False


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_vision_script", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _config(name: str, overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "scripts" / "conf"), version_base="1.3"):
        return compose(config_name=name, overrides=overrides)


@pytest.mark.skipif(not _rendering_available(), reason="no GL backend (set MUJOCO_GL=egl or osmesa)")
def test_image_demos_train_and_evaluate_end_to_end(tmp_path: Path) -> None:
    """train.py records teleop demos with top-camera images, loads them with their images,
    trains a vision flow policy, and evaluate.py runs it in an env made to render them."""
    train, evaluate = _script("train"), _script("evaluate")
    tiny = [
        "model.hidden=[32]", "model.integration_steps=2", "model.vision.keypoints=4",
        "model.vision.channels=[8,8]", "data.horizon=4", "policy.n_exec=2", "train.batch_size=8",
        "train.steps=3", "wandb.mode=disabled", "progress=false",
    ]  # fmt: skip
    demos = ["data.teleop_demos=1", "data.max_steps=20", "data.image_keys=[top]", "data.image_size=[24,32]"]
    path = train.run(_config("train", ["task=BreadClip", *demos, *tiny]), tmp_path / "run")
    (traj,) = load_trajectories([tmp_path / "run" / "demos"], image_keys=CAMERAS)
    assert traj.images.shape == (traj.num_steps, 1, 24, 32, 3) and traj.images.dtype == np.uint8
    assert traj.images.std() > 5  # a rendered scene, not a blank frame
    with pytest.raises(KeyError, match=r"recorded cameras: \['top'\]"):
        load_trajectories([tmp_path / "run" / "demos"], image_keys=("bottom",))
    ckpt = load_checkpoint(path)
    assert ckpt.normalization.image_keys == CAMERAS and ckpt.normalization.image_size == (24, 32)
    assert ckpt.model.config.vision.num_cameras == 1
    ev = ["rollouts=1", "workers=1", "max_steps=6", "wandb.mode=disabled", "progress=false"]
    summary = evaluate.run(_config("evaluate", [f"checkpoint={path}", *ev]), tmp_path / "eval")
    assert summary.rollouts == 1
    # HG-DAgger collection records the rendered images with the corrections, and
    # fine-tuning from the vision policy trains on them.
    policy = ChunkPolicy.from_checkpoint(path)
    records = collect_corrections(
        policy, CollectConfig(budget_steps=12, max_steps=12), tmp_path / "corrections"
    )
    (corr,) = load_trajectories([r.path for r in records], image_keys=CAMERAS)
    assert corr.images.shape == (12, 1, 24, 32, 3)
    tuned = train.run(
        _config("train", [f"init={path}", f"data.corrections=[{tmp_path / 'corrections'}]", *tiny]),
        tmp_path / "tuned",
    )
    assert load_checkpoint(tuned).normalization.image_keys == CAMERAS
