"""Resampling against analytic signals, dropout handling, and replay as a HumanSource."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handitl.assets.hand_description import Side
from handitl.intervention.streams.geometry import quat_angle, slerp, slerp_one
from handitl.intervention.streams.recording import HandTrack, RecordingMetadata, StreamRecording
from handitl.intervention.streams.resample import (
    DEFAULT_MAX_GAP,
    RecordedSource,
    control_ticks,
    resample,
    resample_uniform,
)
from handitl.intervention.streams.source import HumanSource, StreamError

AXIS = np.array([1.0, 2.0, -2.0]) / 3.0
RATE = 2.0  # rad/s


def rotation_at(t: np.ndarray) -> np.ndarray:
    """(N, 4) constant-rate rotation about AXIS, angle RATE * t (w, x, y, z)."""
    half = 0.5 * RATE * np.asarray(t)[:, None]
    return np.hstack([np.cos(half), np.sin(half) * AXIS])


def moving_hand(t: np.ndarray, flip_signs: bool = False) -> HandTrack:
    """Keypoints and wrist moving linearly in t, wrist rotating at a constant rate; confidence
    linear in t. ``flip_signs`` negates every other quaternion (same rotations)."""
    n = t.shape[0]
    base = np.linspace(-0.1, 0.1, 63).reshape(21, 3)
    velocity = np.linspace(0.3, -0.2, 63).reshape(21, 3)
    quat = rotation_at(t)
    if flip_signs:
        quat[1::2] *= -1.0
    return HandTrack(
        wrist_pos=np.array([0.1, -0.2, 0.3]) + np.outer(t, [0.5, 0.25, -1.0]),
        wrist_quat=quat,
        wrist_valid=np.ones(n, bool),
        keypoints=base + t[:, None, None] * velocity,
        valid=np.ones((n, 21), bool),
        confidence=np.tile(0.2 + 0.1 * t[:, None], (1, 21)),
    )


def recording_at(
    t: np.ndarray, track: HandTrack | None = None, takeover: np.ndarray | None = None
) -> StreamRecording:
    n = t.shape[0]
    return StreamRecording(
        metadata=RecordingMetadata(source="simulated", nominal_rate_hz=30.0),
        t=t,
        hands={Side.RIGHT: moving_hand(t) if track is None else track},
        takeover=np.zeros(n, bool) if takeover is None else takeover,
        copilot=np.zeros(n, bool),
    )


@pytest.fixture()
def jittered_times() -> np.ndarray:
    """30 Hz samples with +-5 ms jitter over ~4 s."""
    rng = np.random.default_rng(0)
    return np.arange(120) / 30.0 + rng.uniform(-0.005, 0.005, 120)


def test_linear_motion_is_reproduced(jittered_times: np.ndarray) -> None:
    """Positions and confidence moving linearly in time, resampled at 50 Hz, equal the analytic
    signal within 1e-12 at every tick."""
    out = resample_uniform(recording_at(jittered_times), 50.0)
    truth = moving_hand(out.t)
    hand = out.hands[Side.RIGHT]
    assert hand.valid.all() and hand.wrist_valid.all()
    assert np.abs(hand.keypoints - truth.keypoints).max() < 1e-12
    assert np.abs(hand.wrist_pos - truth.wrist_pos).max() < 1e-12
    assert np.abs(hand.confidence - truth.confidence).max() < 1e-12
    assert out.metadata.nominal_rate_hz == 50.0
    assert np.allclose(np.diff(out.t), 0.02, atol=1e-12)


@pytest.mark.parametrize("flip_signs", [False, True])
def test_constant_rate_rotation_is_slerped(jittered_times: np.ndarray, flip_signs: bool) -> None:
    """A rotation at constant angular rate, slerped between jittered samples, matches the
    analytic rotation within 1e-9 rad, also when the stored quaternion covers alternate in
    sign (slerp takes the shortest path)."""
    track = moving_hand(jittered_times, flip_signs=flip_signs)
    out = resample_uniform(recording_at(jittered_times, track), 50.0)
    error = quat_angle(out.hands[Side.RIGHT].wrist_quat, rotation_at(out.t))
    assert error.max() < 1e-9
    assert np.allclose(np.linalg.norm(out.hands[Side.RIGHT].wrist_quat, axis=1), 1.0, atol=1e-12)


def test_resampling_at_the_input_times_is_the_identity(jittered_times: np.ndarray) -> None:
    """Querying exactly at the sample times returns the samples bit for bit, dropouts included."""
    track = moving_hand(jittered_times)
    valid = track.valid.copy()
    valid[10, 4] = False
    keypoints = np.where(valid[..., None], track.keypoints, np.nan)
    recording = recording_at(
        jittered_times,
        HandTrack(
            wrist_pos=track.wrist_pos,
            wrist_quat=track.wrist_quat,
            wrist_valid=track.wrist_valid,
            keypoints=keypoints,
            valid=valid,
            confidence=np.where(valid, track.confidence, 0.0),
        ),
    )
    out = resample(recording, recording.t)
    assert out.hands[Side.RIGHT].equals(recording.hands[Side.RIGHT])


def test_dropout_gives_invalid_samples_and_no_invented_values() -> None:
    """A keypoint missing in input sample k is invalid (NaN, confidence 0) at every output time
    strictly between samples k-1 and k+1 and valid elsewhere; other keypoints are unaffected."""
    t = np.arange(30) / 30.0
    track = moving_hand(t)
    valid = track.valid.copy()
    valid[12, 8] = False
    recording = recording_at(
        t,
        HandTrack(
            wrist_pos=track.wrist_pos,
            wrist_quat=track.wrist_quat,
            wrist_valid=track.wrist_valid,
            keypoints=np.where(valid[..., None], track.keypoints, np.nan),
            valid=valid,
            confidence=np.where(valid, track.confidence, 0.0),
        ),
    )
    out = resample_uniform(recording, 200.0)
    hand = out.hands[Side.RIGHT]
    hole = (out.t > t[11]) & (out.t < t[13])
    assert hole.sum() >= 12
    assert not hand.valid[hole, 8].any() and hand.valid[~hole, 8].all()
    assert np.isnan(hand.keypoints[hole, 8]).all() and (hand.confidence[hole, 8] == 0).all()
    assert hand.valid[:, np.arange(21) != 8].all()
    truth = moving_hand(out.t)
    assert np.abs(hand.keypoints[~hole, 8] - truth.keypoints[~hole, 8]).max() < 1e-12


def test_gap_wider_than_max_gap_is_a_dropout() -> None:
    """Between two valid samples further apart than max_gap, nothing is interpolated; with a
    larger max_gap the same gap is bridged linearly."""
    t = np.concatenate([np.arange(10) / 30.0, 0.3 + 0.2 + np.arange(10) / 30.0])  # a 0.2 s hole
    recording = recording_at(t)
    out = resample_uniform(recording, 100.0)
    gap = (out.t > t[9]) & (out.t < t[10])
    hand = out.hands[Side.RIGHT]
    assert not hand.valid[gap].any() and not hand.wrist_valid[gap].any()
    assert np.isnan(hand.wrist_quat[gap]).all() and np.isnan(hand.wrist_pos[gap]).all()
    assert hand.valid[~gap].all()
    bridged = resample_uniform(recording, 100.0, max_gap=0.25).hands[Side.RIGHT]
    assert bridged.valid.all()
    assert np.abs(bridged.keypoints - moving_hand(out.t).keypoints).max() < 1e-12


def test_no_extrapolation_outside_the_recording() -> None:
    """Times before the first or after the last sample give untracked hands and released pedals."""
    t = 1.0 + np.arange(10) / 10.0
    recording = recording_at(t, takeover=np.ones(10, bool))
    out = resample(recording, np.array([0.5, 0.99, 1.0, 1.9, 1.91, 5.0]))
    hand = out.hands[Side.RIGHT]
    assert hand.valid.all(axis=1).tolist() == [False, False, True, True, False, False]
    assert out.takeover.tolist() == [False, False, True, True, False, False]
    assert out.frame(0).hand(Side.RIGHT) is None


def test_pedals_are_held_not_interpolated() -> None:
    """A pedal pressed in samples 3..5 reads pressed from t[3] up to (excluding) t[6]."""
    t = np.arange(10) / 10.0
    takeover = np.zeros(10, bool)
    takeover[3:6] = True
    out = resample_uniform(recording_at(t, takeover=takeover), 100.0)
    expected = (out.t >= t[3] - 1e-12) & (out.t < t[6] - 1e-12)
    assert np.array_equal(out.takeover, expected)
    assert not out.copilot.any()


def test_control_ticks_include_the_last_sample() -> None:
    """Ticks start at t[0], step 1/rate, and include t[-1] when it falls on the grid."""
    recording = recording_at(np.arange(31) / 30.0)
    ticks = control_ticks(recording, 50.0)
    assert ticks[0] == 0.0 and len(ticks) == 51 and ticks[-1] == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError):
        control_ticks(recording, 0.0)


# ------------------------------------------------------------------------------------------
# RecordedSource


def test_recorded_source_follows_the_protocol_and_interpolates() -> None:
    """RecordedSource is a HumanSource; frame_at(t) equals the resampled recording at t[0] + t,
    and its frame time is the episode time."""
    t = 2.0 + np.arange(30) / 30.0
    recording = recording_at(t)
    source = RecordedSource(recording)
    assert isinstance(source, HumanSource)
    source.reset(seed=3)
    for episode_t in (0.0, 0.01, 0.5, 0.71):
        frame = source.frame_at(episode_t)
        truth = moving_hand(np.array([2.0 + episode_t]))
        hand = frame.hand(Side.RIGHT)
        assert frame.t == episode_t and hand is not None
        assert np.abs(hand.keypoints - truth.keypoints[0]).max() < 1e-12
        assert quat_angle(hand.wrist_quat, truth.wrist_quat[0]) < 1e-9
        assert not source.status().ended and source.status().age == 0.0


def test_recorded_source_holds_the_last_frame_past_the_end() -> None:
    """Past the end the last sample is returned and status reports ended with the age past it."""
    t = np.arange(11) / 10.0
    source = RecordedSource(recording_at(t))
    last = moving_hand(t).keypoints[-1]
    hand = source.frame_at(1.0).hand(Side.RIGHT)
    assert hand is not None and np.array_equal(hand.keypoints, last) and not source.status().ended
    frame = source.frame_at(1.75)
    hand = frame.hand(Side.RIGHT)
    assert hand is not None and np.array_equal(hand.keypoints, last)
    assert source.status().ended and source.status().age == pytest.approx(0.75)
    source.reset()
    assert not source.status().ended


def test_recorded_source_offset_and_loop() -> None:
    """time_offset shifts playback; loop restarts after duration + one nominal period."""
    t = np.arange(31) / 30.0  # duration 1 s, period 1 + 1/30 s
    keypoints = moving_hand(t).keypoints
    shifted = RecordedSource(recording_at(t), time_offset=0.5)
    hand = shifted.frame_at(0.0).hand(Side.RIGHT)
    assert hand is not None and np.abs(hand.keypoints - keypoints[15]).max() < 1e-12
    looped = RecordedSource(recording_at(t), loop=True)
    period = 1.0 + 1.0 / 30.0
    hand = looped.frame_at(period + 0.2).hand(Side.RIGHT)
    assert hand is not None and np.abs(hand.keypoints - keypoints[6]).max() < 1e-12
    hand = looped.frame_at(1.0 + 0.5 / 30.0).hand(Side.RIGHT)  # the seam holds the last sample
    assert hand is not None and np.array_equal(hand.keypoints, keypoints[-1])
    assert not looped.status().ended
    with pytest.raises(ValueError):
        RecordedSource(recording_at(t), time_offset=2.0)


def test_recorded_source_rejects_bad_times_and_use_after_close() -> None:
    """Negative or non-finite episode times are errors; a closed source raises StreamError."""
    source = RecordedSource(recording_at(np.arange(5) / 10.0))
    for bad in (-0.1, math.nan, math.inf):
        with pytest.raises(ValueError):
            source.frame_at(bad)
    source.close()
    with pytest.raises(StreamError):
        source.frame_at(0.0)


def test_default_max_gap() -> None:
    """The documented default gap bridged is 0.1 s."""
    assert DEFAULT_MAX_GAP == 0.1


def test_recorded_source_agrees_with_resample() -> None:
    """The per-tick replay path gives the same validity and values (1e-15) as resample() at the
    same times, on a recording with keypoint dropouts, wrist dropouts and a gap."""
    rng = np.random.default_rng(4)
    t = np.concatenate([np.arange(40) / 30.0, 1.6 + np.arange(40) / 30.0])
    track = moving_hand(t, flip_signs=True)
    valid = rng.random((80, 21)) > 0.2
    wrist_valid = rng.random(80) > 0.2
    noisy = HandTrack(
        wrist_pos=np.where(wrist_valid[:, None], track.wrist_pos, np.nan),
        wrist_quat=np.where(wrist_valid[:, None], track.wrist_quat, np.nan),
        wrist_valid=wrist_valid,
        keypoints=np.where(valid[..., None], track.keypoints, np.nan),
        valid=valid,
        confidence=np.where(valid, track.confidence, 0.0),
    )
    recording = recording_at(t, noisy, takeover=rng.random(80) > 0.5)
    episode = np.sort(rng.uniform(0.0, recording.duration, 300))
    expected = resample(recording, t[0] + episode)
    source = RecordedSource(recording)
    for i, time in enumerate(episode):
        frame = source.frame_at(float(time))
        assert frame.pedals.takeover == expected.takeover[i]
        hand, want = frame.hand(Side.RIGHT), expected.hands[Side.RIGHT]
        if hand is None:
            assert not want.valid[i].any() and not want.wrist_valid[i]
            continue
        assert np.array_equal(hand.valid, want.valid[i]) and hand.wrist_valid == want.wrist_valid[i]
        for name in ("keypoints", "confidence", "wrist_pos", "wrist_quat"):
            got, ref = getattr(hand, name), getattr(want, name)[i]
            assert np.array_equal(np.isnan(got), np.isnan(ref))
            assert np.nanmax(np.abs(got - ref), initial=0.0) <= 1e-15


def test_one_pair_slerp_equals_the_array_slerp() -> None:
    """slerp_one (RecordedSource's per-tick path) returns slerp's quaternion to 4e-16 on
    2000 random pairs: separations from 1e-9 rad to pi, both signs of the dot product,
    fractions 0 and 1 included. The two are the same formulas on Python floats and on
    numpy arrays; numpy's vectorised sin/atan2 may differ from libm's in the last bit on
    some CPUs, so equality is to a few ulps, not bit for bit."""
    rng = np.random.default_rng(7)
    for k in range(2000):
        a = rng.normal(size=4)
        a /= np.linalg.norm(a)
        b = a + rng.normal(size=4) * 10.0 ** rng.uniform(-9.0, 0.5)
        b /= np.linalg.norm(b) * (-1.0 if k % 3 == 0 else 1.0)
        fraction = (0.0, 1.0)[k] if k < 2 else float(rng.uniform())
        want = slerp(a[None], b[None], np.array([fraction]))[0]
        np.testing.assert_allclose(slerp_one(a, b, fraction), want, rtol=0.0, atol=4e-16)
