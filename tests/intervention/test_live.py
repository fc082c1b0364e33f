"""Wire format and the live UDP source, end to end on the loopback interface.

Every network wait is bounded (``_wait`` polls with a deadline); sockets bind 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from handitl.assets.hand_description import SIDES, Side
from handitl.intervention.streams import wire
from handitl.intervention.streams.frame import HandState, HumanFrame, PedalState, untracked_hand
from handitl.intervention.streams.live import UdpHumanSender, UdpHumanSource, replay
from handitl.intervention.streams.render import WavingHands, waving_frame
from handitl.intervention.streams.source import HumanSource, StreamError

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 2.0
"""Upper bound of any wait for a loopback datagram (they take microseconds)."""


class ManualClock:
    """A clock the test sets by hand (read by the receiver thread too)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def no_leaked_receivers():
    """Every test must leave no receiver thread running (sources closed, threads joined)."""
    yield
    alive = [t.name for t in threading.enumerate() if t.name.startswith("handitl-udp-source")]
    assert not alive, f"receiver threads still running: {alive}"


def _wait(predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.001)


def _frames() -> list[HumanFrame]:
    """Varied frames: dropouts, a lost hand, an untracked-but-present hand, pedals."""
    frames = [waving_frame(t, dropout=True, pedals=PedalState(takeover=k % 2 == 1, copilot=k % 3 == 0))
              for k, t in enumerate(np.linspace(0.0, 3.0, 25))]  # fmt: skip
    frames.append(HumanFrame(t=7.5, hands={Side.RIGHT: untracked_hand()}))
    frames.append(HumanFrame(t=8.0, hands={}, pedals=PedalState(copilot=True)))
    assert any(f.hands[Side.LEFT] is None for f in frames)
    assert any(h is not None and not h.wrist_valid for f in frames for h in f.hands.values())
    assert any(h is not None and not h.valid.all() for f in frames for h in f.hands.values())
    return frames


def assert_hands_equal(got: HandState | None, want: HandState | None, *, float32: bool = False) -> None:
    """Equal to wire precision: exact (float64) or float32 keypoints; confidence to 1/510."""
    assert (got is None) == (want is None)
    if want is None:
        return
    assert got.wrist_valid == want.wrist_valid
    np.testing.assert_array_equal(got.wrist_pos, want.wrist_pos)  # NaN == NaN here
    np.testing.assert_array_equal(got.wrist_quat, want.wrist_quat)
    np.testing.assert_array_equal(got.valid, want.valid)
    expected = want.keypoints.astype(np.float32).astype(np.float64) if float32 else want.keypoints
    np.testing.assert_array_equal(got.keypoints, expected)
    assert np.abs(got.confidence - want.confidence).max() <= 1 / 510 + 1e-12


def assert_frames_equal(got: HumanFrame, want: HumanFrame, *, float32: bool = False,
                        same_t: bool = True) -> None:  # fmt: skip
    if same_t:
        assert got.t == want.t
    assert got.pedals == want.pedals
    for side in SIDES:
        assert_hands_equal(got.hands[side], want.hands[side], float32=float32)


# -- wire ------------------------------------------------------------------------------------


def test_wire_round_trip_float64_is_exact() -> None:
    """float64 datagrams reproduce every frame exactly (times, poses, keypoints, NaNs, pedals)."""
    for seq, frame in enumerate(_frames()):
        data = wire.encode(frame, seq * 7919, send_time=1e9 + seq / 3)
        assert len(data) == wire.PACKET_SIZE_F64 == 1206
        got_seq, send_time, got = wire.decode(data)
        assert (got_seq, send_time) == (seq * 7919, 1e9 + seq / 3)
        assert_frames_equal(got, frame)


def test_wire_round_trip_float32_within_float32_precision() -> None:
    """float32 datagrams are 702 bytes; keypoints equal their float32 rounding, the rest exact."""
    for frame in _frames():
        data = wire.encode(frame, 1, send_time=0.0, float64_keypoints=False)
        assert len(data) == wire.PACKET_SIZE_F32 == 702
        assert_frames_equal(wire.decode(data).frame, frame, float32=True)
    right = _frames()[0].hands[Side.RIGHT]
    got = wire.decode(wire.encode(_frames()[0], 1, float64_keypoints=False)).frame.hands[Side.RIGHT]
    assert np.abs(got.keypoints - right.keypoints).max() < 2e-8  # m, 2**-24 of a 0.2 m hand


