"""Robot server and hand protocol over ZeroMQ on 127.0.0.1, with the MuJoCo sim as
hardware. Servers run in background threads (no process start-up cost)."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("zmq")

from handitl.assets.hand_description import SIDES, Side  # noqa: E402
from handitl.real.backends import DriverBackend, SimBackend  # noqa: E402
from handitl.real.client import RobotClient  # noqa: E402
from handitl.real.drivers.base import DriverError, JointCommand  # noqa: E402
from handitl.real.drivers.fake import FakeArmDriver, FakeHandDriver  # noqa: E402
from handitl.real.drivers.zmq_hand import ZmqHandDriver  # noqa: E402
from handitl.real.hand_server import SimHandServer  # noqa: E402
from handitl.real.server import RobotServer, ServerConfig  # noqa: E402

LOCAL = "tcp://127.0.0.1:0"


def test_lockstep_commands_tick_once_each_and_ack_their_seq():
    """Each command runs exactly one tick, is acknowledged with its own seq, and moves
    the simulated arm toward the target."""
    with RobotServer(SimBackend("Reach"), ServerConfig(LOCAL, realtime=False)) as srv:
        with RobotClient(srv.endpoint) as client:
            assert client.info["hand_joints"] == 21
            s0 = client.heartbeat()
            assert s0.arm_q.shape == (2, 7) and s0.hand_q.shape == (2, 21) and s0.held
            target = s0.arm_q.copy()
            target[:, 0] += 0.02
            s = s0
            for k in range(1, 11):
                s = client.command(target, s0.hand_q)
                assert s.tick == s0.tick + k and s.ack == client._seq and not s.held
            assert np.abs(s.arm_q[:, 0] - target[:, 0]).max() < 0.005


def test_watchdog_holds_a_stalled_client_then_resumes():
    """Realtime server, 0.06 s timeout: the client stops commanding, the server holds
    (reason command_timeout) and the arm stops; a new command resumes tracking."""
    with RobotServer(SimBackend("Reach"), ServerConfig(LOCAL, command_timeout=0.06)) as srv:
        with RobotClient(srv.endpoint) as client:
            s = client.heartbeat()
            for _ in range(5):  # keep moving joint 1 at ~1 rad/s
                s = client.command(s.arm_q + [[0.02, 0, 0, 0, 0, 0, 0]] * 2, s.hand_q)
            assert not s.held
            time.sleep(0.12)  # the stall
            held = client.heartbeat()
            assert held.held and held.hold_reason == "command_timeout"
            time.sleep(0.06)
            later = client.heartbeat()
            assert np.abs(later.arm_q - held.arm_q).max() < 2e-3, "held arm must not drift"
            assert np.abs(later.arm_dq).max() < 0.05
            resumed = client.command(later.arm_q, later.hand_q)
            assert not resumed.held and resumed.hold_reason is None


def test_estop_refuses_commands_until_cleared():
    """After an API e-stop the server holds and refuses commands; clearing re-allows them."""
    with RobotServer(SimBackend("Reach"), ServerConfig(LOCAL, realtime=False)) as srv:
        with RobotClient(srv.endpoint) as client:
            s = client.estop("test")
            assert s.estop and s.held and s.hold_reason == "estop"
            with pytest.raises(DriverError, match="e-stop"):
                client.command(s.arm_q, s.hand_q)
            client.clear_estop()
            assert not client.command(s.arm_q, s.hand_q).held


def test_late_replies_are_dropped_by_sequence_number():
    """A reply to a request the client gave up on never answers a later request."""
    with RobotServer(SimBackend("Reach"), ServerConfig(LOCAL)) as srv:
        with RobotClient(srv.endpoint) as client:
            s = client.heartbeat()
            client.timeout = 0.001  # shorter than a tick: the command reply comes late
            with pytest.raises(DriverError, match="no reply"):
                client.command(s.arm_q, s.hand_q)
            client.timeout = 1.0
            time.sleep(0.03)
            hb = client.heartbeat()
            assert hb.ack == client._seq


def test_client_close_and_server_stop_hold():
    """Closing the client leaves the server holding (reason client); stopping the server
    holds the backend: hold, never torque-off."""
    arms = {s: FakeArmDriver(np.zeros(7)) for s in SIDES}
    hands = {s: FakeHandDriver(np.zeros(3)) for s in SIDES}
    srv = RobotServer(DriverBackend(arms, hands), ServerConfig(LOCAL, realtime=False)).start()
    client = RobotClient(srv.endpoint)
    client.connect()
    client.command(np.full((2, 7), 0.1), np.zeros((2, 3)))
    client.close()
    assert srv.hold_reason == "client"
    srv.stop()
    for device in (*arms.values(), *hands.values()):
        assert device.calls[-1] == "hold" and "disconnect" not in device.calls


def test_hand_protocol_with_the_simulated_hand():
    """A ZeroMQ hand driver moves the MuJoCo hand to its targets; out-of-range targets
    are clipped by the server and malformed ones refused."""
    with SimHandServer(side=Side.LEFT) as srv, ZmqHandDriver(srv.endpoint) as hand:
        assert hand.num_joints == 21
        target = np.clip(np.full(21, 0.4), hand.lower, hand.upper)
        hand.send_command(JointCommand(target))
        deadline = time.monotonic() + 5.0
        while np.abs(hand.read_state().q - target).max() > 0.01 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert np.abs(hand.read_state().q - target).max() <= 0.01
        hand.send_command(JointCommand(np.full(21, 10.0)))
        np.testing.assert_array_equal(srv.targets, hand.upper)
        with pytest.raises(DriverError, match="shape"):
            hand.send_command(JointCommand(np.zeros(3)))


def test_driver_backend_routes_commands_to_arm_and_hand_drivers():
    """The server over a DriverBackend (fake arms, two simulated ZeroMQ hands) forwards
    a command to every device and reports their measured state; the server announces
    the hands' joint count, which a protocol hand only knows once connected."""
    with SimHandServer(side=Side.LEFT) as left, SimHandServer(side=Side.RIGHT) as right:
        arms = {s: FakeArmDriver(np.zeros(7)) for s in SIDES}
        hands = {Side.LEFT: ZmqHandDriver(left.endpoint), Side.RIGHT: ZmqHandDriver(right.endpoint)}
        backend = DriverBackend(arms, hands)
        with RobotServer(backend, ServerConfig(LOCAL, realtime=False)) as srv, RobotClient(srv.endpoint) as c:
            assert backend.hand_joints == c.info["hand_joints"] == 21
            s = c.command(np.full((2, 7), 0.05), np.full((2, 21), 0.0))
            np.testing.assert_array_equal(s.arm_q, np.full((2, 7), 0.05))
            assert s.hand_q.shape == (2, 21)
        backend.close()
        assert all(a.calls[-2:] == ["hold", "disconnect"] for a in arms.values())
