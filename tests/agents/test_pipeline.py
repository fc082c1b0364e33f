"""Data to policy to evaluation on a real task: simulated teleop demos, the loader, and
``scripts/train.py`` / ``scripts/evaluate.py`` end to end on a tiny configuration, and a
tiny HG-DAgger round (simulated supervisor, corrections, DexHiL fine-tuning)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from handitl.agents.checkpoint import load_checkpoint
from handitl.agents.dagger import CollectConfig, SimulatedSupervisor, TriggerConfig, collect_corrections
from handitl.agents.data import chunk_samples, load_trajectories, state_vector
from handitl.agents.experts import expert_for
from handitl.agents.learned import ChunkPolicy
from handitl.agents.teleop import ExpertIntent, TeleopConfig, record_teleop_demos, record_teleop_demos_parallel
from handitl.assets.hand_description import Side
from handitl.envs import make_env
from handitl.experiments.wiring import intervention_wrapper
from handitl.intervention.modes import Interval, Mode, ScheduledModes
from handitl.intervention.recorder import EpisodeRecorder, read_episode
from handitl.intervention.streams import GestureScript, ScriptedOperator, get_profile

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[2]
TASK = "BreadClip"
STEPS = 40
TINY_TRAINING = ["model.hidden=[32]", "model.integration_steps=3", "data.horizon=4", "policy.n_exec=2",
                 "train.batch_size=32", "wandb.mode=disabled", "progress=false"]  # fmt: skip
"""scripts/train.py overrides of a seconds-long training run."""


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_script", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


def _config(name: str, overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "scripts" / "conf"), version_base="1.3"):
        return compose(config_name=name, overrides=overrides)


@pytest.fixture(scope="module")
def demos(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demos")
    record_teleop_demos(TeleopConfig(task=TASK, max_steps=STEPS), out, range(2))
    return out


def test_teleop_demos_are_operator_driven_takeover_episodes(demos: Path) -> None:
    """Every step of a demo is in full takeover, the executed commands are the operator's
    (not the expert's stand-in actions) and they move the robot; metadata says how."""
    episode = read_episode(demos / "episode_000000.h5")
    assert episode.num_steps == STEPS
    assert episode.intervention.all() and (episode.mode == int(Mode.TAKEOVER)).all()
    assert not np.allclose(episode.executed_action, episode.policy_action)
    assert np.ptp(episode.executed_action, axis=0).max() > 1e-3
    meta = episode.metadata
    assert meta["kind"] == "teleop_demo" and meta["method"] == "direct" and meta["seed"] == 0
    assert isinstance(meta["success"], bool) and 0.0 <= meta["score"]


def test_parallel_demos_are_named_in_seed_order_and_repeat_bit_for_bit(tmp_path: Path) -> None:
    """Two seeds recorded in two processes land as episode_000000/1 in seed order with no
    scratch folder left, and a second parallel recording gives bit-identical episodes
    (each demo is made in a fresh session, so it depends only on its seed)."""
    config = TeleopConfig(task=TASK, max_steps=STEPS)
    runs = [record_teleop_demos_parallel(config, tmp_path / name, [3, 1], workers=2) for name in ("a", "b")]
    assert [r.seed for r in runs[0]] == [3, 1]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["episode_000000.h5", "episode_000001.h5"]
    for first, second in zip(*runs):
        a, b = read_episode(first.path), read_episode(second.path)
        assert a.metadata == b.metadata and a.num_steps == first.steps == STEPS
        np.testing.assert_array_equal(a.executed_action, b.executed_action)
        for key in a.observations:
            np.testing.assert_array_equal(a.observations[key], b.observations[key])


def test_expert_intent_targets_are_the_experts() -> None:
    """The operator's intent is the expert's palm pose, and fingertip pads placed by the
    robot hand's kinematics at the expert's joint targets (for the timed plan at t = 0 and
    for the live action alike): at the reset pose they equal the robot's own feedback."""
    env = make_env(TASK)
    obs, _ = env.reset(seed=0)
    expert = expert_for(env)
    expert.reset()
    for live in (False, True):
        intent = ExpertIntent(expert, env, live=live)
        intent.update(expert(obs))
        target = intent(0.0)[Side.RIGHT]
        pos, quat = env.palm_pose(Side.RIGHT)
        assert np.allclose(target.palm_pos, pos, atol=1e-3)
        assert abs(float(np.dot(target.palm_quat, quat))) > 1 - 1e-4
        hand = env.robot.hands[Side.RIGHT]
        rot = env.data.site_xmat[hand.palm_site].reshape(3, 3)
        tips = (env.data.site_xpos[hand.fingertip_sites] - pos) @ rot
        assert np.allclose(target.fingertips_in_palm, tips, atol=2e-3)


def test_loader_gives_states_chunks_labels_and_statistics(demos: Path) -> None:
    """Samples: state vectors equal state_vector of the recorded observations, chunks are
    the executed actions (last one repeated), labels are the intervention flags
    (False for demonstrations), and the normalisation centres and scales the states."""
    episode = read_episode(demos / "episode_000000.h5")
    trajectories = load_trajectories([demos])
    assert len(trajectories) == 2 and all(t.intervention.all() for t in trajectories)
    first = {k: v[0] for k, v in episode.observations.items()}
    assert np.array_equal(trajectories[0].states[0], state_vector(first))
    samples = chunk_samples(trajectories, horizon=5)
    a = episode.executed_action
    assert samples.chunks.shape == (2 * STEPS, 5, a.shape[1])
    assert np.array_equal(samples.chunks[0], a[:5]) and np.array_equal(
        samples.chunks[STEPS - 1], np.repeat(a[-1:], 5, 0)
    )
    demo_samples = chunk_samples(load_trajectories([demos], demonstrations=True), horizon=5)
    assert not demo_samples.labels.any()
    norm = samples.fit_normalization()
    z = norm.state.normalize(samples.states)
    assert np.allclose(z.mean(axis=0), 0.0, atol=1e-9)
    assert np.all(z.std(axis=0) < 1.0 + 1e-9)


def _corrections(policy_path: Path, out: Path) -> Path:
    """One rollout of the policy with a scheduled takeover: a correction episode."""
    env = make_env(TASK, terminate_on_success=False)
    operator = ScriptedOperator(get_profile("operator_a"), GestureScript.of(("relaxed", 60.0)), seed=0)
    modes = ScheduledModes([Interval(0.2, 0.5, Mode.TAKEOVER)])
    recorder = EpisodeRecorder(out, {"task": TASK})
    wrapper = intervention_wrapper(env, "relative", operator, modes, recorder=recorder)
    policy = ChunkPolicy.from_checkpoint(policy_path)
    obs, _ = wrapper.reset(seed=5)
    policy.reset()
    for _ in range(STEPS):
        obs, *_ = wrapper.step(policy(obs))
    recorder.metadata["success"] = True  # stands in for a successful rollout: anchors
    wrapper.close()
    return out


def test_train_resume_evaluate_and_flowcorrect_end_to_end(demos: Path, tmp_path: Path) -> None:
    """train.py trains a flow policy on the demos and writes a checkpoint with its
    normalisation and training state; resume continues to the new total; init fine-tunes
    keeping the base's normalisation; evaluate.py
    reports N rollouts with the summary files; FlowCorrect trains on a correction
    rollout from that policy and, at gate 0, evaluates exactly as the base policy."""
    train, evaluate = _script("train"), _script("evaluate")
    tiny = [*TINY_TRAINING, "train.log_every=5"]
    run_dir = tmp_path / "base"
    path = train.run(
        _config("train", [f"task={TASK}", f"data.demos=[{demos}]", "train.steps=10", *tiny]), run_dir
    )
    ckpt = load_checkpoint(path)
    assert ckpt.meta["task"] == TASK and ckpt.train_state["step"] == 10
    assert ckpt.settings.n_exec == 2 and len(ckpt.normalization.state.mean) == ckpt.model.config.state_dim

    resumed = train.run(
        _config("train", [f"resume={path}", f"data.demos=[{demos}]", "train.steps=15", *tiny]),
        tmp_path / "resumed",
    )
    assert load_checkpoint(resumed).train_state["step"] == 15
    ev = ["rollouts=2", "workers=1", "max_steps=12", "wandb.mode=disabled", "progress=false"]
    summary = evaluate.run(_config("evaluate", [f"checkpoint={path}", *ev]), tmp_path / "eval")
    assert summary.rollouts == 2 and 0.0 <= summary.normalized_score <= 1.0
    assert json.loads((tmp_path / "eval" / "summary.json").read_text())["task"] == TASK
    assert len((tmp_path / "eval" / "rollouts.csv").read_text().splitlines()) == 3

    corrections = _corrections(path, tmp_path / "corrections")
    # Fine-tuning (the paper's post-training arms) keeps the base's normalisation
    # (here: other data, whose own statistics differ).
    tuned = train.run(
        _config("train", [f"init={path}", f"data.corrections=[{corrections}]", "train.steps=5", *tiny]),
        tmp_path / "tuned",
    )
    tuned_ckpt = load_checkpoint(tuned)
    assert tuned_ckpt.train_state["step"] == 5
    assert np.array_equal(tuned_ckpt.normalization.state.mean, ckpt.normalization.state.mean)

    fc_over = [
        f"data.corrections=[{corrections}]",
        "model.kind=flowcorrect",
        f"flowcorrect.base={path}",
        "flowcorrect.rank=2",
        "train.steps=5",
        *tiny,
    ]
    fc_path = train.run(_config("train", fc_over), tmp_path / "fc")
    fc = load_checkpoint(fc_path)
    assert fc.model.kind == "flowcorrect"
    assert np.array_equal(fc.normalization.action.std, ckpt.normalization.action.std)
    evaluate.run(_config("evaluate", [f"checkpoint={path}", *ev]), tmp_path / "eval_base")
    evaluate.run(_config("evaluate", [f"checkpoint={fc_path}", "gate_scale=0", *ev]), tmp_path / "eval_g0")
    rows = [(tmp_path / d / "rollouts.csv").read_text().splitlines() for d in ("eval_base", "eval_g0")]
    assert rows[0] == rows[1]


def test_supervisor_follows_the_plan_at_the_demos_pace() -> None:
    """With time_scale 3.5 (the teleop demos' pace) the supervisor measures drift from
    the plan at t / 3.5 and its stall time stretches 3.5x: it intervenes on a stalled
    policy after 3.5 s of episode time for a 1 s stall time, not before."""
    env = make_env(TASK)
    env.reset(seed=0)
    expert = expert_for(env)
    expert.reset()
    trigger = TriggerConfig(drift_on=10.0, stall_time=1.0)
    paced = SimulatedSupervisor(env, expert, Mode.TAKEOVER, trigger, time_scale=3.5)
    palm = env.palm_pose(Side.RIGHT)[0]
    for t in (2.0, 7.0):
        expected = np.linalg.norm(palm - expert.intent(t / 3.5)[Side.RIGHT]["palm_pos"])
        assert paced.drift(t) == pytest.approx(expected, abs=1e-12)
    assert paced.drift(7.0) != pytest.approx(SimulatedSupervisor(env, expert, Mode.TAKEOVER).drift(7.0))
    modes = {t: paced.mode(t, None) for t in (0.0, 3.4, 3.6)}  # the score never rises
    assert modes == {0.0: Mode.AUTONOMOUS, 3.4: Mode.AUTONOMOUS, 3.6: Mode.TAKEOVER}
    with pytest.raises(ValueError, match="time_scale"):
        SimulatedSupervisor(env, expert, Mode.TAKEOVER, time_scale=0.0)
    env.close()


def test_tiny_dagger_round_end_to_end(demos: Path, tmp_path: Path) -> None:
    """One HG-DAgger round: a policy runs under the simulated supervisor, which takes over
    when progress stalls; exactly the step budget is recorded, with both autonomous and
    intervention frames labelled as the wrapper executed them; then the policy is
    fine-tuned on demos + corrections with DexHiL weights."""
    train = _script("train")
    tiny = TINY_TRAINING
    base = train.run(_config("train", [f"data.demos=[{demos}]", "train.steps=5", *tiny]), tmp_path / "base")
    trigger = TriggerConfig(stall_time=0.3, min_hold=0.2, max_hold=0.4, drift_on=10.0)
    config = CollectConfig(task=TASK, mode=Mode.TAKEOVER, budget_steps=70, max_steps=40, trigger=trigger)
    records = collect_corrections(ChunkPolicy.from_checkpoint(base), config, tmp_path / "round0")
    assert [r.steps for r in records] == [40, 30] and [r.seed for r in records] == [0, 1]
    for r in records:
        episode = read_episode(r.path)
        assert episode.intervention.sum() == r.intervention_steps and r.interventions >= 1
        assert 0 < r.intervention_steps < r.steps
        assert episode.metadata["mode"] == "takeover" and episode.metadata["kind"] == "correction"
    tuned = train.run(
        _config(
            "train",
            [
                f"init={base}",
                f"data.demos=[{demos}]",
                f"data.corrections=[{tmp_path / 'round0'}]",
                "dexhil.enabled=true",
                "train.steps=5",
                *tiny,
            ],
        ),
        tmp_path / "round1",
    )
    meta = load_checkpoint(tuned).meta
    assert meta["num_samples"] == 2 * STEPS + 70 and 0.0 < meta["intervention_share"] < 70 / (2 * STEPS + 70)


def test_teleop_demo_completes_the_drill(tmp_path: Path) -> None:
    """A simulated operator (operator_a, absolute retargeting, following the drill
    expert's plan 3.5x slower) picks up the drill and pulls its trigger: the demo ends in
    success, within the task's time limit x the time scale."""
    (result,) = record_teleop_demos(TeleopConfig(task="PickUpDrill"), tmp_path, [1])
    assert result.success and result.score == 1.0
    assert result.steps <= 500 * 3.5
    assert read_episode(result.path).metadata["time_scale"] == 3.5


def test_dagger_script_runs_two_rounds(demos: Path, tmp_path: Path) -> None:
    """``scripts/dagger.py``: two rounds from a tiny base policy, each recording exactly its
    step budget and fine-tuning on the demos plus every round's corrections so far; one
    ``rounds.csv`` row per round with the intervention share in [0, 1]."""
    train, dagger = _script("train"), _script("dagger")
    tiny = TINY_TRAINING
    base = train.run(_config("train", [f"data.demos=[{demos}]", "train.steps=3", *tiny]), tmp_path / "base")
    quoted = ",".join(f"'{o}'" for o in ["train.steps=3", *tiny])
    overrides = [f"base={base}", f"demos=[{demos}]", "rounds=2", "collect.budget_steps=30",
                 "collect.max_steps=30", "progress=false", f"train_overrides=[{quoted}]"]  # fmt: skip
    summaries = dagger.run(_config("dagger", overrides), tmp_path / "dagger")
    assert [s.round for s in summaries] == [0, 1] and all(s.steps == 30 for s in summaries)
    assert all(0.0 <= s.intervention_share <= 1.0 for s in summaries)
    meta = load_checkpoint(summaries[-1].policy).meta
    assert meta["num_samples"] == 2 * STEPS + 2 * 30
    with (tmp_path / "dagger" / "rounds.csv").open() as f:
        assert len(f.read().splitlines()) == 3