def test_confidence_is_quantised_to_a_byte() -> None:
    """Confidence survives as round(c * 255) / 255; invalid keypoints decode with 0."""
    hand = waving_frame(0.0).hands[Side.RIGHT]
    confidence = np.linspace(0.0, 1.0, 21)
    valid = hand.valid.copy()
    valid[3] = False
    kp = np.where(valid[:, None], hand.keypoints, np.nan)
    frame = HumanFrame(t=0.0, hands={Side.RIGHT: dataclasses.replace(hand, confidence=confidence,
                                                                     valid=valid, keypoints=kp)})  # fmt: skip
    got = wire.decode(wire.encode(frame, 0)).frame.hands[Side.RIGHT].confidence
    np.testing.assert_array_equal(got, np.where(valid, np.rint(confidence * 255) / 255, 0.0))


def test_seq_delta_wraps() -> None:
    """Sequence arithmetic is modulo 2**32 (RFC 1982): 0 comes right after 2**32 - 1."""
    assert wire.seq_delta(0, 2**32 - 1) == 1
    assert wire.seq_delta(2**32 - 1, 0) == -1
    assert wire.seq_delta(5, 5) == 0
    assert wire.seq_delta(10, 3) == 7 and wire.seq_delta(3, 10) == -7


def _corrupt(offset: int, value: bytes) -> bytes:
    data = bytearray(wire.encode(waving_frame(0.5), 42, send_time=1.0))
    data[offset : offset + len(value)] = value
    return bytes(data)


