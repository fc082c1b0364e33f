"""Wire format of a live human stream: one UDP datagram per :class:`HumanFrame`.

Version 1. Little-endian, packed (no padding), fixed size for a given ``flags``:
702 bytes with float32 keypoints, 1206 bytes with float64 keypoints. Both fit one
Ethernet frame (1472 bytes of UDP payload over IPv4), so a datagram is never
fragmented and is either received whole or lost.

Header (28 bytes):

======  =====  =========  ============================================================
offset  size   type       field
======  =====  =========  ============================================================
0       4      bytes      magic ``b"HITL"``
4       1      uint8      version, = 1
5       1      uint8      flags: bit 0 = keypoints are float64 (else float32);
                          bits 1-7 must be 0
6       1      uint8      pedals: bit 0 = takeover, bit 1 = copilot; bits 2-7 must be 0
7       1      uint8      reserved, must be 0
8       4      uint32     sequence number, +1 per datagram, wraps 2**32 - 1 -> 0
12      8      float64    send time: the sender's Unix time (s); for latency estimates
                          only, as the receiver's clock need not be synchronised
20      8      float64    frame time ``HumanFrame.t`` (s, the sender's stream clock)
======  =====  =========  ============================================================

Then one hand block per side, left first then right (:data:`SIDES` order), 337 bytes
(float32 keypoints) or 589 bytes (float64):

======  =====  =========  ============================================================
offset  size   type       field
======  =====  =========  ============================================================
0       1      uint8      present: 1 = hand tracked, 0 = ``None`` (rest of the block
                          is ignored; senders write zeros)
1       1      uint8      wrist_valid (0 or 1)
2       2      uint16     reserved, must be 0
4       4      uint32     keypoint validity mask: bit k = keypoint k valid;
                          bits 21-31 must be 0
8       24     3 float64  wrist position, operator world frame, m
32      32     4 float64  wrist quaternion (w, x, y, z), operator world frame, unit norm
64      252    21x3 f32   keypoints in the wrist frame, m, MediaPipe order, row-major
        (504)  (f64)      (keypoint, xyz)
316     21     21 uint8   confidence, value / 255 in [0, 1]
(568)
======  =====  =========  ============================================================

Invalid data is ignored by the receiver: an invalid wrist pose or keypoint decodes to
NaN and an invalid keypoint's confidence to 0 whatever its bytes (senders write NaN
and 0). Valid data must be finite and a valid wrist quaternion unit-norm (|q| within
1e-6 of 1); anything else is a malformed datagram and :func:`decode` raises
:class:`WireError`.

Precision: timestamps and wrist poses round-trip exactly (float64); keypoints exactly
with float64, else to float32 (relative error <= 2**-24, < 2e-8 m for a hand);
confidence to 1/510.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np

from handitl.assets.hand_description import SIDES
from handitl.intervention.streams.frame import NUM_KEYPOINTS, FrameError, HandState, HumanFrame, PedalState

MAGIC = b"HITL"
VERSION = 1
FLAG_KEYPOINTS_F64 = 0x01
PEDAL_TAKEOVER = 0x01
PEDAL_COPILOT = 0x02
SEQ_MODULUS = 2**32
"""Sequence numbers are uint32 and wrap; compare them with :func:`seq_delta`."""
MAX_DATAGRAM = 1472
"""UDP payload of one Ethernet frame over IPv4; every version-1 datagram fits."""

_ALL_VALID = (1 << NUM_KEYPOINTS) - 1

_HEADER = np.dtype([
    ("magic", "S4"), ("version", "u1"), ("flags", "u1"), ("pedals", "u1"), ("reserved", "u1"),
    ("seq", "<u4"), ("send_time", "<f8"), ("frame_t", "<f8"),
])  # fmt: skip


def _hand_dtype(keypoint_type: str) -> np.dtype:
    return np.dtype([
        ("present", "u1"), ("wrist_valid", "u1"), ("reserved", "<u2"), ("valid_mask", "<u4"),
        ("wrist_pos", "<f8", (3,)), ("wrist_quat", "<f8", (4,)),
        ("keypoints", keypoint_type, (NUM_KEYPOINTS, 3)), ("confidence", "u1", (NUM_KEYPOINTS,)),
    ])  # fmt: skip


def _packet_dtype(keypoint_type: str) -> np.dtype:
    hand = _hand_dtype(keypoint_type)
    return np.dtype([("header", _HEADER), *((side.value, hand) for side in SIDES)])


_PACKET = {False: _packet_dtype("<f4"), True: _packet_dtype("<f8")}
"""Packet layouts keyed by "keypoints are float64"."""
PACKET_SIZE_F32 = _PACKET[False].itemsize
PACKET_SIZE_F64 = _PACKET[True].itemsize
assert (PACKET_SIZE_F32, PACKET_SIZE_F64) == (702, 1206), "layout drifted from the documented table"
assert PACKET_SIZE_F64 <= MAX_DATAGRAM
_BIT_WEIGHTS = (1 << np.arange(NUM_KEYPOINTS, dtype=np.uint32)).astype(np.uint32)


class WireError(ValueError):
    """A datagram (or a frame to encode) does not follow the wire format."""


class Packet(NamedTuple):
    """A decoded datagram; unpacks as ``seq, send_time, frame``."""

    seq: int
    """Sequence number (uint32)."""
    send_time: float
    """Sender's Unix time at sending, s."""
    frame: HumanFrame
    """The frame, with ``t`` on the sender's stream clock."""


