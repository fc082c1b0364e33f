"""The robot server: one process (or thread) that owns the robot's control ticks.

The env talks to it over ZeroMQ (see :mod:`.protocol`). The server, not the env, runs
the command watchdog, because a stalled or crashed client cannot stop its own robot:
when no command arrived for ``command_timeout`` s it holds the measured pose until the
next command. It also latches the e-stop, and holds (never torque-off) when it stops.

Two pacing modes:

* ``realtime`` (hardware, and sim as hardware at wall-clock speed): a tick every
  ``control_dt`` s whatever the clients do; a ``command`` is answered with the state
  after the next tick, so the client is paced by the robot.
* lockstep (``realtime=False``; tests, faster-than-real-time sim): each ``command``
  runs one tick at once. The watchdog then only acts on heartbeats (no ticks run
  without commands, so nothing can move).

Run as ``python -m handitl.real.server --task Reach`` (sim as hardware, 127.0.0.1).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import threading
import time
from typing import Any

from handitl.real.backends import RobotBackend, SimBackend
from handitl.real.protocol import REQUEST_KINDS, ProtocolError, RobotSnapshot, decode, encode, zmq_module
from handitl.real.safety import CommandWatchdog, EStop

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Where and how the server runs (units: s)."""

    endpoint: str = "tcp://127.0.0.1:5555"
    """ZeroMQ endpoint to bind; keep it on the robot network (never a public address)."""
    command_timeout: float = 0.1
    """No command for this long: hold the measured pose."""
    realtime: bool = True
    """Tick on the wall clock (True) or once per command (False, lockstep)."""


class RobotServer:
    """Serves one :class:`RobotBackend`; see the module docstring.

    Use ``with RobotServer(...) as server:`` (a background thread) or
    :meth:`serve_forever` (the calling thread).
    """

    def __init__(self, backend: RobotBackend, config: ServerConfig | None = None) -> None:
        self.backend = backend
        self.config = config or ServerConfig()
        self.estop = EStop()
        self.watchdog = CommandWatchdog(self.config.command_timeout)
        self.tick_count = 0
        self.hold_reason: str | None = "startup"
        """Why the robot holds (None while it tracks commands)."""
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiting: list[tuple[bytes, int]] = []
        self._t0 = time.monotonic()
        self.endpoint = self.config.endpoint

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> RobotServer:
        self._thread = threading.Thread(target=self.serve_forever, name="robot-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(5.0):
            raise RuntimeError(f"robot server did not bind {self.config.endpoint}")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def __enter__(self) -> RobotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        zmq = zmq_module()
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        if self.config.endpoint.endswith(":0"):  # an ephemeral port, for tests
            port = sock.bind_to_random_port(self.config.endpoint.rsplit(":", 1)[0])
            self.endpoint = f"{self.config.endpoint.rsplit(':', 1)[0]}:{port}"
        else:
            sock.bind(self.config.endpoint)
        self._ready.set()
        self.backend.hold()
        dt = self.backend.control_dt
        next_tick = time.monotonic() + dt
        try:
            while not self._stop.is_set():
                wait = max(0.0, next_tick - time.monotonic()) if self.config.realtime else 0.05
                if sock.poll(int(wait * 1000)):
                    while sock.poll(0):
                        identity, frame = sock.recv_multipart()
                        self._handle(sock, identity, frame)
                if self.config.realtime and time.monotonic() >= next_tick:
                    self._tick(sock)
                    next_tick += dt
                    if next_tick < time.monotonic():  # overrun: do not try to catch up
                        next_tick = time.monotonic() + dt
        finally:
            self.backend.hold()  # hold, never torque-off, on any exit
            sock.close()

    # --- ticks and requests ---------------------------------------------------------------------

    def _tick(self, sock: Any) -> None:
        if self.hold_reason is None and self.watchdog.expired():
            log.warning("no command for %.3f s: holding", self.watchdog.age())
            self._hold("command_timeout")
        self.backend.tick()
        self.tick_count += 1
        for identity, ack in self._waiting:
            sock.send_multipart([identity, encode(self._snapshot(ack).to_message())])
        self._waiting.clear()

    def _hold(self, reason: str) -> None:
        self.backend.hold()
        self.hold_reason = reason

    def _handle(self, sock: Any, identity: bytes, frame: bytes) -> None:
        try:
            message = decode(frame)
            kind, seq = message["kind"], int(message["seq"])
            if kind not in REQUEST_KINDS:
                raise ProtocolError(f"unknown request kind {kind!r}")
        except (ProtocolError, KeyError, TypeError, ValueError) as exc:
            sock.send_multipart([identity, encode({"kind": "error", "ack": -1, "error": str(exc)})])
            return
        error = None
        if kind == "hello":
            reply = {"kind": "hello", "ack": seq, "control_dt": self.backend.control_dt,
                     "hand_joints": self.backend.hand_joints, "realtime": self.config.realtime}  # fmt: skip
            sock.send_multipart([identity, encode(reply)])
            return
        if kind == "command":
            if self.estop.latched:
                error = f"e-stop latched ({self.estop.reason}); clear it first"
            else:
                self.backend.apply(message["arm_q"], message["hand_q"])
                self.watchdog.feed()
                self.hold_reason = None
                if self.config.realtime:
                    self._waiting.append((identity, seq))
                    return
                self._tick(sock)
        elif kind == "hold" or kind == "bye":
            self._hold("client")
        elif kind == "estop":
            self.estop.trigger(message.get("reason", "api"))
            self._hold("estop")
        elif kind == "clear_estop":
            self.estop.reset()
        elif kind == "reset":
            self.backend.reset(message.get("seed"))
            self._hold("reset")
        elif kind == "heartbeat" and self.hold_reason is None and self.watchdog.expired():
            self._hold("command_timeout")
        sock.send_multipart([identity, encode(self._snapshot(seq, error).to_message())])

    def _snapshot(self, ack: int, error: str | None = None) -> RobotSnapshot:
        arm_q, arm_dq, hand_q, hand_dq, objects = self.backend.measure()
        # Lockstep time is the robot's own (ticks x dt), so a lockstep sim reproduces the sim env.
        now = (
            time.monotonic() - self._t0 if self.config.realtime else self.tick_count * self.backend.control_dt
        )
        return RobotSnapshot(tick=self.tick_count, ack=ack, t=now, arm_q=arm_q,
                             arm_dq=arm_dq, hand_q=hand_q, hand_dq=hand_dq, objects=objects,
                             held=self.hold_reason is not None, hold_reason=self.hold_reason,
                             estop=self.estop.latched, error=error)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Robot server with the MuJoCo sim as hardware")
    parser.add_argument("--task", default="Reach")
    parser.add_argument("--endpoint", default=ServerConfig.endpoint)
    parser.add_argument("--command-timeout", type=float, default=ServerConfig.command_timeout)
    parser.add_argument("--lockstep", action="store_true", help="one tick per command (not wall clock)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    config = ServerConfig(args.endpoint, args.command_timeout, realtime=not args.lockstep)
    server = RobotServer(SimBackend(args.task), config)
    log.info("serving %s (sim as hardware) on %s", args.task, config.endpoint)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
