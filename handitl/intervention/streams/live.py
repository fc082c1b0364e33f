"""Live human streams over UDP: a receiving :class:`HumanSource` and a sender.

One datagram carries one :class:`HumanFrame` (layout in :mod:`.wire`). UDP, not TCP:
a late hand pose is worthless, so a lost datagram is better skipped than retransmitted
while newer poses wait behind it (head-of-line blocking).

:class:`UdpHumanSource` keeps only the newest frame by sequence number; downstream code
asks for it at each control tick. Time:

* the *episode clock* is ``clock()`` (default ``time.monotonic``) minus its value at the
  last :meth:`UdpHumanSource.reset`; a frame returned by ``frame_at`` has ``t`` = the
  time it was *received* on the episode clock (negative if it arrived before the reset).
  The sender's own timestamps are kept in :attr:`UdpHumanSource.latest_packet`.
* ``status().age`` is the wall time since the newest datagram arrived and ``stale`` is
  ``age > timeout`` (or no frame yet); downstream code must then hold the robot rather
  than follow an old pose. Both are measured on ``clock``, not on the requested ``t``,
  because the simulation's episode time need not run at wall-clock speed.

Security: the stream drives a robot and is neither authenticated nor encrypted, so any
host that can reach the port can move the robot. The source therefore binds to the
loopback interface by default and refuses the wildcard addresses (``0.0.0.0``, ``::``,
``""``) unless ``allow_any_interface=True``; to receive from another machine, bind to
the one interface on a trusted, dedicated network (or tunnel the stream, e.g. over SSH).
"""

from __future__ import annotations

import dataclasses
import math
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from handitl.intervention.streams import wire
from handitl.intervention.streams.frame import HumanFrame
from handitl.intervention.streams.source import SourceStatus, StreamError

DEFAULT_PORT = 47800
"""Port used by the scripts when none is given (unassigned by IANA)."""
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "0:0:0:0:0:0:0:0"})
Clock = Callable[[], float]


@dataclasses.dataclass(frozen=True)
class ReceiverStats:
    """Datagram counters of a :class:`UdpHumanSource` since it was created."""

    datagrams: int = 0
    """Datagrams read from the socket (every kind)."""
    accepted: int = 0
    """Well-formed datagrams newer than the newest kept one: became the newest frame."""
    duplicates: int = 0
    """Dropped: same sequence number as the newest frame."""
    out_of_order: int = 0
    """Dropped: older than the newest frame."""
    malformed: int = 0
    """Dropped: not a valid datagram (:class:`~.wire.WireError`)."""
    lost: int = 0
    """Sequence numbers skipped between accepted datagrams (lost, or dropped as late)."""
    resyncs: int = 0
    """Times the sequence was restarted: a datagram accepted after the stream went stale
    although its number was not newer (a restarted sender)."""

    @property
    def dropped(self) -> int:
        """Datagrams received but not used."""
        return self.duplicates + self.out_of_order + self.malformed


@dataclasses.dataclass(frozen=True)
class ReceivedPacket:
    """The newest accepted datagram."""

    packet: wire.Packet
    """Sequence number, sender's send time and the frame on the sender's clock."""
    arrival: float
    """When it was received, on the source's ``clock``, s."""


def _check_bind_host(host: str, allow_any_interface: bool) -> None:
    if host in WILDCARD_HOSTS and not allow_any_interface:
        raise StreamError(
            f"refusing to listen on all interfaces ({host!r}): anyone on the network could move "
            "the robot. Bind to 127.0.0.1 (default) or one trusted interface, or pass "
            "allow_any_interface=True if the network is isolated."
        )