def seq_delta(new: int, old: int) -> int:
    """Signed distance from ``old`` to ``new`` in wrapping uint32 arithmetic (RFC 1982).

    Positive: ``new`` is later; 0: the same; negative: earlier. Distances are taken
    modulo 2**32 into [-2**31, 2**31).
    """
    d = (new - old) % SEQ_MODULUS
    return d - SEQ_MODULUS if d >= SEQ_MODULUS // 2 else d


def encode(frame: HumanFrame, seq: int, *, send_time: float | None = None,
           float64_keypoints: bool = True) -> bytes:
    """One datagram for ``frame``.

    Args:
        frame: the frame to send.
        seq: sequence number in [0, 2**32); the caller wraps it.
        send_time: sender's Unix time, s; ``time.time()`` if None.
        float64_keypoints: 1206-byte exact packets if True, 702-byte float32 ones if False.

    Raises:
        WireError: ``seq`` out of range, a non-finite time, or a valid keypoint that
            does not fit float32.
    """
    if send_time is None:
        send_time = time.time()
    if not 0 <= seq < SEQ_MODULUS:
        raise WireError(f"seq must be in [0, 2**32), got {seq}")
    if not math.isfinite(send_time):
        raise WireError(f"send_time must be finite, got {send_time}")
    packet = np.zeros((), dtype=_PACKET[float64_keypoints])
    header = packet["header"]
    header["magic"] = MAGIC
    header["version"] = VERSION
    header["flags"] = FLAG_KEYPOINTS_F64 if float64_keypoints else 0
    header["pedals"] = (PEDAL_TAKEOVER * frame.pedals.takeover) | (PEDAL_COPILOT * frame.pedals.copilot)
    header["seq"] = seq
    header["send_time"] = send_time
    header["frame_t"] = frame.t
    for side in SIDES:
        hand = frame.hands[side]
        if hand is not None:
            _encode_hand(hand, packet[side.value])
    return packet.tobytes()


def _encode_hand(hand: HandState, block: np.ndarray) -> None:
    block["present"] = 1
    block["wrist_valid"] = hand.wrist_valid
    block["valid_mask"] = int(_BIT_WEIGHTS[hand.valid].sum())
    block["wrist_pos"] = hand.wrist_pos if hand.wrist_valid else np.nan
    block["wrist_quat"] = hand.wrist_quat if hand.wrist_valid else np.nan
    keypoints = np.where(hand.valid[:, None], hand.keypoints, np.nan)
    with np.errstate(over="ignore"):  # overflow to inf is reported just below
        block["keypoints"] = keypoints
    if not np.isfinite(block["keypoints"][hand.valid]).all():
        raise WireError("a valid keypoint does not fit the wire's float32; send float64 keypoints")
    block["confidence"] = np.where(hand.valid, np.rint(hand.confidence * 255.0), 0).astype(np.uint8)


