"""InterventionWrapper: modes, continuity at engage, shared control, recorder, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import gymnasium as gym
import numpy as np
import pytest

from handitl.agents import HoldPolicy
from handitl.assets.hand_description import Side
from handitl.envs import make_env, registered_tasks
from handitl.intervention.factory import hand_retargeters
from handitl.intervention.modes import Interval, Mode, PedalModes, ScheduledModes
from handitl.intervention.recorder import EpisodeRecorder, episode_paths, read_episode
from handitl.intervention.shared_control import VelocityResidual
from handitl.intervention.streams import (
    GestureScript,
    RecordedSource,
    RecordingMetadata,
    ScriptedOperator,
    StreamRecording,
    get_profile,
)
from handitl.intervention.wrapper import InterventionWrapper


def _operator(still: bool = True, takeover=None) -> ScriptedOperator:
    profile = get_profile("operator_a")
    script = GestureScript.of(("relaxed", 4.0), ("power_grasp", 4.0)) if not still else \
        GestureScript.of(("relaxed", 20.0))  # fmt: skip
    kwargs = {} if takeover is None else {"takeover": takeover}
    return ScriptedOperator(profile.still() if still else profile, script, seed=0, **kwargs)


def _wrapped(method: str = "relative", schedule=(), source=None, recorder=None, task: str = "Reach"):
    env = make_env(task, terminate_on_success=False)
    modes = ScheduledModes(list(schedule)) if schedule else PedalModes()
    return InterventionWrapper(env, source or _operator(), hand_retargeters(env, method), modes,
                               recorder=recorder)  # fmt: skip


def test_autonomous_mode_is_bit_identical_to_the_bare_env() -> None:
    """With no pedal pressed the wrapped env's observations equal the bare env's bit for
    bit over 100 steps of a moving policy."""
    wrapped = _wrapped()
    bare = make_env("Reach", terminate_on_success=False)
    obs_w, _ = wrapped.reset(seed=4)
    obs_b, _ = bare.reset(seed=4)
    rng = np.random.default_rng(0)
    hold = bare.hold_action()
    for _ in range(100):
        action = hold + 0.01 * rng.normal(size=hold.shape)
        obs_w, r_w, *_ = wrapped.step(action)
        obs_b, r_b, *_ = bare.step(action)
        for key in obs_b:
            assert np.array_equal(obs_w[key], obs_b[key]), key
        assert r_w == r_b
    wrapped.close()


class _Spy(gym.Wrapper):
    """Remembers what the env below the intervention wrapper returned."""

    def step(self, action):
        self.last = self.env.step(action)
        return self.last


def test_reward_and_termination_pass_through_unchanged() -> None:
    """During takeover and copilot segments, the wrapper returns exactly the reward,
    terminated and truncated flags of the env it wraps."""
    env = _Spy(make_env("Reach"))
    wrapper = InterventionWrapper(env, _operator(still=False), hand_retargeters(env.unwrapped),
                                  ScheduledModes([Interval(0.2, 1.0, Mode.TAKEOVER),
                                                  Interval(1.2, 2.0, Mode.COPILOT)]))  # fmt: skip
    obs, _ = wrapper.reset(seed=0)
    policy = HoldPolicy(env.unwrapped.layout)
    for _ in range(120):
        obs, reward, terminated, truncated, info = wrapper.step(policy(obs))
        assert (reward, terminated, truncated) == env.last[1:4]
        if terminated:
            break
    wrapper.close()


@pytest.mark.parametrize("method, bound", [("relative", 1e-6), ("delta", 1e-6), ("jacobian", 1e-6)])
def test_engaging_with_a_still_operator_does_not_jump(method: str, bound: float) -> None:
    """Three takeovers with a still operator whose hand is posed unlike the robot's: the
    hand command changes by <= 1e-6 rad at each engage (relative, DeltaCmd, Jacobian)."""
    wrapper = _wrapped(method, [Interval(0.3, 0.8, Mode.TAKEOVER), Interval(1.2, 1.6, Mode.TAKEOVER),
                                Interval(2.0, 2.4, Mode.COPILOT)])  # fmt: skip
    obs, _ = wrapper.reset(seed=1)
    policy = HoldPolicy(wrapper.unwrapped.layout)
    jumps = []
    for _ in range(130):
        obs, _, _, _, info = wrapper.step(policy(obs))
        if info["intervention"].engaged:
            jumps.append(max(info["intervention"].engage_jump.values()))
    assert len(jumps) == 3
    assert max(jumps) <= bound
    wrapper.close()


def test_direct_switching_jumps_to_the_operators_pose() -> None:
    """Direct (absolute) retargeting jumps at engage: > 0.3 rad for a relaxed operator
    taking over an open robot hand."""
    wrapper = _wrapped("direct", [Interval(0.3, 0.8, Mode.TAKEOVER)])
    obs, _ = wrapper.reset(seed=1)
    policy = HoldPolicy(wrapper.unwrapped.layout)
    jumps = []
    for _ in range(60):
        obs, _, _, _, info = wrapper.step(policy(obs))
        if info["intervention"].engaged:
            jumps.append(max(info["intervention"].engage_jump.values()))
    assert jumps and jumps[0] > 0.3
    wrapper.close()


def test_still_operator_arm_residual_decays() -> None:
    """After the operator's wrist moves 5 cm in 0.5 s and then stays still, the copilot
    position offset falls below 1 mm within 1 s of stillness."""
    residual = VelocityResidual(control_dt=0.02)
    quat = np.array([1.0, 0.0, 0.0, 0.0])
    t = 0.0
    for _ in range(25):
        residual.update(np.array([0.1 * t, 0.0, 0.3]), quat)
        t += 0.02
    assert np.linalg.norm(residual.offset_pos) > 0.02
    held = np.array([0.1 * t, 0.0, 0.3])
    for _ in range(50):  # 1 s still
        residual.update(held, quat)
    assert np.linalg.norm(residual.offset_pos) < 1e-3


def test_takeover_arm_mapping_keeps_a_still_operators_arm() -> None:
    """In takeover, a still operator's anchored wrist mapping keeps the executed palm
    target within 1e-9 m of the palm pose at engage."""
    wrapper = _wrapped("relative", [Interval(0.2, 2.0, Mode.TAKEOVER)])
    obs, _ = wrapper.reset(seed=2)
    policy = HoldPolicy(wrapper.unwrapped.layout)
    layout = wrapper.unwrapped.layout
    targets = []
    for _ in range(80):
        obs, _, _, _, info = wrapper.step(policy(obs))
        rec = info["intervention"]
        if rec.mode is Mode.TAKEOVER:
            targets.append(rec.executed_action[layout.slice("right/pos")])
    assert np.abs(np.array(targets) - targets[0]).max() < 1e-9
    wrapper.close()


def _record_operator_stream(seconds: float = 3.0) -> StreamRecording:
    op = _operator(still=False)
    op.reset(0)
    frames = [op.frame_at(k * 0.02) for k in range(int(seconds / 0.02))]
    return StreamRecording.from_frames(frames, RecordingMetadata(source="simulated", nominal_rate_hz=50.0))


def test_replay_from_a_recorded_stream_is_deterministic() -> None:
    """Replaying one recorded stream twice with the same schedule and seed gives
    bit-identical executed actions and observations."""
    recording = _record_operator_stream()
    runs = []
    for _ in range(2):
        wrapper = _wrapped("relative", [Interval(0.4, 2.0, Mode.TAKEOVER)], source=RecordedSource(recording))
        obs, _ = wrapper.reset(seed=3)
        policy = HoldPolicy(wrapper.unwrapped.layout)
        trace = []
        for _ in range(120):
            obs, _, _, _, info = wrapper.step(policy(obs))
            trace.append(np.concatenate([info["intervention"].executed_action, obs["hand_qpos"].ravel()]))
        runs.append(np.array(trace))
        wrapper.close()
    assert np.array_equal(runs[0], runs[1])
    assert np.abs(np.diff(runs[0][:, :20], axis=0)).max() > 0  # the human did move the robot


def test_recorder_writes_readable_episodes(tmp_path) -> None:
    """Each episode becomes one file with every step, labels matching the modes, the
    human input and the metadata."""
    recorder = EpisodeRecorder(tmp_path, {"task": "Reach", "method": "relative", "operator": "a"})
    wrapper = _wrapped("relative", [Interval(0.2, 0.6, Mode.TAKEOVER)], recorder=recorder)
    for seed in (0, 1):
        obs, _ = wrapper.reset(seed=seed)
        policy = HoldPolicy(wrapper.unwrapped.layout)
        for _ in range(40):
            obs, *_ = wrapper.step(policy(obs))
    wrapper.close()
    paths = episode_paths(tmp_path)
    assert len(paths) == 2
    episode = read_episode(paths[1])
    assert episode.num_steps == 40 and episode.metadata["seed"] == 1
    assert episode.observations["arm_qpos"].shape == (41, 2, 7)
    assert episode.intervention.sum() == 20 and episode.engaged.sum() == 1
    assert np.isfinite(episode.human["right/keypoints"]).any()


def test_killed_writer_loses_only_the_open_episode(tmp_path) -> None:
    """A recording process killed with SIGKILL during its third episode leaves the first
    two episodes complete and readable, and no partial episode file."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(os.getcwd())!r})
        from tests.intervention.test_wrapper import _wrapped
        from handitl.intervention.modes import Interval, Mode
        from handitl.intervention.recorder import EpisodeRecorder
        from handitl.agents import HoldPolicy
        recorder = EpisodeRecorder({str(tmp_path)!r}, {{"task": "Reach"}})
        w = _wrapped("relative", [Interval(0.1, 0.3, Mode.TAKEOVER)], recorder=recorder)
        for seed in range(100):
            obs, _ = w.reset(seed=seed)
            policy = HoldPolicy(w.unwrapped.layout)
            for k in range(20):
                obs, *_ = w.step(policy(obs))
            print("episode", seed, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "MUJOCO_GL": "disable"})  # fmt: skip
    done = 0
    deadline = time.monotonic() + 120
    while done < 3 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("episode"):
            done += 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert done == 3, "the writer did not get through three episodes in time"
    paths = episode_paths(tmp_path)
    assert len(paths) >= 2  # episodes 0 and 1 were closed by the resets that followed them
    for path in paths:
        assert read_episode(path).num_steps == 20
    leftovers = [p for p in tmp_path.iterdir() if p not in paths]
    assert all(p.name.startswith(".") and p.suffix == ".tmp" for p in leftovers)


