"""RealBimanualEnv end to end against sim as hardware (lockstep robot server on
127.0.0.1): the same interface as the sim env, the same trajectory, task logic on
perceived objects, the intervention wrapper on top, and its safety stops."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("zmq")

from handitl.envs import make_env  # noqa: E402
from handitl.envs.registry import task_entry  # noqa: E402
from handitl.intervention.factory import hand_retargeters  # noqa: E402
from handitl.intervention.modes import Interval, Mode, ScheduledModes  # noqa: E402
from handitl.intervention.streams import GestureScript, ScriptedOperator, get_profile  # noqa: E402
from handitl.intervention.wrapper import InterventionWrapper  # noqa: E402
from handitl.real.backends import SimBackend  # noqa: E402
from handitl.real.client import RobotClient  # noqa: E402
from handitl.real.drivers.base import Pedal, PedalReading  # noqa: E402
from handitl.real.env import RealBimanualEnv, RealEnvConfig  # noqa: E402
from handitl.real.perception import FakePerception, ReplayPerception  # noqa: E402
from handitl.real.safety import EStopError, SafetyConfig, SafetyEvent, StaleStateError  # noqa: E402
from handitl.real.server import RobotServer, ServerConfig  # noqa: E402


@pytest.fixture(scope="module")
def reach_server():
    with RobotServer(SimBackend("Reach"), ServerConfig("tcp://127.0.0.1:0", realtime=False)) as srv:
        yield srv


def real_env(server: RobotServer, task: str = "Reach", **kwargs) -> RealBimanualEnv:
    real = kwargs.pop("real", RealEnvConfig(endpoint=server.endpoint))
    return RealBimanualEnv(task_entry(task).factory(), real=real, **kwargs)


def test_same_spaces_and_info_keys_as_the_sim_env(reach_server):
    """Observation space, action space, observation keys and info keys equal the sim env's."""
    env, sim = real_env(reach_server), make_env("Reach")
    try:
        assert env.observation_space == sim.observation_space
        assert env.action_space == sim.action_space
        obs, info = env.reset(seed=1)
        sim_obs, sim_info = sim.reset(seed=1)
        assert obs.keys() == sim_obs.keys() and info.keys() == sim_info.keys()
        assert env.observation_space.contains(obs)
        out = env.step(env.hold_action())
        sim_out = sim.step(sim.hold_action())
        assert out[4].keys() == sim_out[4].keys()
        assert type(out[1]) is type(sim_out[1]) and type(out[2]) is type(sim_out[2])
    finally:
        env.close()


def test_trajectory_equals_the_sim_env(reach_server):
    """Over lockstep sim-as-hardware, 40 steps of a moving end-effector policy give the
    sim env's observations and rewards (the same IK, physics and task code). The joint
    step limit is set to the IK's own (velocity_fraction 1), so the filter passes
    every command unchanged."""
    safety = SafetyConfig(velocity_fraction=1.0)
    env = real_env(reach_server, real=RealEnvConfig(endpoint=reach_server.endpoint, safety=safety))
    sim = make_env("Reach")
    try:
        env.reset(seed=2)
        sim.reset(seed=2)
        hold = sim.hold_action()
        for k in range(40):
            action = hold.copy()
            action[2] += 0.002 * k  # left palm rises at 0.1 m/s
            action[27] += 0.001 * k  # right palm moves forward at 0.05 m/s
            obs, reward, *_, info = env.step(action)
            sim_obs, sim_reward, *_, sim_info = sim.step(action)
            assert env.last_safety.events == frozenset()
        for key in sim_obs:
            np.testing.assert_allclose(obs[key], sim_obs[key], rtol=0, atol=1e-9, err_msg=key)
        assert reward == pytest.approx(sim_reward, abs=1e-9)
        assert info["time"] == pytest.approx(sim_info["time"])
    finally:
        env.close()


def test_safety_filter_limits_a_jump(reach_server):
    """An action 0.3 m away moves each palm by at most max_ee_step per step."""
    env = real_env(reach_server, real=RealEnvConfig(endpoint=reach_server.endpoint,
                                                    safety=SafetyConfig(max_ee_step=0.01)))  # fmt: skip
    try:
        obs, _ = env.reset(seed=0)
        action = env.hold_action()
        action[0] -= 0.3
        before = obs["palm_pos"].copy()
        obs, *_ = env.step(action)
        assert SafetyEvent.EE_STEP in env.last_safety.events
        assert np.linalg.norm(obs["palm_pos"] - before, axis=1).max() < 0.012
    finally:
        env.close()


