"""The FR3 driver, and the whole real env, against a real protocol peer: two franka-sim
servers (this project's FR3 model) on 127.0.0.1 and 127.0.0.2, in franka-sim's own venv,
driven through franky-control; the end-to-end test adds the robot server, two simulated
hand servers and RealBimanualEnv on top. Skipped with the reason when the venv or franky is missing; set it up
with ``bash scripts/setup_franka_sim.sh`` and run ``pytest -m franka_sim tests/real``."""

from __future__ import annotations

import time

import numpy as np
import pytest

from handitl.real.drivers.base import JointCommand
from handitl.real.franka_peer import FrankaSimProcess, default_venv, venv_python, write_fr3_mjcf

pytestmark = pytest.mark.franka_sim
HOSTS = ("127.0.0.1", "127.0.0.2")


@pytest.fixture(scope="module")
def franka_sims(tmp_path_factory):
    pytest.importorskip("franky", reason="franky-control is not installed: pip install 'handitl[real]'")
    python = venv_python(default_venv())
    if python is None:
        pytest.skip(f"no franka-sim venv at {default_venv()}: run scripts/setup_franka_sim.sh "
                    "(or set HANDITL_FRANKA_SIM_VENV)")  # fmt: skip
    mjcf = write_fr3_mjcf(tmp_path_factory.mktemp("fr3") / "fr3.xml")
    with FrankaSimProcess(HOSTS[0], python, mjcf), FrankaSimProcess(HOSTS[1], python, mjcf):
        yield HOSTS


def test_two_arms_connect_move_and_hold_on_a_client_stall(franka_sims):
    """Both arms connect on their own addresses and report 7 joints; a 0.5 s ramp of
    joint-1 targets at 50 Hz moves joint 1 by > 0.05 rad; then the client sends one far
    target (+0.5 rad, ~0.6 s away at this speed) and stalls: the driver's watchdog holds
    after the 0.1 s timeout, so the arm stops well short of that target (within 1 mrad
    of where it held, and stays); leaving the context holds again and disconnects."""
    from handitl.real.drivers.franky_arm import FrankyArmDriver

    arms = [FrankyArmDriver(h, realtime=False, command_timeout=0.1, relative_dynamics_factor=0.3)
            for h in franka_sims]  # fmt: skip
    with arms[0], arms[1]:
        q0 = [arm.read_state().q for arm in arms]
        assert all(q.shape == (7,) and np.isfinite(q).all() for q in q0)
        for k in range(1, 26):
            for arm, q in zip(arms, q0):
                arm.send_command(JointCommand(q + np.array([0.006 * k, 0, 0, 0, 0, 0, 0])))
            time.sleep(0.02)
        moved = [arm.read_state().q[0] - q[0] for arm, q in zip(arms, q0)]
        assert min(moved) > 0.05, moved
        far = [arm.read_state().q + np.array([0.5, 0, 0, 0, 0, 0, 0]) for arm in arms]
        for arm, q in zip(arms, far):
            arm.send_command(JointCommand(q))
        time.sleep(0.3)  # the client stalls
        assert all(arm.watchdog_holds == 1 for arm in arms)
        deadline = time.monotonic() + 2.0  # the hold decelerates the arm (jerk-limited)
        while time.monotonic() < deadline and max(np.abs(a.read_state().dq).max() for a in arms) > 0.01:
            time.sleep(0.02)
        held = [arm.read_state() for arm in arms]
        time.sleep(0.2)
        for arm, h in zip(arms, held):
            now = arm.read_state()
            assert np.abs(now.q - h.q).max() < 1e-3 and np.abs(now.dq).max() < 0.05
        for arm, q in zip(arms, far):
            assert arm.read_state().q[0] < q[0] - 0.2, "held short of the old target, not chasing it"


@pytest.fixture
def real_stack(franka_sims):
    """The whole real-robot stack on the peers: RobotServer (wall clock, 50 Hz) with a
    DriverBackend of two FrankyArmDrivers (one per franka-sim address) and two
    ZmqHandDrivers talking to two SimHandServers, and the RealBimanualEnv of Reach.

    The drivers' own watchdogs get a long timeout (1 s), so a client stall is caught by
    the *server's* watchdog (0.1 s). franka-sim puts each arm's base at its own origin;
    nothing needs that frame: only joint angles cross the server, and the env computes
    palms, the workspace box and the arm distance on its mirror scene (bases at
    (0, +-0.32, 0))."""
    pytest.importorskip("zmq")
    from handitl.assets.hand_description import SIDES
    from handitl.envs import EnvConfig
    from handitl.envs.registry import task_entry
    from handitl.real.backends import DriverBackend
    from handitl.real.drivers.franky_arm import FrankyArmDriver
    from handitl.real.drivers.zmq_hand import ZmqHandDriver
    from handitl.real.env import RealBimanualEnv, RealEnvConfig
    from handitl.real.hand_server import SimHandServer
    from handitl.real.server import RobotServer, ServerConfig

    hand_servers = {side: SimHandServer("procedural21", side) for side in SIDES}
    with hand_servers[SIDES[0]], hand_servers[SIDES[1]]:
        arms = {side: FrankyArmDriver(host, realtime=False, command_timeout=1.0, relative_dynamics_factor=0.3)
                for side, host in zip(SIDES, franka_sims)}  # fmt: skip
        hands = {
            side: ZmqHandDriver(hand_servers[side].endpoint, name=f"{side.value} hand") for side in SIDES
        }
        backend = DriverBackend(arms, hands)
        try:
            config = ServerConfig("tcp://127.0.0.1:0", command_timeout=0.1, realtime=True)
            with RobotServer(backend, config) as server:
                env = RealBimanualEnv(task_entry("Reach").factory(), EnvConfig(terminate_on_success=False),
                                      RealEnvConfig(endpoint=server.endpoint))  # fmt: skip
                try:
                    yield env, server, arms, hand_servers
                finally:
                    env.close()
        finally:
            backend.close()


