"""Driver interfaces: the only way real-robot code touches devices.

Every device is a :class:`Sensor` (connect, read state, disconnect) and, if it moves
something, an :class:`Actuator` (plus send a command, hold). Both are context managers,
and leaving the context *holds* an actuator before disconnecting it: on shutdown a robot
must keep its pose under control, not drop its torques (an FR3 with torques off falls
onto the table with whatever it holds).

Arrays are float64; arm vectors have 7 entries (FR3 joints 1..7, rad, rad/s), hand
vectors one entry per hand joint in the hand description's order. Timestamps are
seconds on the driver's monotonic clock, taken when the state was *measured*, so that
stale-state checks compare measurement times, not read times.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

from handitl.intervention.streams.frame import HumanFrame, PedalState
from handitl.intervention.streams.pedals import PedalSource
from handitl.intervention.streams.source import HumanSource, SourceStatus


class DriverError(RuntimeError):
    """A device cannot be reached or refused a command (names the device and why)."""


@dataclasses.dataclass(frozen=True)
class JointState:
    """Measured joint positions (rad), velocities (rad/s) and the measurement time (s)."""

    q: np.ndarray
    dq: np.ndarray
    t: float


@dataclasses.dataclass(frozen=True)
class JointCommand:
    """Joint position targets (rad) for an impedance/position controller.

    ``dq`` is an optional feed-forward velocity (rad/s) for drivers whose controller
    takes one; others ignore it.
    """

    q: np.ndarray
    dq: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class PedalReading:
    """Foot pedals, with the e-stop pedal that :class:`~handitl.real.safety.EStop` latches."""

    pedals: PedalState = PedalState()
    estop: bool = False
    t: float = 0.0


StateT = TypeVar("StateT")
CommandT = TypeVar("CommandT")


class Sensor(abc.ABC, Generic[StateT]):
    """A device read by the control loop. ``with device:`` connects and disconnects."""

    name: str = "device"

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the link; raises :class:`DriverError` if the device does not answer."""

    @abc.abstractmethod
    def read_state(self) -> StateT:
        """The newest measurement; never blocks longer than one control tick."""

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Close the link; safe to call twice."""

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()


class Actuator(Sensor[StateT], Generic[StateT, CommandT]):
    """A device that moves. Leaving ``with`` holds it, then disconnects (never torque-off)."""

    @abc.abstractmethod
    def send_command(self, command: CommandT) -> None:
        """Set the new target; returns at once (the device's own loop tracks it)."""

    @abc.abstractmethod
    def hold(self) -> None:
        """Keep the current measured pose under control (zero velocity)."""

    def __exit__(self, *exc: object) -> None:
        try:
            self.hold()
        finally:
            self.disconnect()


class ArmDriver(Actuator[JointState, JointCommand]):
    """One 7-DoF arm taking joint position targets at policy rate (its driver keeps the
    1 kHz loop)."""

    num_joints: int = 7


class HandDriver(Actuator[JointState, JointCommand]):
    """One dexterous hand taking joint position targets."""

    num_joints: int


class Pedal(Sensor[PedalReading]):
    """Takeover/copilot pedals and the e-stop pedal."""


class PedalSourceAdapter(Pedal):
    """A :class:`Pedal` over any existing :class:`PedalSource` (keyboard, evdev, fake).

    Those sources have no e-stop pedal, so ``estop`` is always False here; an e-stop
    device is another :class:`Pedal` (see ``handitl.real.safety.EStop.poll``).
    """

    def __init__(self, source: PedalSource, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self._clock = clock

    def connect(self) -> None:
        pass

    def read_state(self) -> PedalReading:
        return PedalReading(pedals=self.source.read(), estop=False, t=self._clock())

    def disconnect(self) -> None:
        self.source.close()


class TeleopSource(Sensor[HumanFrame]):
    """The operator's hands (VR / gloves) as a device, usable wherever a
    :class:`HumanSource` is expected (it *is* one: reset / frame_at / status / close).

    Wraps an existing source (live UDP stream, recording, simulated operator), so the
    intervention wrapper runs unchanged on hardware.
    """

    def __init__(self, source: HumanSource) -> None:
        self.source = source
        self._t = 0.0

    def connect(self) -> None:
        self.source.reset(None)

    def read_state(self) -> HumanFrame:
        return self.source.frame_at(self._t)

    def disconnect(self) -> None:
        self.source.close()

    # HumanSource protocol
    def reset(self, seed: int | None = None) -> None:
        self.source.reset(seed)

    def frame_at(self, t: float) -> HumanFrame:
        self._t = t
        return self.source.frame_at(t)

    def status(self) -> SourceStatus:
        return self.source.status()

    def close(self) -> None:
        self.disconnect()
