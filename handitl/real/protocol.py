"""Wire format between the env (client) and the robot server, and of the hand protocol.

One JSON object per ZeroMQ frame (DEALER client, ROUTER server). JSON keeps the link
debuggable with any ZeroMQ tool, and Python's float repr round-trips float64 exactly;
at 50 Hz the ~2 kB messages cost well under a millisecond.

Client requests carry ``kind`` and a client sequence number ``seq`` (strictly increasing
per client). The server answers each with a state message whose ``ack`` is that ``seq``,
so a client drops late replies to requests it has given up on. Every state also carries
the server's ``tick`` (one per control period) and its clock ``t``: a tick that stops
advancing is how a client detects a stale robot (see ``safety.StaleStateMonitor``).

Request kinds: ``hello`` (robot layout), ``command`` (``arm_q`` (2, 7), ``hand_q``
(2, n), rad), ``heartbeat`` (state now, the link is alive), ``hold``, ``estop``,
``clear_estop``, ``reset`` (``seed``), ``bye``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

PROTOCOL_VERSION = 1
REQUEST_KINDS = frozenset({"hello", "command", "heartbeat", "hold", "estop", "clear_estop", "reset", "bye"})


class ProtocolError(ValueError):
    """A message is malformed or of an unknown kind or version."""


def zmq_module():
    """pyzmq, imported on first use (an optional dependency)."""
    try:
        import zmq
    except ImportError as exc:
        raise ImportError("the robot server and client need pyzmq: pip install 'handitl[real]'") from exc
    return zmq


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(_plain({"v": PROTOCOL_VERSION, **message})).encode()


def decode(frame: bytes) -> dict[str, Any]:
    try:
        message = json.loads(frame)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not a JSON message: {exc}") from None
    if not isinstance(message, dict) or message.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"expected protocol version {PROTOCOL_VERSION}, got {message!r:.80}")
    return message


@dataclasses.dataclass(frozen=True)
class RobotSnapshot:
    """The robot as the server measured it at the end of control tick ``tick``.

    Arrays: ``arm_q``/``arm_dq`` (2, 7) rad, rad/s; ``hand_q``/``hand_dq`` (2, n);
    ``objects``: joint name -> that joint's qpos (a free joint: position m + quaternion
    w, x, y, z), published by a sim backend or a motion-capture bridge.
    """

    tick: int
    ack: int
    t: float
    arm_q: np.ndarray
    arm_dq: np.ndarray
    hand_q: np.ndarray
    hand_dq: np.ndarray
    objects: dict[str, np.ndarray]
    held: bool
    """The server is holding (watchdog, client request, e-stop) instead of tracking."""
    hold_reason: str | None
    estop: bool
    error: str | None = None
    """Set when the server refused the request (e.g. a command while e-stopped)."""

    def to_message(self) -> dict[str, Any]:
        return {"kind": "state", **dataclasses.asdict(self)}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> RobotSnapshot:
        if message.get("kind") != "state":
            raise ProtocolError(f"expected a state message, got kind {message.get('kind')!r}")
        arrays = {
            k: np.asarray(message[k], dtype=np.float64) for k in ("arm_q", "arm_dq", "hand_q", "hand_dq")
        }
        objects = {k: np.asarray(v, dtype=np.float64) for k, v in message["objects"].items()}
        return cls(tick=int(message["tick"]), ack=int(message["ack"]), t=float(message["t"]),
                   objects=objects, held=bool(message["held"]), hold_reason=message["hold_reason"],
                   estop=bool(message["estop"]), error=message.get("error"), **arrays)  # fmt: skip