def _settle(arms, timeout: float = 2.0) -> None:
    """Wait until both peers report the arms at rest (|dq| < 0.01 rad/s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and max(np.abs(a.read_state().dq).max() for a in arms.values()) > 0.01:
        time.sleep(0.02)


def _hand_q(server) -> np.ndarray:
    """(n,) joint angles of a SimHandServer's hand, rad, read from its physics."""
    return np.array([server.data.qpos[server.model.joint(n).qposadr[0]] for n in server.names])


def test_real_env_end_to_end_on_two_peers(real_stack):
    """RealBimanualEnv -> RobotServer -> DriverBackend -> two franka-sim FR3s and two
    simulated hands, at 50 Hz on the wall clock:

    * reset: the observed arm and hand joints equal what the peers report;
    * 10 steps holding (ee_pose mode): the palms stay within 2 mm;
    * a scripted palm move (left up 3 cm, right forward 3 cm, ramped over 0.8 s, then
      held 0.4 s) and one hand joint closing 0.3 rad: the palms end within 5 mm of
      their targets, the hand joint within 0.03 rad; the safety filter never holds an
      arm (a late tick may let it shorten a joint step, which is its job); at rest the
      observations equal the peers' joint states again;
    * the client stalls for 0.3 s after commanding a further move: the server's
      watchdog holds (reason ``command_timeout``; the drivers' own watchdogs never
      fire), both arms come to rest and stay, the hands' servos target their measured
      pose; the next env.step resumes tracking.
    """
    from handitl.assets.hand_description import SIDES
    from handitl.real.safety import SafetyEvent

    env, server, arms, hand_servers = real_stack

    def assert_obs_match_peers(obs, atol_arm=1e-3, atol_hand=5e-3):
        for k, side in enumerate(SIDES):
            np.testing.assert_allclose(obs["arm_qpos"][k], arms[side].read_state().q, atol=atol_arm)
            np.testing.assert_allclose(obs["hand_qpos"][k], _hand_q(hand_servers[side]), atol=atol_hand)

    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert_obs_match_peers(obs)
    palms0 = obs["palm_pos"].copy()
    assert np.linalg.norm(palms0[0] - palms0[1]) > 0.5  # the mirror's bases, not franka-sim's

    hold = env.hold_action()
    for _ in range(10):
        obs, *_ = env.step(hold)
        assert env.last_safety.events == frozenset()
    assert np.abs(obs["palm_pos"] - palms0).max() < 2e-3

    left, right = env.layout.slice("left/pos"), env.layout.slice("right/pos")
    finger = env.layout.slice("left/hand").start + 1
    target = palms0 + np.array([[0.0, 0.0, 0.03], [0.03, 0.0, 0.0]])
    for k in range(1, 61):
        a = min(k / 40, 1.0)
        action = hold.copy()
        action[left] = palms0[0] + a * (target[0] - palms0[0])
        action[right] = palms0[1] + a * (target[1] - palms0[1])
        action[finger] = hold[finger] + 0.3 * a
        obs, reward, terminated, truncated, info = env.step(action)
        assert env.last_safety.events <= {SafetyEvent.JOINT_STEP, SafetyEvent.EE_STEP}, env.last_safety.events
        assert not any(env.last_safety.held)
        assert not (terminated or truncated)
    assert np.abs(obs["palm_pos"] - target).max() < 5e-3, obs["palm_pos"] - target
    assert obs["hand_qpos"][0, 1] == pytest.approx(hold[finger] + 0.3, abs=0.03)
    _settle(arms)
    obs, *_ = env.step(action)
    assert_obs_match_peers(obs, atol_arm=2e-3)

    before = server.tick_count
    further = action.copy()
    further[left] += [0.0, 0.0, 0.02]
    env.step(further)
    time.sleep(0.3)  # the client stalls
    assert server.hold_reason == "command_timeout"
    assert server.tick_count - before >= 10, "the server kept ticking during the stall"
    assert all(arm.watchdog_holds == 0 for arm in arms.values())
    _settle(arms)
    held = {side: arm.read_state().q for side, arm in arms.items()}
    time.sleep(0.2)
    for side, arm in arms.items():
        now = arm.read_state()
        assert np.abs(now.q - held[side]).max() < 1e-3 and np.abs(now.dq).max() < 0.05
        hs = hand_servers[side]
        np.testing.assert_allclose(hs.targets, _hand_q(hs), atol=0.02)

    obs, *_ = env.step(env.hold_action())  # resume: a heartbeat, then a tracked command
    assert server.hold_reason is None
    assert_obs_match_peers(obs, atol_arm=5e-3, atol_hand=0.02)