@pytest.mark.parametrize("task", registered_tasks())
def test_all_modes_run_on_every_task(task: str) -> None:
    """Autonomous, takeover and copilot segments run on each task with a moving operator:
    finite executed actions, the mode sequence as scheduled, and every engage recorded."""
    schedule = [Interval(0.2, 0.5, Mode.TAKEOVER), Interval(0.6, 0.9, Mode.COPILOT)]
    wrapper = _wrapped("relative", schedule, source=_operator(still=False), task=task)
    obs, _ = wrapper.reset(seed=0)
    policy = HoldPolicy(wrapper.unwrapped.layout)
    modes, engages = [], 0
    for _ in range(50):
        obs, _, terminated, truncated, info = wrapper.step(policy(obs))
        record = info["intervention"]
        assert np.isfinite(record.executed_action).all()
        modes.append(record.mode)
        engages += record.engaged
        if terminated or truncated:
            break
    assert engages == 2
    assert {Mode.AUTONOMOUS, Mode.TAKEOVER, Mode.COPILOT} <= set(modes)
    wrapper.close()


def test_retargeter_overrides_replace_config_fields_and_reject_unknown_ones() -> None:
    """An ablation setting reaches the retargeter's config (the relative method's
    structural-safety weight); an unknown field is a ValueError naming the known ones."""
    env = make_env("Reach")
    (relative,) = hand_retargeters(env, "relative", sides=(Side.RIGHT,),
                                   overrides={"safety_weight": 0.0}).values()  # fmt: skip
    assert relative.config.safety_weight == 0.0
    (plain,) = hand_retargeters(env, "relative", sides=(Side.RIGHT,)).values()
    assert plain.config.safety_weight > 0.0
    with pytest.raises(ValueError, match="known: .*safety_weight"):
        hand_retargeters(env, "relative", sides=(), overrides={"bogus": 1.0})
    env.close()
