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
from handitl.agents.teleop import (
    OPERATOR_ATTEMPTS,
    ExpertIntent,
    TeleopConfig,
    TeleopSession,
    operator_planner,
    record_teleop_demos,
    record_teleop_demos_parallel,
)
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
    robot hand's kinematics at the expert's joint targets: at the reset pose they equal
    the robot's own feedback. Targets are read at a delay (the newest at or before t)."""
    env = make_env(TASK)
    obs, _ = env.reset(seed=0)
    expert = expert_for(env)
    expert.reset()
    intent = ExpertIntent(expert, env)
    intent.reset(0)
    assert intent(0.0) == {}
    intent.update(0.0, expert(obs))
    target = intent(0.0)[Side.RIGHT]
    pos, quat = env.palm_pose(Side.RIGHT)
    assert np.allclose(target.palm_pos, pos, atol=1e-3)
    assert abs(float(np.dot(target.palm_quat, quat))) > 1 - 1e-4
    hand = env.robot.hands[Side.RIGHT]
    rot = env.data.site_xmat[hand.palm_site].reshape(3, 3)
    tips = (env.data.site_xpos[hand.fingertip_sites] - pos) @ rot
    assert np.allclose(target.fingertips_in_palm, tips, atol=2e-3)
    later = expert(obs) + 0.01
    intent.update(0.5, later)
    assert intent(0.4)[Side.RIGHT] is target  # a 0.1 s delay still sees the first targets
    assert np.allclose(intent(0.5)[Side.RIGHT].palm_pos, target.palm_pos + 0.01)
    with pytest.raises(ValueError, match="must not decrease"):
        intent.update(0.2, later)


def _run_expert_until(env, expert, intent, obs, segment: str, limit: int = 3000):
    """Step ``expert`` (with ``intent`` updated each tick) until its segment is ``segment``."""
    for _ in range(limit):
        if expert.segment_name == segment:
            return obs
        action = expert(obs)
        intent.update(env.data.time, action)
        obs, *_ = env.step(action)
    raise AssertionError(f"the expert never reached {segment!r}")


def _expert_and_intent(task: str, seed: int):
    """A freshly reset env of ``task``, its expert and an ExpertIntent on it."""
    env = make_env(task)
    obs, _ = env.reset(seed=seed)
    expert = expert_for(env)
    expert.reset()
    intent = ExpertIntent(expert, env)
    intent.reset(seed)
    return env, obs, expert, intent


def test_intent_at_the_placement_points_at_the_goal() -> None:
    """BreadClip: where the operator's intent puts the palm as the lowering begins, the
    clip's mouth is over the neck (within 5 mm); the plan made at reset ends the carry
    at the lift point, > 3 cm off (the stale intent the operators used to follow)."""
    env, obs, expert, intent = _expert_and_intent("BreadClip", 3)
    carry_end_at_reset = expert.planned(sum(s.duration for s in expert._segments[: expert._carry_index + 1]))
    _run_expert_until(env, expert, intent, obs, "lower")
    task, side = env.task, expert.side
    palm = env.palm_pose(side)[0]
    neck = task.neck_position(env.data)[:2]
    mouth = task.mouth_position(env.data)
    at_target = mouth + (intent(env.data.time)[side].palm_pos - palm)
    stale = mouth + (carry_end_at_reset[side]["palm_pos"] - palm)
    assert np.linalg.norm(at_target[:2] - neck) < 0.005
    assert np.linalg.norm(stale[:2] - neck) > 0.03
    env.close()


def test_intent_carries_every_part_over_its_bin() -> None:
    """PickAndPlaceParts: as each of the first two parts is lowered, the intent puts its
    centre of mass over its bin (within 1 cm); the second part is planned only once the
    first is done, so a plan made at reset never had it."""
    env, obs, expert, intent = _expert_and_intent("PickAndPlaceParts", 1)
    planned_at_reset = {s.name for s in expert._segments}
    kinds = list(expert._queue)
    kinds.insert(0, expert._current[0])
    for kind in kinds[:2]:
        obs = _run_expert_until(env, expert, intent, obs, f"{kind}:lower")
        side = expert._current[1]
        palm = env.palm_pose(side)[0]
        com = env.task.part_com(env.data, kind)
        at_target = com + (intent(env.data.time)[side].palm_pos - palm)
        assert np.linalg.norm(at_target[:2] - env.task.bin_centre(kind)[:2]) < 0.01, kind
    assert f"{kinds[1]}:lower" not in planned_at_reset
    env.close()


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


