"""A generic joint-position protocol for one dexterous hand, and a MuJoCo hand serving it.

Hands from different vendors differ in SDKs but not in what a policy needs: set joint
targets, read joint angles. This protocol is that much, over ZeroMQ (DEALER client,
ROUTER server; JSON frames as in :mod:`.protocol`). A vendor bridge that speaks it makes
a hand usable through :class:`~handitl.real.drivers.zmq_hand.ZmqHandDriver`.

Requests: ``{"kind": "info"|"get"|"set"|"hold", "seq": int, "q": [n] (set only)}``.
Replies: ``{"kind": "hand_state", "ack": seq, "tick": int, "t": s, "q": [n], "dq": [n]}``;
``info`` adds ``"names"``, ``"lower"``, ``"upper"`` (rad). Targets outside the limits are
clipped by the server (the hand protects itself; the env's safety layer clips first).

:class:`SimHandServer` runs one hand of the project's hand registry (the same MJCF
builder as the env) at 500 Hz physics, in real time in a background thread.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import mujoco
import numpy as np

from handitl.assets.hand_description import Side
from handitl.assets.hands import build_hand
from handitl.real.protocol import ProtocolError, decode, encode, zmq_module


class SimHandServer:
    """One simulated hand behind the hand protocol.

    Args:
        hand: registered hand name (as ``EnvConfig.hand``).
        side: which hand.
        endpoint: ZeroMQ endpoint; a port of 0 picks a free one (see :attr:`endpoint`).
        control_dt: s between state updates (physics runs at the model's timestep).
    """

    def __init__(self, hand: str = "procedural21", side: Side = Side.RIGHT,
                 endpoint: str = "tcp://127.0.0.1:0", control_dt: float = 0.02) -> None:  # fmt: skip
        asset = build_hand(hand, side)
        asset.spec.option.gravity = [0.0, 0.0, 0.0]  # a hand on a fixed mount, wrist-agnostic
        self.model = asset.spec.compile()
        self.data = mujoco.MjData(self.model)
        names = asset.description.joint_names
        self.names = tuple(names)
        self._qpos = np.array([self.model.joint(n).qposadr[0] for n in names])
        self._dof = np.array([self.model.joint(n).dofadr[0] for n in names])
        self._act = np.array([self.model.actuator(n).id for n in asset.description.actuator_names])
        ids = [self.model.joint(n).id for n in names]
        self.lower, self.upper = self.model.jnt_range[ids, 0].copy(), self.model.jnt_range[ids, 1].copy()
        self._substeps = max(1, round(control_dt / self.model.opt.timestep))
        self.control_dt = control_dt
        self.endpoint = endpoint
        self.tick = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()

    @property
    def targets(self) -> np.ndarray:
        """(n,) joint targets the hand's servos track now, rad (after clipping)."""
        return self.data.ctrl[self._act].copy()

    def __enter__(self) -> SimHandServer:
        self._thread = threading.Thread(target=self._serve, name="sim-hand", daemon=True)
        self._thread.start()
        if not self._ready.wait(5.0):
            raise RuntimeError(f"hand server did not bind {self.endpoint}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _serve(self) -> None:
        zmq = zmq_module()
        sock = zmq.Context.instance().socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        base, port = self.endpoint.rsplit(":", 1)
        if port == "0":
            self.endpoint = f"{base}:{sock.bind_to_random_port(base)}"
        else:
            sock.bind(self.endpoint)
        self._ready.set()
        next_tick = time.monotonic() + self.control_dt
        try:
            while not self._stop.is_set():
                if sock.poll(int(max(0.0, next_tick - time.monotonic()) * 1000)):
                    while sock.poll(0):
                        identity, frame = sock.recv_multipart()
                        sock.send_multipart([identity, encode(self._reply(frame))])
                if time.monotonic() >= next_tick:
                    mujoco.mj_step(self.model, self.data, nstep=self._substeps)
                    self.tick += 1
                    next_tick = max(next_tick + self.control_dt, time.monotonic())
        finally:
            self._hold()
            sock.close()

    def _hold(self) -> None:
        self.data.ctrl[self._act] = self.data.qpos[self._qpos]

    def _reply(self, frame: bytes) -> dict[str, Any]:
        try:
            message = decode(frame)
            kind, seq = message["kind"], int(message["seq"])
            if kind == "set":
                q = np.asarray(message["q"], dtype=np.float64)
                if q.shape != self._act.shape:
                    raise ProtocolError(f"q has shape {q.shape}, expected {self._act.shape}")
                self.data.ctrl[self._act] = np.clip(q, self.lower, self.upper)
            elif kind == "hold":
                self._hold()
            elif kind not in ("get", "info"):
                raise ProtocolError(f"unknown hand request {kind!r}")
        except (ProtocolError, KeyError, TypeError, ValueError) as exc:
            return {"kind": "error", "ack": -1, "error": str(exc)}
        reply = {"kind": "hand_state", "ack": seq, "tick": self.tick, "t": time.monotonic() - self._t0,
                 "q": self.data.qpos[self._qpos], "dq": self.data.qvel[self._dof]}  # fmt: skip
        if kind == "info":
            reply.update(names=list(self.names), lower=self.lower, upper=self.upper)
        return reply