class UdpHumanSource:
    """A :class:`~.source.HumanSource` fed by UDP datagrams (:mod:`.wire` format).

    A daemon thread receives datagrams, keeps the newest frame by sequence number and
    counts the rest (:meth:`stats`). Use as a context manager or call :meth:`close`,
    which stops and joins the thread and closes the socket.

    Args:
        host: address to bind; loopback by default (see the module doc on wildcards).
        port: UDP port; 0 picks a free one (read it back from :attr:`port`).
        timeout: s without a new frame after which :meth:`status` reports ``stale``.
            Also bounds how long a restarted sender (sequence numbers going back) is
            ignored: once stale, the next well-formed datagram is accepted.
        clock: monotonic clock in s for arrival times, the episode clock and staleness.
        allow_any_interface: permit binding to a wildcard address.
        poll_interval: s; how often the thread checks for :meth:`close` (bounds its latency).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, timeout: float = 0.1,
                 clock: Clock = time.monotonic, allow_any_interface: bool = False,
                 poll_interval: float = 0.02) -> None:  # fmt: skip
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 s, got {timeout}")
        _check_bind_host(host, allow_any_interface)
        self.timeout = float(timeout)
        self._clock = clock
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise StreamError(f"cannot bind UDP {host}:{port}: {exc}") from exc
        self._sock.settimeout(poll_interval)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stats = ReceiverStats()
        self._latest: ReceivedPacket | None = None
        self._retimed: tuple[int, float, HumanFrame] | None = None  # (accepted, t0, frame) cache
        self._t0 = clock()
        self._status = SourceStatus(stale=True, age=math.inf)
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._receive_loop, name=f"handitl-udp-source:{self.port}",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    # -- HumanSource ---------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        """Restart the episode clock at 0 now (``seed`` is unused: a live stream has no randomness)."""
        self._check_open()
        with self._lock:
            self._t0 = self._clock()
            self._status = self._status_locked(self._t0)

    def frame_at(self, t: float) -> HumanFrame:
        """The newest frame, re-timed to its arrival on the episode clock.

        ``t`` (episode time, s) is only used for the placeholder returned before any
        frame arrived: a frame at ``t`` with both hands ``None`` (and ``stale`` set).
        """
        self._check_open()
        now = self._clock()
        with self._lock:
            self._status = self._status_locked(now)
            latest, t0, accepted = self._latest, self._t0, self._stats.accepted
            if latest is None:
                return HumanFrame(t=t, hands={})
            if self._retimed is None or self._retimed[:2] != (accepted, t0):
                frame = dataclasses.replace(latest.packet.frame, t=latest.arrival - t0)
                self._retimed = (accepted, t0, frame)
            return self._retimed[2]

    def status(self) -> SourceStatus:
        """Health as of the last :meth:`frame_at` (or :meth:`reset`)."""
        with self._lock:
            return self._status

    def close(self) -> None:
        """Stop and join the receiver thread, close the socket. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join()
        self._sock.close()

    def __enter__(self) -> UdpHumanSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- extras --------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the socket is bound to."""
        return self._sock.getsockname()[:2]

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def latest_packet(self) -> ReceivedPacket | None:
        """The newest accepted datagram with its arrival time (None before the first)."""
        with self._lock:
            return self._latest

    def stats(self) -> ReceiverStats:
        with self._lock:
            return self._stats

    def wait_for_frames(self, count: int, timeout: float) -> bool:
        """Block until ``stats().accepted >= count`` or ``timeout`` s passed; True if reached."""
        with self._arrived:
            return self._arrived.wait_for(lambda: self._stats.accepted >= count, timeout=timeout)

    # -- internals -----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StreamError("UdpHumanSource is closed")

    def _status_locked(self, now: float) -> SourceStatus:
        if self._latest is None:
            return SourceStatus(stale=True, age=math.inf)
        age = now - self._latest.arrival
        return SourceStatus(stale=age > self.timeout, age=age)

    def _receive_loop(self) -> None:
        # recvfrom times out every poll_interval so that close() is noticed promptly.
        buffer_size = 2 * wire.MAX_DATAGRAM  # larger datagrams are truncated, then rejected by length
        while not self._stop.is_set():
            try:
                data = self._sock.recv(buffer_size)
            except TimeoutError:
                continue
            except OSError:  # socket closed under us: nothing more to receive
                break
            self._on_datagram(data, self._clock())

    def _on_datagram(self, data: bytes, arrival: float) -> None:
        try:
            packet = wire.decode(data)
        except wire.WireError:
            packet = None
        with self._arrived:
            stats = dataclasses.replace(self._stats, datagrams=self._stats.datagrams + 1)
            if packet is None:
                self._stats = dataclasses.replace(stats, malformed=stats.malformed + 1)
                return
            latest = self._latest
            if latest is not None:
                delta = wire.seq_delta(packet.seq, latest.packet.seq)
                if delta <= 0 and arrival - latest.arrival <= self.timeout:
                    field = "duplicates" if delta == 0 else "out_of_order"
                    self._stats = dataclasses.replace(stats, **{field: getattr(stats, field) + 1})
                    return
                if delta <= 0:
                    stats = dataclasses.replace(stats, resyncs=stats.resyncs + 1)
                else:
                    stats = dataclasses.replace(stats, lost=stats.lost + delta - 1)
            self._latest = ReceivedPacket(packet=packet, arrival=arrival)
            self._stats = dataclasses.replace(stats, accepted=stats.accepted + 1)
            self._arrived.notify_all()


class UdpHumanSender:
    """Sends :class:`HumanFrame` s as UDP datagrams (:mod:`.wire` format) to ``host:port``.

    Sequence numbers start at ``start_seq`` and wrap at 2**32. ``float64_keypoints=False``
    halves the datagram (702 bytes) at float32 keypoint precision.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, start_seq: int = 0,
                 float64_keypoints: bool = True, wall_clock: Clock = time.time) -> None:  # fmt: skip
        if not 0 <= start_seq < wire.SEQ_MODULUS:
            raise ValueError(f"start_seq must be in [0, 2**32), got {start_seq}")
        self.destination = (host, port)
        self.float64_keypoints = float64_keypoints
        self._wall_clock = wall_clock
        self._next_seq = start_seq
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sent = 0
        """Datagrams sent so far."""

    def send(self, frame: HumanFrame) -> int:
        """Send ``frame``; returns its sequence number."""
        seq = self._next_seq
        data = wire.encode(frame, seq, send_time=self._wall_clock(), float64_keypoints=self.float64_keypoints)
        # An unconnected UDP socket: a missing receiver is not an error (nothing to wait for).
        self._sock.sendto(data, self.destination)
        self._next_seq = (seq + 1) % wire.SEQ_MODULUS
        self.sent += 1
        return seq

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> UdpHumanSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameSequence(Protocol):
    """A finite, indexable stream (a recording, :class:`~.render.WavingHands`)."""

    def __len__(self) -> int: ...

    def frame(self, i: int) -> HumanFrame: ...


