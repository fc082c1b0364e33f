"""The env's side of the robot link (see :mod:`.protocol` and :mod:`.server`)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from handitl.real.drivers.base import DriverError
from handitl.real.protocol import RobotSnapshot, decode, encode, zmq_module


class RobotClient:
    """Requests to a robot server, each answered by a state (or refused loudly).

    Args:
        endpoint: the server's ZeroMQ endpoint.
        timeout: s to wait for a reply before the link counts as lost (a
            :class:`DriverError`; the server's watchdog holds the robot meanwhile).
    """

    def __init__(self, endpoint: str, timeout: float = 1.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.info: dict[str, Any] = {}
        self._seq = 0
        self._sock: Any = None

    def connect(self) -> dict[str, Any]:
        """Open the link and fetch the robot layout (``control_dt``, ``hand_joints``)."""
        zmq = zmq_module()
        self._sock = zmq.Context.instance().socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(self.endpoint)
        self.info = self._request("hello")
        return self.info

    def close(self) -> None:
        """Tell the server to hold (never torque-off), then close the socket."""
        if self._sock is None:
            return
        try:
            self._request("bye")
        except DriverError:
            pass  # the server's watchdog holds anyway
        finally:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> RobotClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests -------------------------------------------------------------------------------

    def command(self, arm_q: np.ndarray, hand_q: np.ndarray) -> RobotSnapshot:
        """Send joint targets ((2, 7), (2, n) rad); returns the state after the tick that
        applied them (realtime servers answer at their next tick)."""
        return self.state("command", arm_q=arm_q, hand_q=hand_q)

    def heartbeat(self) -> RobotSnapshot:
        return self.state("heartbeat")

    def hold(self) -> RobotSnapshot:
        return self.state("hold")

    def estop(self, reason: str = "api") -> RobotSnapshot:
        return self.state("estop", reason=reason)

    def clear_estop(self) -> RobotSnapshot:
        return self.state("clear_estop")

    def reset(self, seed: int | None = None) -> RobotSnapshot:
        return self.state("reset", seed=seed)

    def state(self, kind: str, **payload: Any) -> RobotSnapshot:
        snapshot = RobotSnapshot.from_message(self._request(kind, **payload))
        if snapshot.error:
            raise DriverError(f"robot server refused {kind!r}: {snapshot.error}")
        return snapshot

    def _request(self, kind: str, **payload: Any) -> dict[str, Any]:
        if self._sock is None:
            raise DriverError("RobotClient is not connected; call connect()")
        self._seq += 1
        seq = self._seq
        self._sock.send(encode({"kind": kind, "seq": seq, **payload}))
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            if not self._sock.poll(int(left * 1000) + 1):
                break
            reply = decode(self._sock.recv())
            if reply.get("kind") == "error":
                raise DriverError(f"robot server rejected a request: {reply.get('error')}")
            if reply.get("ack") == seq:
                return reply
            # a late reply to a request we gave up on: drop it
        raise DriverError(f"no reply from the robot server at {self.endpoint} within {self.timeout} s")
