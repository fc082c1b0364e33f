"""In-memory drivers for tests and dry runs: they reach their targets at once and log
every call, so a test can check what hardware would have been told, and in what order."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from handitl.real.drivers.base import ArmDriver, DriverError, HandDriver, JointCommand, JointState


class _FakeJoints:
    def __init__(self, q0: np.ndarray, clock: Callable[[], float]) -> None:
        self.q = np.array(q0, dtype=np.float64)
        self.dq = np.zeros_like(self.q)
        self.calls: list[str] = []
        self.connected = False
        self.frozen = False
        """While True, the state stops updating (a stalled device for stale-state tests)."""
        self._clock = clock
        self._t = clock()

    def connect(self) -> None:
        self.calls.append("connect")
        self.connected = True

    def read_state(self) -> JointState:
        if not self.connected:
            raise DriverError(f"{type(self).__name__} is not connected")
        if not self.frozen:
            self._t = self._clock()
        return JointState(self.q.copy(), self.dq.copy(), self._t)

    def send_command(self, command: JointCommand) -> None:
        if not self.connected:
            raise DriverError(f"{type(self).__name__} is not connected")
        self.calls.append("command")
        if not self.frozen:
            self.q = np.array(command.q, dtype=np.float64)

    def hold(self) -> None:
        self.calls.append("hold")
        self.dq[:] = 0.0

    def disconnect(self) -> None:
        self.calls.append("disconnect")
        self.connected = False


class FakeArmDriver(_FakeJoints, ArmDriver):
    """A 7-joint arm that reaches each target instantly."""

    def __init__(self, q0: np.ndarray, clock: Callable[[], float] = time.monotonic) -> None:
        _FakeJoints.__init__(self, q0, clock)


class FakeHandDriver(_FakeJoints, HandDriver):
    """An n-joint hand that reaches each target instantly."""

    def __init__(self, q0: np.ndarray, clock: Callable[[], float] = time.monotonic) -> None:
        _FakeJoints.__init__(self, q0, clock)
        self.num_joints = len(self.q)