def decode(data: bytes | bytearray | memoryview) -> Packet:
    """Parse one datagram.

    Returns:
        ``Packet(seq, send_time, frame)``; the frame's ``t`` is the sender's frame time.

    Raises:
        WireError: for anything malformed (and never another exception): wrong size,
            magic, version, flags or reserved bits, non-finite times, non-finite valid
            data, a valid wrist quaternion that is not unit norm.
    """
    try:
        raw = bytes(data)
    except TypeError as exc:
        raise WireError(f"datagram must be bytes-like, got {type(data).__name__}") from exc
    if len(raw) < _HEADER.itemsize:
        raise WireError(f"datagram of {len(raw)} bytes is shorter than the {_HEADER.itemsize}-byte header")
    header = np.frombuffer(raw, dtype=_HEADER, count=1)[0]
    if header["magic"] != MAGIC:
        raise WireError(f"bad magic {bytes(header['magic'])!r}, expected {MAGIC!r}")
    if header["version"] != VERSION:
        raise WireError(f"wire version {header['version']} is not supported (this is version {VERSION})")
    flags = int(header["flags"])
    if flags & ~FLAG_KEYPOINTS_F64:
        raise WireError(f"unknown flag bits 0x{flags:02x}")
    pedals = int(header["pedals"])
    if pedals & ~(PEDAL_TAKEOVER | PEDAL_COPILOT) or header["reserved"]:
        raise WireError(f"unknown pedal bits 0x{pedals:02x} or non-zero reserved byte")
    dtype = _PACKET[bool(flags & FLAG_KEYPOINTS_F64)]
    if len(raw) != dtype.itemsize:
        raise WireError(f"datagram has {len(raw)} bytes; flags 0x{flags:02x} need {dtype.itemsize}")
    packet = np.frombuffer(raw, dtype=dtype, count=1)[0]
    send_time, frame_t = float(header["send_time"]), float(header["frame_t"])
    if not (math.isfinite(send_time) and math.isfinite(frame_t)):
        raise WireError(f"non-finite time (send {send_time}, frame {frame_t})")
    hands = {side: _decode_hand(packet[side.value], side.value) for side in SIDES}
    pedal_state = PedalState(takeover=bool(pedals & PEDAL_TAKEOVER), copilot=bool(pedals & PEDAL_COPILOT))
    try:
        frame = HumanFrame(t=frame_t, hands=hands, pedals=pedal_state)
    except FrameError as exc:  # not expected after the checks above; keeps the contract
        raise WireError(f"invalid frame: {exc}") from exc
    return Packet(seq=int(header["seq"]), send_time=send_time, frame=frame)


def _decode_hand(block: np.void, name: str) -> HandState | None:
    present, wrist_valid = int(block["present"]), int(block["wrist_valid"])
    if present not in (0, 1):
        raise WireError(f"{name} hand: present byte must be 0 or 1, got {present}")
    if not present:
        return None
    mask = int(block["valid_mask"])
    if wrist_valid not in (0, 1) or block["reserved"] or mask & ~_ALL_VALID:
        raise WireError(f"{name} hand: bad wrist_valid {wrist_valid}, reserved bits or mask 0x{mask:08x}")
    valid = (np.uint32(mask) & _BIT_WEIGHTS) != 0
    keypoints = np.where(valid[:, None], block["keypoints"].astype(np.float64), np.nan)
    if not np.isfinite(keypoints[valid]).all():
        raise WireError(f"{name} hand: a keypoint marked valid is not finite")
    if wrist_valid:
        wrist_pos = block["wrist_pos"].astype(np.float64)
        wrist_quat = block["wrist_quat"].astype(np.float64)
    else:
        wrist_pos, wrist_quat = np.full(3, np.nan), np.full(4, np.nan)
    confidence = np.where(valid, block["confidence"] / 255.0, 0.0)
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # |q| of a huge quaternion: inf, rejected
            return HandState(wrist_pos=wrist_pos, wrist_quat=wrist_quat, wrist_valid=bool(wrist_valid),
                             keypoints=keypoints, valid=valid, confidence=confidence)  # fmt: skip
    except FrameError as exc:  # non-finite or non-unit wrist pose
        raise WireError(f"{name} hand: {exc}") from exc