_HAND0 = 28  # offset of the left hand block
_KP0 = _HAND0 + 64  # its first keypoint
MALFORMED = {
    "empty": b"",
    "short header": wire.encode(waving_frame(0.0), 0)[:20],
    "truncated": wire.encode(waving_frame(0.0), 0)[:-1],
    "one byte too many": wire.encode(waving_frame(0.0), 0) + b"\0",
    "float32 flag on a float64 packet": _corrupt(5, b"\x00"),
    "bad magic": _corrupt(0, b"HTTP"),
    "version 2": _corrupt(4, b"\x02"),
    "unknown flag": _corrupt(5, b"\x03"),
    "unknown pedal bit": _corrupt(6, b"\x04"),
    "reserved byte": _corrupt(7, b"\x01"),
    "present = 2": _corrupt(_HAND0, b"\x02"),
    "wrist_valid = 2": _corrupt(_HAND0 + 1, b"\x02"),
    "mask bit 21": _corrupt(_HAND0 + 4, (2**21 | 1).to_bytes(4, "little")),
    "NaN valid keypoint": _corrupt(_KP0, np.float64(np.nan).tobytes()),
    "inf valid keypoint": _corrupt(_KP0 + 8, np.float64(np.inf).tobytes()),
    "NaN valid wrist": _corrupt(_HAND0 + 8, np.float64(np.nan).tobytes()),
    "non-unit quaternion": _corrupt(_HAND0 + 32, np.float64(0.5).tobytes()),
    "inf frame time": _corrupt(20, np.float64(np.inf).tobytes()),
    "NaN send time": _corrupt(12, np.float64(np.nan).tobytes()),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_decode_rejects_malformed(name: str) -> None:
    """Each kind of malformed datagram raises WireError (a ValueError)."""
    with pytest.raises(wire.WireError):
        wire.decode(MALFORMED[name])


def test_decode_raises_only_wire_error_on_random_input() -> None:
    """Fuzz: random bytes and random byte edits of valid packets give a frame or WireError."""
    rng = np.random.default_rng(0)
    valid = [wire.encode(f, 3, float64_keypoints=k % 2 == 0) for k, f in enumerate(_frames()[:6])]
    outcomes = {"ok": 0, "error": 0}
    for trial in range(1500):
        if trial % 3 == 0:
            data = rng.integers(0, 256, rng.integers(0, 1400)).astype(np.uint8).tobytes()
            if trial % 2:
                data = wire.MAGIC + bytes([1, trial % 2]) + data  # get past the first checks
        else:
            data = bytearray(valid[trial % len(valid)])
            for _ in range(rng.integers(1, 4)):
                data[rng.integers(0, len(data))] = rng.integers(0, 256)
        try:
            packet = wire.decode(bytes(data))
        except wire.WireError:
            outcomes["error"] += 1
        else:
            assert isinstance(packet.frame, HumanFrame)
            outcomes["ok"] += 1
    assert outcomes["ok"] > 0 and outcomes["error"] > 0
    with pytest.raises(wire.WireError):
        wire.decode(None)  # type: ignore[arg-type]


def test_encode_rejects_bad_input() -> None:
    """Out-of-range sequence numbers and keypoints beyond float32 are refused at the sender."""
    frame = waving_frame(0.0)
    for seq in (-1, 2**32):
        with pytest.raises(wire.WireError):
            wire.encode(frame, seq)
    hand = frame.hands[Side.RIGHT]
    huge = dataclasses.replace(hand, keypoints=hand.keypoints * 1e40)
    with pytest.raises(wire.WireError, match="float32"):
        wire.encode(HumanFrame(t=0.0, hands={Side.RIGHT: huge}), 0, float64_keypoints=False)
    wire.decode(wire.encode(HumanFrame(t=0.0, hands={Side.RIGHT: huge}), 0))  # fine in float64


# -- live source -----------------------------------------------------------------------------


@pytest.fixture
def source():
    """A source whose timeout (5 s) no loaded test machine reaches by accident; staleness is
    tested with a manual clock or its own source."""
    with UdpHumanSource(timeout=5.0) as src:
        yield src


def test_source_is_a_human_source(source: UdpHumanSource) -> None:
    """Protocol conformance; binds loopback on an ephemeral port."""
    assert isinstance(source, HumanSource)
    assert source.address[0] == "127.0.0.1" and source.port > 0


def test_no_frame_yet_is_stale_and_handless(source: UdpHumanSource) -> None:
    """Before any datagram: a frame at the requested t with no hands, stale, infinite age."""
    frame = source.frame_at(0.25)
    assert frame.t == 0.25 and all(h is None for h in frame.hands.values())
    status = source.status()
    assert status.stale and math.isinf(status.age)


def test_frames_arrive_in_order_and_equal(source: UdpHumanSource) -> None:
    """Each sent frame becomes the newest frame, equal to wire precision, in order."""
    frames = _frames()
    with UdpHumanSender(port=source.port) as sender:
        for k, frame in enumerate(frames):
            assert sender.send(frame) == k
            assert source.wait_for_frames(k + 1, WAIT_S)
            got = source.frame_at(0.0)
            assert_frames_equal(got, frame, same_t=False)
            latest = source.latest_packet
            assert latest is not None and latest.packet.seq == k and latest.packet.frame.t == frame.t
            assert not source.status().stale
        # A burst without waiting: the newest is the last one, nothing lost on loopback.
        for frame in frames:
            sender.send(frame)
        assert source.wait_for_frames(2 * len(frames), WAIT_S)
    assert_frames_equal(source.frame_at(0.0), frames[-1], same_t=False)
    stats = source.stats()
    assert (stats.accepted, stats.lost, stats.dropped) == (2 * len(frames), 0, 0)


def _send_raw(port: int, seqs: list[int], frame: HumanFrame | None = None) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for seq in seqs:
            f = frame or waving_frame(seq % 1000 / 100.0)
            sock.sendto(wire.encode(f, seq), ("127.0.0.1", port))


def test_gaps_duplicates_and_out_of_order(source: UdpHumanSource) -> None:
    """Only newer sequence numbers are kept; duplicates/old ones are counted and dropped,
    gaps are counted as lost; numbering continues across the 2**32 wrap."""
    top = 2**32
    seqs = [10, 11, 11, 9, 15, top - 1 + 0]  # dup 11, old 9, gap 12-14; top-1 is 'older' than 15
    _send_raw(source.port, seqs)
    _wait(lambda: source.stats().datagrams == len(seqs))
    stats = source.stats()
    assert (stats.accepted, stats.duplicates, stats.out_of_order, stats.lost) == (3, 1, 2, 3)
    assert source.latest_packet.packet.seq == 15
    with UdpHumanSource(timeout=5.0) as wrapping:
        _send_raw(wrapping.port, [top - 2, top - 1, 0, 1, top - 1])
        _wait(lambda: wrapping.stats().datagrams == 5)
        stats = wrapping.stats()
        assert (stats.accepted, stats.lost, stats.out_of_order) == (4, 0, 1)
        assert wrapping.latest_packet.packet.seq == 1


def test_staleness_follows_the_timeout() -> None:
    """stale iff more than `timeout` since the newest datagram (on `clock`); the last frame
    is held while stale; a new datagram clears it. Frame t = arrival on the episode clock."""
    clock = ManualClock(10.0)
    frame = waving_frame(0.3)
    with UdpHumanSource(timeout=0.1, clock=clock) as src:
        clock.now = 10.5
        src.reset(seed=123)  # episode clock starts at 10.5
        clock.now = 11.0
        _send_raw(src.port, [0], frame)
        assert src.wait_for_frames(1, WAIT_S)
        clock.now = 11.05
        got = src.frame_at(0.7)
        assert got.t == pytest.approx(0.5) and not src.status().stale
        assert src.status().age == pytest.approx(0.05)
        clock.now = 11.2
        held = src.frame_at(0.8)
        assert src.status().stale and src.status().age == pytest.approx(0.2)
        assert_frames_equal(held, frame, same_t=False)
        _send_raw(src.port, [1], frame)
        assert src.wait_for_frames(2, WAIT_S)
        src.frame_at(0.9)
        assert not src.status().stale and src.status().age == 0.0
        # reset re-times the held frame: it arrived 0.3 s before the new episode began
        clock.now = 11.5
        src.reset()
        assert src.frame_at(0.0).t == pytest.approx(-0.3)


def test_restarted_sender_is_followed_after_the_timeout() -> None:
    """Lower sequence numbers are dropped while fresh, accepted (resync) once stale."""
    clock = ManualClock(0.0)
    with UdpHumanSource(timeout=0.1, clock=clock) as src:
        _send_raw(src.port, [500])
        assert src.wait_for_frames(1, WAIT_S)
        clock.now = 0.05
        _send_raw(src.port, [0])
        _wait(lambda: src.stats().datagrams == 2)
        assert src.stats().out_of_order == 1
        clock.now = 0.2
        _send_raw(src.port, [1])
        assert src.wait_for_frames(2, WAIT_S)
        assert src.stats().resyncs == 1 and src.latest_packet.packet.seq == 1


def test_staleness_in_real_time() -> None:
    """With the real clock: fresh after a frame, stale after the 0.25 s timeout, fresh again."""
    with UdpHumanSource(timeout=0.25) as source, UdpHumanSender(port=source.port) as sender:
        sender.send(waving_frame(0.0))
        assert source.wait_for_frames(1, WAIT_S)
        source.frame_at(0.0)
        assert not source.status().stale
        time.sleep(0.3)
        source.frame_at(0.0)
        assert source.status().stale and source.status().age >= 0.25
        sender.send(waving_frame(0.1))
        assert source.wait_for_frames(2, WAIT_S)
        source.frame_at(0.0)
        assert not source.status().stale


def test_malformed_datagrams_are_counted_and_ignored(source: UdpHumanSource) -> None:
    """Garbage never replaces the newest frame and never stops the receiver."""
    good = waving_frame(1.0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for name in ("empty", "bad magic", "truncated", "NaN valid keypoint"):
            sock.sendto(MALFORMED[name], ("127.0.0.1", source.port))
        sock.sendto(os.urandom(3000), ("127.0.0.1", source.port))  # oversized
        sock.sendto(wire.encode(good, 1), ("127.0.0.1", source.port))
    assert source.wait_for_frames(1, WAIT_S)
    _wait(lambda: source.stats().datagrams == 6)
    stats = source.stats()
    assert (stats.malformed, stats.accepted) == (5, 1)
    assert_frames_equal(source.frame_at(0.0), good, same_t=False)


def test_close_stops_the_receiver_thread() -> None:
    """close() joins the thread promptly, is idempotent, and later calls raise StreamError."""
    before = set(threading.enumerate())
    src = UdpHumanSource()
    threads = set(threading.enumerate()) - before
    assert len(threads) == 1 and next(iter(threads)).daemon
    start = time.monotonic()
    src.close()
    assert time.monotonic() - start < 0.5
    assert not any(t.is_alive() for t in threads)
    src.close()
    with pytest.raises(StreamError):
        src.frame_at(0.0)
    assert set(threading.enumerate()) <= before


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::"])
def test_refuses_wildcard_bind(host: str) -> None:
    """Listening on every interface would let anyone on the network drive the robot."""
    with pytest.raises(StreamError, match="all interfaces"):
        UdpHumanSource(host=host)


# -- replay and the sender command -------------------------------------------------------------


class _CollectingSink:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, HumanFrame]] = []

    def send(self, frame: HumanFrame) -> int:
        self.sent.append((self.clock.now, frame))
        return len(self.sent) - 1