def test_task_logic_runs_on_perceived_objects():
    """PickUpDrill over sim as hardware: the drill pose published by the server reaches
    the task state; a replayed pose overrides it; a fixed fake pose is reported as is."""
    with RobotServer(SimBackend("PickUpDrill"), ServerConfig("tcp://127.0.0.1:0", realtime=False)) as srv:
        sim = make_env("PickUpDrill")
        env = real_env(srv, "PickUpDrill")
        try:
            obs, _ = env.reset(seed=5)
            sim_obs, _ = sim.reset(seed=5)
            np.testing.assert_allclose(obs["task_state"], sim_obs["task_state"], atol=1e-9)
            drill = env.data.qpos[env.model.joint("drill_free").qposadr[0] :][:7].copy()
            moved = drill.copy()
            moved[:3] += [0.05, 0.0, 0.0]
            env.perception = ReplayPerception([(0.0, {"drill_free": drill}), (0.05, {"drill_free": moved})])
            env.step(env.hold_action())
            assert env.data.qpos[env.model.joint("drill_free").qposadr[0]] == pytest.approx(drill[0])
            env.step(env.hold_action())
            env.step(env.hold_action())
            assert env.data.qpos[env.model.joint("drill_free").qposadr[0]] == pytest.approx(moved[0])
            env.perception = FakePerception({"drill_free": drill})
            env.step(env.hold_action())
            adr = env.model.joint("drill_free").qposadr[0]
            np.testing.assert_array_equal(env.data.qpos[adr : adr + 7], drill)
        finally:
            env.close()


def test_intervention_wrapper_wraps_the_real_env(reach_server):
    """The InterventionWrapper runs on the real env unchanged: takeover engages and the
    executed actions reach the robot."""
    env = real_env(reach_server, config=dataclasses.replace(make_env("Reach").config,
                                                            terminate_on_success=False))  # fmt: skip
    operator = ScriptedOperator(
        get_profile("operator_a").still(), GestureScript.of(("relaxed", 20.0)), seed=0
    )
    wrapped = InterventionWrapper(env, operator, hand_retargeters(env, "relative"),
                                  ScheduledModes([Interval(0.1, 1.0, Mode.TAKEOVER)]))  # fmt: skip
    try:
        wrapped.reset(seed=0)
        modes = []
        for _ in range(15):
            *_, info = wrapped.step(env.hold_action())
            modes.append(info["intervention"].mode)
        assert Mode.AUTONOMOUS in modes and Mode.TAKEOVER in modes
        assert max(info["intervention"].engage_jump.values()) < 1e-3
    finally:
        wrapped.close()


class _FrozenClient(RobotClient):
    """A client whose robot stops ticking after reset (a hung server loop)."""

    def __init__(self, endpoint: str, clock) -> None:
        super().__init__(endpoint)
        self.clock = clock
        self.frozen = None
        self.holds = 0

    def state(self, kind, **payload):
        snapshot = super().state(kind, **payload)
        if kind == "hold":
            self.holds += 1
        if kind == "command" and self.frozen is None:
            self.frozen = snapshot
        if self.frozen is not None and kind in ("command", "heartbeat"):
            self.clock.advance(0.06)
            return self.frozen
        return snapshot


def test_stale_state_holds_and_raises(reach_server, clock):
    """A robot tick that stops advancing for longer than state_timeout: the env tells the
    server to hold and raises StaleStateError."""
    client = _FrozenClient(reach_server.endpoint, clock)
    env = real_env(reach_server, client=client, clock=clock)
    try:
        env.reset(seed=0)
        with pytest.raises(StaleStateError):
            for _ in range(5):
                env.step(env.hold_action())
        assert client.holds >= 1
    finally:
        env.close()


class _Pedal(Pedal):
    def __init__(self) -> None:
        self.reading = PedalReading()

    def connect(self) -> None:
        pass

    def read_state(self) -> PedalReading:
        return self.reading

    def disconnect(self) -> None:
        pass


def test_estop_pedal_latches_env_and_server(reach_server):
    """Pressing the e-stop pedal: the next step raises, the server latches and refuses
    commands, and only clear_estop with the pedal up lets the env move again."""
    pedal = _Pedal()
    env = real_env(reach_server, pedal=pedal)
    try:
        env.reset(seed=0)
        env.step(env.hold_action())
        pedal.reading = PedalReading(estop=True)
        with pytest.raises(EStopError):
            env.step(env.hold_action())
        assert env.client.heartbeat().estop
        pedal.reading = PedalReading(estop=False)
        with pytest.raises(EStopError):
            env.step(env.hold_action())
        env.clear_estop()
        env.step(env.hold_action())
        assert not env.client.heartbeat().estop
    finally:
        env.close()


def test_registered_id_makes_the_real_env(reach_server):
    """``gym.make("HandITL-Real/Reach-v0", endpoint=...)`` builds the real env; every
    simulation id has its real twin."""
    for env_id in [i for i in gym.registry if i.startswith("HandITL/")]:
        assert env_id.replace("HandITL/", "HandITL-Real/") in gym.registry
    env = gym.make("HandITL-Real/Reach-v0", endpoint=reach_server.endpoint, perception="none")
    try:
        assert isinstance(env.unwrapped, RealBimanualEnv)
        env.reset(seed=0)
        env.step(env.unwrapped.hold_action())
    finally:
        env.close()