class FrameSink(Protocol):
    """Where :func:`replay` puts frames (a :class:`UdpHumanSender`)."""

    def send(self, frame: HumanFrame) -> int: ...


def replay(sender: FrameSink, frames: FrameSequence, *, rate: float = 1.0, loop: bool = False,
           max_frames: int | None = None, stop: threading.Event | None = None,
           clock: Clock = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> int:  # fmt: skip
    """Send ``frames`` in real time (scaled by ``rate``: 2.0 is twice as fast).

    Frame ``i`` is sent at ``(t_i - t_0) / rate`` s after the start; a late sender sends
    at once and does not skip. With ``loop``, the stream starts over after one median
    frame interval, and the frames' ``t`` are shifted by the loop's length so that the
    sender's clock stays increasing. Stops after ``max_frames`` datagrams, when ``stop``
    is set, or (without ``loop``) at the end. Returns the number of datagrams sent.
    """
    if not rate > 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    n = len(frames)
    if n == 0:
        return 0
    t_first = frames.frame(0).t
    t_last = frames.frame(n - 1).t
    period = (t_last - t_first) + _median_interval(frames, n)
    start = clock()
    sent = 0
    lap = 0
    while True:
        for i in range(n):
            if (max_frames is not None and sent >= max_frames) or (stop is not None and stop.is_set()):
                return sent
            frame = frames.frame(i)
            stream_t = frame.t - t_first + lap * period
            delay = start + stream_t / rate - clock()
            if delay > 0:
                if stop is not None:
                    if stop.wait(delay):
                        return sent
                else:
                    sleep(delay)
            sender.send(dataclasses.replace(frame, t=frame.t + lap * period) if lap else frame)
            sent += 1
        if not loop:
            return sent
        lap += 1


def _median_interval(frames: FrameSequence, n: int) -> float:
    """Median frame interval over (up to) the first 100 frames, s; 1/30 s for one frame."""
    times = [frames.frame(i).t for i in range(min(n, 101))]
    intervals = sorted(b - a for a, b in zip(times, times[1:]) if b > a)
    return intervals[len(intervals) // 2] if intervals else 1.0 / 30.0