def test_replay_paces_frames_and_loops_with_increasing_time() -> None:
    """Frame i leaves at (t_i - t_0) / rate; loops continue the clock one interval later."""
    clock = ManualClock(100.0)

    def sleep(dt: float) -> None:
        clock.now += dt

    stream = WavingHands(duration=0.1, rate_hz=50.0)  # t = 0, 0.02, ..., 0.08
    sink = _CollectingSink(clock)
    assert replay(sink, stream, rate=2.0, loop=True, max_frames=12, clock=clock, sleep=sleep) == 12
    times = np.array([t for t, _ in sink.sent]) - 100.0
    np.testing.assert_allclose(times, np.arange(12) * 0.01, atol=1e-12)
    frame_t = np.array([f.t for _, f in sink.sent])
    np.testing.assert_allclose(frame_t, np.arange(12) * 0.02, atol=1e-12)
    sink2 = _CollectingSink(clock)
    assert replay(sink2, stream, clock=clock, sleep=sleep) == len(stream)


def test_replay_end_to_end_over_loopback(source: UdpHumanSource) -> None:
    """A replayed stream arrives whole and in order (fast-forward x20 to stay quick)."""
    stream = WavingHands(duration=0.5, rate_hz=60.0, dropout=True)
    with UdpHumanSender(port=source.port, float64_keypoints=False) as sender:
        assert replay(sender, stream, rate=20.0) == len(stream)
    assert source.wait_for_frames(len(stream), WAIT_S)
    assert source.stats().lost == 0
    assert_frames_equal(source.frame_at(0.0), stream.frame(len(stream) - 1), float32=True, same_t=False)


