"""A :class:`HandDriver` speaking the generic joint-position hand protocol
(:mod:`handitl.real.hand_server`) to a vendor bridge or :class:`SimHandServer`."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from handitl.real.drivers.base import DriverError, HandDriver, JointCommand, JointState
from handitl.real.protocol import decode, encode, zmq_module


class ZmqHandDriver(HandDriver):
    """One hand over ZeroMQ.

    Args:
        endpoint: the hand server's endpoint.
        timeout: s to wait for each reply before raising :class:`DriverError`.
    """

    def __init__(self, endpoint: str, timeout: float = 0.5, name: str = "hand") -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.name = name
        self.names: tuple[str, ...] = ()
        self.lower = self.upper = np.zeros(0)
        self.num_joints = 0
        self._sock: Any = None
        self._seq = 0
        self._t0 = 0.0

    def connect(self) -> None:
        zmq = zmq_module()
        self._sock = zmq.Context.instance().socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(self.endpoint)
        info = self._request({"kind": "info"})
        self.names = tuple(info["names"])
        self.lower, self.upper = np.asarray(info["lower"]), np.asarray(info["upper"])
        self.num_joints = len(self.names)

    def read_state(self) -> JointState:
        return self._state(self._request({"kind": "get"}))

    def send_command(self, command: JointCommand) -> None:
        self._request({"kind": "set", "q": np.asarray(command.q, dtype=np.float64)})

    def hold(self) -> None:
        if self._sock is not None:
            self._request({"kind": "hold"})

    def disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _state(self, reply: dict[str, Any]) -> JointState:
        # The server's clock has its own origin; the measurement time on ours is the
        # receive time minus nothing we can know better on one host, so use now.
        return JointState(np.asarray(reply["q"]), np.asarray(reply["dq"]), time.monotonic())

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._sock is None:
            raise DriverError(f"{self.name} ({self.endpoint}) is not connected")
        self._seq += 1
        self._sock.send(encode({**message, "seq": self._seq}))
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0 and self._sock.poll(int(left * 1000) + 1):
            reply = decode(self._sock.recv())
            if reply.get("kind") == "error":
                raise DriverError(
                    f"{self.name} ({self.endpoint}) refused {message['kind']!r}: {reply['error']}"
                )
            if reply.get("ack") == self._seq:
                return reply
        raise DriverError(f"{self.name} ({self.endpoint}) did not answer within {self.timeout} s")
