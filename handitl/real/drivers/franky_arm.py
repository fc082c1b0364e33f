"""The FR3 arm over franky-control (libfranka underneath): joint position targets at
policy rate, while franky's own thread keeps the 1 kHz FCI loop and shapes each new
target into a jerk-limited motion (Ruckig), so a 50 Hz target stream is smooth.

franky is optional: ``pip install 'handitl[real]'``. Two arms are two drivers on two
addresses (libfranka's command port is fixed at 1337).

The driver runs its own command watchdog: when ``send_command`` has not been called for
``command_timeout`` s while the arm was tracking, a background thread commands the
*measured* pose (hold with the controller on, never a torque-off), so a stalled client
process cannot leave the arm chasing an old target or a velocity.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from handitl.real.drivers.base import ArmDriver, DriverError, JointCommand, JointState
from handitl.real.safety import CommandWatchdog


def _franky() -> Any:
    try:
        import franky
    except ImportError as exc:
        raise ImportError("the FR3 driver needs franky-control: pip install 'handitl[real]' "
                          "(or pip install franky-control)") from exc  # fmt: skip
    return franky


class FrankyArmDriver(ArmDriver):
    """One FR3 at ``host``.

    Args:
        host: the arm's FCI address (e.g. 172.16.0.2 on a robot network; 127.0.0.x for
            franka-sim).
        relative_dynamics_factor: fraction of the FR3's velocity/acceleration/jerk
            limits franky may use to reach each target (0.1-0.3 for teleoperation).
        command_timeout: s without a command before the watchdog holds.
        realtime: require a real-time kernel (True on a robot PC; False for simulation).
    """

    def __init__(self, host: str, *, relative_dynamics_factor: float = 0.2, command_timeout: float = 0.1,
                 realtime: bool = True, name: str | None = None) -> None:  # fmt: skip
        self.host = host
        self.name = name or f"fr3@{host}"
        self.relative_dynamics_factor = relative_dynamics_factor
        self.realtime = realtime
        self.watchdog = CommandWatchdog(command_timeout)
        self.watchdog_holds = 0
        """How often the watchdog has held the arm (tests and logs read it)."""
        self._robot: Any = None
        self._lock = threading.Lock()
        self._tracking = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def connect(self) -> None:
        franky = _franky()
        config = franky.RealtimeConfig.Enforce if self.realtime else franky.RealtimeConfig.Ignore
        try:
            self._robot = franky.Robot(self.host, realtime_config=config)
            self._robot.recover_from_errors()
            self._robot.relative_dynamics_factor = self.relative_dynamics_factor
        except Exception as exc:  # franky raises its own exception types
            self._robot = None
            raise DriverError(f"{self.name}: cannot connect ({type(exc).__name__}: {exc})") from exc
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name=f"{self.name}-watchdog", daemon=True)
        self._thread.start()

    def read_state(self) -> JointState:
        robot = self._connected()
        with self._lock:
            state = robot.current_joint_state
        return JointState(np.array(state.position, dtype=np.float64),
                          np.array(state.velocity, dtype=np.float64), time.monotonic())  # fmt: skip

    def send_command(self, command: JointCommand) -> None:
        q = np.asarray(command.q, dtype=np.float64)
        if q.shape != (7,) or not np.isfinite(q).all():
            raise DriverError(f"{self.name}: joint target must be 7 finite values, got {q}")
        self._move(q)
        self.watchdog.feed()
        self._tracking = True

    def hold(self) -> None:
        if self._robot is None:
            return
        self._tracking = False
        self._move(self.read_state().q)

    def disconnect(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        self._robot = None

    def _move(self, q: np.ndarray) -> None:
        franky = _franky()
        robot = self._connected()
        with self._lock:
            # An asynchronous motion replaces the running one; franky blends to the new target.
            robot.move(franky.JointMotion(q), asynchronous=True)

    def _connected(self) -> Any:
        if self._robot is None:
            raise DriverError(f"{self.name} is not connected")
        return self._robot

    def _watch(self) -> None:
        period = self.watchdog.timeout / 4
        while not self._stop.wait(period):
            if self._tracking and self.watchdog.expired():
                self.hold()
                self.watchdog_holds += 1