def _run_sender(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "scripts" / "stream_send.py"), *args],
                          capture_output=True, text=True, timeout=30, env=env)  # fmt: skip


def test_stream_send_script_synthetic(source: UdpHumanSource) -> None:
    """`stream_send.py --synthetic` reaches a source on 127.0.0.1:PORT."""
    result = _run_sender("--synthetic", "--duration", "0.25", "--rate", "5", "--port", str(source.port))
    assert result.returncode == 0, result.stderr
    assert source.wait_for_frames(15, WAIT_S)
    frame = source.frame_at(0.0)
    assert frame.hands[Side.LEFT] is not None and frame.hands[Side.RIGHT] is not None


def test_stream_send_script_replays_a_recording(source: UdpHumanSource, tmp_path: Path) -> None:
    """A recording file replayed by the script arrives frame for frame (float64: exact)."""
    recording = pytest.importorskip("handitl.intervention.streams.recording")
    stream = WavingHands(duration=0.2, rate_hz=50.0, dropout=True, pedal_demo=True)
    frames = [stream.frame(i) for i in range(len(stream))]
    path = tmp_path / "wave.h5"
    meta = recording.RecordingMetadata(source="simulated", nominal_rate_hz=50.0)
    recording.write_recording(path, recording.StreamRecording.from_frames(frames, meta))
    result = _run_sender(str(path), "--rate", "10", "--port", str(source.port))
    assert result.returncode == 0, result.stderr
    assert source.wait_for_frames(len(frames), WAIT_S)
    assert source.latest_packet.packet.frame.t == frames[-1].t
    assert_frames_equal(source.frame_at(0.0), frames[-1], same_t=False)
