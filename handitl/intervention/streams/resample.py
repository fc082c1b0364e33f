"""Resampling recordings to control ticks, and replaying them as a :class:`HumanSource`.

Rules (per hand, per output time ``q`` between input samples ``t[i] <= q < t[i+1]``):

* positions (wrist position, keypoints) and confidence: linear interpolation;
* wrist rotation: slerp along the shorter arc (constant angular rate);
* pedals: zero-order hold, the value of sample ``i`` (a pedal press is an event, never
  "half pressed");
* validity: a value is valid only if it is valid in both ``t[i]`` and ``t[i+1]`` and
  ``t[i+1] - t[i] <= max_gap`` (default 0.1 s); otherwise it is NaN, flagged invalid, with
  confidence 0. A dropout therefore stays a dropout; no value is bridged across it.
* ``q`` equal to a sample time returns that sample exactly (so resampling at the input
  times is the identity), whatever its neighbours hold.
* No extrapolation: :func:`resample` gives untracked hands and released pedals outside
  ``[t[0], t[-1]]``. :class:`RecordedSource` instead clamps past the end (it keeps
  returning the last sample and reports ``ended``), as the ``HumanSource`` protocol asks.

This module depends on :mod:`~handitl.intervention.streams.recording`, not the reverse:
replay (``RecordedSource``) is resampling on the episode clock, so it lives here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np

from handitl.intervention.streams.frame import HandState, HumanFrame, PedalState
from handitl.intervention.streams.geometry import slerp, slerp_one
from handitl.intervention.streams.recording import HandTrack, StreamRecording
from handitl.intervention.streams.source import SourceStatus, StreamError

DEFAULT_MAX_GAP = 0.1
"""Largest input sample spacing (s) bridged by interpolation; wider gaps are dropouts."""


class _Brackets(NamedTuple):
    """Where M query times fall among the input samples."""

    lo: np.ndarray
    """(M,) index of the sample at or before the query (clipped into range)."""
    hi: np.ndarray
    """(M,) index of the sample after it; equal to ``lo`` on an exact hit."""
    frac: np.ndarray
    """(M,) interpolation fraction in [0, 1) from ``lo`` to ``hi``."""
    inside: np.ndarray
    """(M,) query within [t[0], t[-1]]."""
    usable: np.ndarray
    """(M,) inside and either an exact hit or bracketed by samples at most max_gap apart."""


def _brackets(t: np.ndarray, times: np.ndarray, max_gap: float) -> _Brackets:
    n = t.shape[0]
    lo = np.searchsorted(t, times, side="right") - 1
    inside = (lo >= 0) & (times <= t[-1])
    lo = np.clip(lo, 0, n - 1)
    exact = inside & (t[lo] == times)
    hi = np.where(exact, lo, np.minimum(lo + 1, n - 1))
    span = t[hi] - t[lo]
    frac = np.where(inside & ~exact, (times - t[lo]) / np.where(span > 0, span, 1.0), 0.0)
    usable = inside & (exact | (span <= max_gap))
    return _Brackets(lo, hi, frac, inside, usable)


def _lerp(values: np.ndarray, b: _Brackets) -> np.ndarray:
    frac = b.frac.reshape(-1, *([1] * (values.ndim - 1)))
    return values[b.lo] + frac * (values[b.hi] - values[b.lo])


def _resample_track(track: HandTrack, b: _Brackets) -> HandTrack:
    valid = b.usable[:, None] & track.valid[b.lo] & track.valid[b.hi]
    keypoints = np.where(valid[..., None], _lerp(track.keypoints, b), np.nan)
    confidence = np.where(valid, np.clip(_lerp(track.confidence, b), 0.0, 1.0), 0.0)
    wrist_valid = b.usable & track.wrist_valid[b.lo] & track.wrist_valid[b.hi]
    wrist_pos = np.where(wrist_valid[:, None], _lerp(track.wrist_pos, b), np.nan)
    wrist_quat = np.full((b.lo.shape[0], 4), np.nan)
    rows = np.flatnonzero(wrist_valid)
    if rows.size:
        lo, hi, frac = b.lo[rows], b.hi[rows], b.frac[rows]
        quat = slerp(track.wrist_quat[lo], track.wrist_quat[hi], frac)
        # An exact hit returns the stored quaternion bit for bit (slerp would renormalise).
        wrist_quat[rows] = np.where((frac == 0.0)[:, None], track.wrist_quat[lo], quat)
    return HandTrack(
        wrist_pos=wrist_pos,
        wrist_quat=wrist_quat,
        wrist_valid=wrist_valid,
        keypoints=keypoints,
        valid=valid,
        confidence=confidence,
    )


def _hand_at(track: HandTrack, lo: int, hi: int, frac: float, usable: bool) -> HandState | None:
    """One hand between samples ``lo`` and ``hi`` (module rules); ``None`` if nothing is valid."""
    valid = track.valid[lo] & track.valid[hi] if usable else np.zeros(track.valid.shape[1], bool)
    wrist_valid = usable and bool(track.wrist_valid[lo] and track.wrist_valid[hi])
    if not (wrist_valid or valid.any()):
        return None
    kp0, c0 = track.keypoints[lo], track.confidence[lo]
    keypoints = np.where(valid[:, None], kp0 + frac * (track.keypoints[hi] - kp0), np.nan)
    confidence = np.where(valid, np.clip(c0 + frac * (track.confidence[hi] - c0), 0.0, 1.0), 0.0)
    pos, quat = np.full(3, np.nan), np.full(4, np.nan)
    if wrist_valid:
        p0, q0 = track.wrist_pos[lo], track.wrist_quat[lo]
        pos = p0 + frac * (track.wrist_pos[hi] - p0)
        quat = q0 if frac == 0.0 else slerp_one(q0, track.wrist_quat[hi], frac)
    # Both samples belong to a validated recording and interpolation keeps its invariants.
    return HandState.trusted(
        wrist_pos=pos,
        wrist_quat=quat,
        wrist_valid=wrist_valid,
        keypoints=keypoints,
        valid=valid,
        confidence=confidence,
    )


def resample(
    recording: StreamRecording,
    times: np.ndarray,
    *,
    max_gap: float = DEFAULT_MAX_GAP,
    nominal_rate_hz: float | None = None,
) -> StreamRecording:
    """The recording at ``times`` (rules in the module docstring).

    Args:
        recording: input samples.
        times: (M,) strictly increasing times on the recording's clock, s.
        max_gap: largest input spacing bridged, s (> 0).
        nominal_rate_hz: rate stored in the result's metadata (default: the input's).

    Returns:
        A recording with ``t = times``, the same sides and metadata (notes say it was
        resampled).
    """
    if not (math.isfinite(max_gap) and max_gap > 0):
        raise ValueError(f"max_gap must be finite and > 0, got {max_gap}")
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1:
        raise ValueError(f"times must be (M,), got shape {times.shape}")
    b = _brackets(recording.t, times, max_gap)
    rate = recording.metadata.nominal_rate_hz if nominal_rate_hz is None else nominal_rate_hz
    note = f"resampled at {len(times)} times ({rate:g} Hz nominal, max_gap {max_gap:g} s)"
    notes = f"{recording.metadata.notes}; {note}" if recording.metadata.notes else note
    return StreamRecording(
        metadata=dataclasses.replace(recording.metadata, nominal_rate_hz=rate, notes=notes),
        t=times,
        hands={side: _resample_track(track, b) for side, track in recording.hands.items()},
        takeover=b.inside & recording.takeover[b.lo],
        copilot=b.inside & recording.copilot[b.lo],
    )


def control_ticks(recording: StreamRecording, rate_hz: float) -> np.ndarray:
    """(M,) ticks ``t[0] + k / rate_hz`` for k = 0, 1, ... up to and including ``t[-1]``, s."""
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate_hz must be finite and > 0, got {rate_hz}")
    # 1e-9 absorbs rounding so that a tick landing on the last sample is kept.
    count = math.floor(recording.duration * rate_hz + 1e-9) + 1
    return recording.t[0] + np.arange(count) / rate_hz


def resample_uniform(
    recording: StreamRecording, rate_hz: float, *, max_gap: float = DEFAULT_MAX_GAP
) -> StreamRecording:
    """The recording at :func:`control_ticks` (e.g. 50 Hz), nominal rate ``rate_hz``."""
    return resample(recording, control_ticks(recording, rate_hz), max_gap=max_gap, nominal_rate_hz=rate_hz)


class RecordedSource:
    """Replays a :class:`StreamRecording` on the episode clock (a ``HumanSource``).

    Episode time ``t`` (s since :meth:`reset`) plays recording time
    ``t[0] + time_offset + t``, resampled by the rules of this module. Past the last
    sample the source holds the last sample and reports ``ended`` (``age`` = seconds past
    it). With ``loop`` the recording restarts after ``duration + 1 / nominal_rate_hz``,
    holding the last sample during that final period. The returned frame's ``t`` is the
    requested episode time.
    """

    def __init__(
        self,
        recording: StreamRecording,
        *,
        time_offset: float = 0.0,
        loop: bool = False,
        max_gap: float = DEFAULT_MAX_GAP,
    ) -> None:
        """
        Args:
            recording: what to replay.
            time_offset: recording time (s after its first sample) played at episode t = 0,
                in [0, duration].
            loop: restart at the end instead of holding the last sample.
            max_gap: largest input spacing bridged by interpolation, s.
        """
        if not (math.isfinite(time_offset) and 0.0 <= time_offset <= recording.duration):
            raise ValueError(f"time_offset must lie in [0, {recording.duration:g}] s, got {time_offset}")
        if not (math.isfinite(max_gap) and max_gap > 0):
            raise ValueError(f"max_gap must be finite and > 0, got {max_gap}")
        self._recording = recording
        self._time_offset = float(time_offset)
        self._loop = loop
        self._max_gap = float(max_gap)
        self._period = recording.duration + 1.0 / recording.metadata.nominal_rate_hz
        self._status = SourceStatus()
        self._closed = False

    @property
    def recording(self) -> StreamRecording:
        return self._recording

    def reset(self, seed: int | None = None) -> None:
        """Rewind to the start (``seed`` is unused: replay is deterministic)."""
        self._check_open()
        self._status = SourceStatus()

    def frame_at(self, t: float) -> HumanFrame:
        """The resampled frame at episode time ``t`` (s, >= 0)."""
        self._check_open()
        if not (math.isfinite(t) and t >= 0.0):
            raise ValueError(f"episode time must be finite and >= 0, got {t}")
        rec = self._recording
        offset = t + self._time_offset
        if self._loop:
            offset = math.fmod(offset, self._period)
        past = offset - rec.duration
        # Clamp (past the end, or rounding of t[0] + offset) onto the last sample.
        query = rec.t[-1] if past >= 0.0 else min(rec.t[0] + offset, rec.t[-1])
        self._status = SourceStatus(ended=past > 0.0 and not self._loop, age=max(past, 0.0))
        return self._sample(float(query), t)

    def _sample(self, query: float, t: float) -> HumanFrame:
        # One query per control tick: scalar bracketing and per-row arithmetic (the same
        # formulas as _resample_track) instead of building a one-sample HandTrack, ~5x faster.
        times = self._recording.t
        lo = int(np.searchsorted(times, query, side="right")) - 1  # query is within [t[0], t[-1]]
        exact = bool(times[lo] == query)
        hi = lo if exact else lo + 1
        frac = 0.0 if exact else (query - float(times[lo])) / float(times[hi] - times[lo])
        usable = exact or float(times[hi] - times[lo]) <= self._max_gap
        hands = {side: _hand_at(track, lo, hi, frac, usable) for side, track in self._recording.hands.items()}
        pedals = PedalState(
            takeover=bool(self._recording.takeover[lo]), copilot=bool(self._recording.copilot[lo])
        )
        return HumanFrame(t=t, hands=hands, pedals=pedals)

    def status(self) -> SourceStatus:
        return self._status

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StreamError("RecordedSource is closed")