def test_supervisor_measures_drift_from_the_experts_targets_at_the_demos_pace() -> None:
    """The supervisor's drift is the palm's distance from the expert's latest targets (0
    before the expert acted); with time_scale 3.5 (the teleop demos' pace) its stall time
    stretches 3.5x: it intervenes on a stalled policy after 3.5 s of episode time for a
    1 s stall time, not before."""
    env = make_env(TASK)
    obs, _ = env.reset(seed=0)
    expert = expert_for(env)
    expert.reset()
    intent = ExpertIntent(expert, env)
    intent.reset(0)
    trigger = TriggerConfig(drift_on=10.0, stall_time=1.0)
    paced = SimulatedSupervisor(env, intent, Mode.TAKEOVER, trigger, time_scale=3.5)
    assert paced.drift(0.0) == 0.0
    action = expert(obs)
    action[:3] += 0.05  # the expert's target 5 cm off on the left palm
    intent.update(0.0, action)
    palm = {s: env.palm_pose(s)[0] for s in (Side.LEFT, Side.RIGHT)}
    expected = max(np.linalg.norm(palm[s] - intent(0.0)[s].palm_pos) for s in palm)
    assert paced.drift(1.0) == pytest.approx(expected, abs=1e-12) and expected > 0.04
    modes = {t: paced.mode(t, None) for t in (0.0, 3.4, 3.6)}  # the score never rises
    assert modes == {0.0: Mode.AUTONOMOUS, 3.4: Mode.AUTONOMOUS, 3.6: Mode.TAKEOVER}
    with pytest.raises(ValueError, match="time_scale"):
        SimulatedSupervisor(env, intent, Mode.TAKEOVER, time_scale=0.0)
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
    (result,) = record_teleop_demos(TeleopConfig(task="PickUpDrill"), tmp_path, [1000])
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


class _StillPolicy:
    """A policy that holds one action (the robot at its reset pose): it stalls."""

    env_overrides: dict = {}

    def __init__(self, action: np.ndarray) -> None:
        self.action = action

    def reset(self) -> None:
        pass

    def __call__(self, obs: dict) -> np.ndarray:
        return self.action.copy()


def test_dagger_corrections_reach_both_hands_on_a_two_handed_task(tmp_path: Path) -> None:
    """PickAndPlaceParts uses both hands, so a stalled policy is taken over on both: in
    the intervention frames both palms and both hands execute the operator's commands,
    not the policy's (the old default corrected the right hand only)."""
    env = make_env("PickAndPlaceParts")
    env.reset(seed=0)
    policy = _StillPolicy(env.hold_action())
    layout = env.layout
    env.close()
    trigger = TriggerConfig(stall_time=0.2, min_hold=2.0, max_hold=3.0, drift_on=10.0)
    config = CollectConfig(task="PickAndPlaceParts", mode=Mode.TAKEOVER, budget_steps=80, max_steps=80,
                           trigger=trigger, operator="operator_a")  # fmt: skip
    (record,) = collect_corrections(policy, config, tmp_path / "corr")
    episode = read_episode(record.path)
    frames = episode.intervention
    assert frames.sum() > 40
    for side in ("left", "right"):
        for part in ("pos", "hand"):
            sl = layout.slice(f"{side}/{part}")
            executed, proposed = episode.executed_action[frames][:, sl], episode.policy_action[frames][:, sl]
            moved = np.abs(executed - proposed).max()
            assert moved > 1e-3, (side, part, moved)


def test_operator_regrasps_after_a_slip() -> None:
    """BreadClip teleoperated through direct retargeting: once the operator carries the
    clip, a scripted slip puts it back on the table where it started. The operator's
    planner sees the clip no longer follow the hand, regrasps it and still clips it on."""
    import mujoco

    # A regrasp takes its time: twice the demos' limit (2 x 3.5 x the task's 10 s).
    config = TeleopConfig(task="BreadClip", operator="operator_a", method="direct", max_steps=3500)
    session = TeleopSession(config)
    env, expert = session.env, session.expert
    clip_joint = env.model.body(env.task._clip_body).jntadr[0]
    qadr, vadr = env.model.jnt_qposadr[clip_joint], env.model.jnt_dofadr[clip_joint]
    start: dict[str, np.ndarray] = {}
    slipped = []

    def slip(info: dict) -> None:
        if not start:
            start["qpos"] = env.data.qpos[qadr:qadr + 7].copy()
        if not slipped and expert.segment_name == "carry":
            env.data.qpos[qadr:qadr + 7] = start["qpos"]
            env.data.qpos[env.task._hinge_qpos] = 0.0
            env.data.qvel[vadr:vadr + 6] = 0.0
            mujoco.mj_forward(env.model, env.data)
            slipped.append(env.data.time)

    info, _ = session.run(1001, slip)
    session.close()
    assert slipped and expert.regrasps >= 1
    assert info["success"], (info["stages"], info["time"])


def test_operator_planner_is_the_expert_at_a_persons_pace_with_more_tries() -> None:
    """The operator plans with the task's expert played time_scale slower and retrying each
    grasp OPERATOR_ATTEMPTS times (the expert's own budget is 2 for parts)."""
    env = make_env("PickAndPlaceParts")
    own = expert_for(env)
    planner = operator_planner(env, 3.5)
    assert own.config.attempts < OPERATOR_ATTEMPTS == planner.config.attempts
    assert planner.time_scale == 3.5 and own.time_scale == 1.0
    env.close()
