"""Building blocks of simulated human motion: minimum-jerk blends, tremor and drift.

Tremor and drift are sums of sinusoids with seeded random frequencies and phases: a
narrow-band random process that can be evaluated at any time (frames are requested at
arbitrary, non-decreasing times), vectorised over time, and reproducible bit for bit.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from handitl.assets.hand_description import FINGERS
from handitl.intervention.streams.human_hand import HumanHandModel
from handitl.intervention.streams.operators.profiles import OperatorProfile

TREMOR_COMPONENTS = 4
"""Sinusoids per tremor channel: enough to look random, few enough to stay narrow-band."""
DRIFT_COMPONENTS = 3
DRIFT_BAND = (0.05, 0.4)
"""Frequency range of slow drift, Hz (postural sway of the arm)."""

TREMOR_JOINTS = np.array([1, 6, 10, 14, 18])
"""Joint carrying each digit's tremor, FINGERS order: thumb CMC flexion, finger MCP flexion
(physiological finger tremor is mostly at the MCP)."""


def min_jerk(s: np.ndarray | float) -> np.ndarray:
    """Minimum-jerk blend 10 s^3 - 15 s^4 + 6 s^5 of the phase ``s`` (clipped to [0, 1]).

    Zero velocity and acceleration at both ends (Flash & Hogan 1985), which is what makes
    reaching and grasping movements look human.
    """
    s = np.clip(s, 0.0, 1.0)
    return s**3 * (10.0 + s * (-15.0 + 6.0 * s))


@dataclasses.dataclass(frozen=True)
class SumOfSines:
    """``C`` independent channels, each a sum of ``K`` sinusoids: x_c(t) = sum a sin(2 pi f t + phi)."""

    freqs: np.ndarray
    """(C, K) frequencies, Hz."""
    phases: np.ndarray
    """(C, K) phases, rad."""
    amps: np.ndarray
    """(C, K) amplitudes (channel units)."""

    @classmethod
    def sample(cls, rng: np.random.Generator, channels: int, freqs: np.ndarray,
               rms: float) -> SumOfSines:  # fmt: skip
        """Channels with RMS ``rms`` each (over a long window), component frequencies ``freqs``
        (C, K) and uniform random phases."""
        k = freqs.shape[1]
        phases = rng.uniform(0.0, 2.0 * math.pi, (channels, k))
        # A sum of K unit sinusoids has mean square K / 2.
        amps = np.full((channels, k), rms * math.sqrt(2.0 / k))
        return cls(freqs=freqs, phases=phases, amps=amps)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """(T, C) values at times ``t`` (T,), s."""
        arg = 2.0 * math.pi * np.asarray(t, dtype=float)[:, None, None] * self.freqs + self.phases
        return (self.amps * np.sin(arg)).sum(-1)


@dataclasses.dataclass(frozen=True)
class TickNoise:
    """White noise per frame: a tracker's frame-to-frame error, ``C`` channels of RMS ``rms``.

    The value at time t is drawn from a generator seeded with (``key``, t in microseconds),
    so it can be evaluated at any time, in any order, and repeats bit for bit; frames at
    different times get independent draws.
    """

    key: int
    channels: int
    rms: float

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """(T, C) values at times ``t`` (T,), s."""
        times = np.atleast_1d(np.asarray(t, dtype=float))
        if self.rms == 0.0:
            return np.zeros((len(times), self.channels))
        return np.stack([
            np.random.default_rng((self.key, int(round(x * 1e6)))).normal(0.0, self.rms, self.channels)
            for x in times
        ])


@dataclasses.dataclass(frozen=True)
class HandNoise:
    """Tremor and drift of one hand of one operator (wrist in the operator world, fingers in
    joint space)."""

    wrist_tremor: SumOfSines
    """3 channels (x, y, z), m."""
    wrist_drift: SumOfSines
    """3 channels, m."""
    finger_tremor: SumOfSines
    """5 channels (FINGERS order), unit RMS: scaled to the fingertip tremor by the lever arm."""
    finger_drift: SumOfSines
    """21 channels, rad."""
    tremor_rms: float
    """Fingertip tremor RMS, m."""
    tracking: TickNoise
    """66 channels (the wrist, then the 21 keypoints, x y z each), m: the tracker's noise,
    added to what is emitted (not to the hand's motion)."""

    @classmethod
    def sample(cls, rng: np.random.Generator, profile: OperatorProfile) -> HandNoise:
        """Draw one hand's noise; the same ``rng`` state gives the same noise."""

        def tremor_freqs(channels: int) -> np.ndarray:
            f0, bw = profile.tremor_frequency, profile.tremor_bandwidth
            f = rng.normal(f0, bw, (channels, TREMOR_COMPONENTS))
            return np.clip(f, f0 - 2.0 * bw, f0 + 2.0 * bw)

        def drift_freqs(channels: int) -> np.ndarray:
            return rng.uniform(*DRIFT_BAND, (channels, DRIFT_COMPONENTS))

        per_axis = 1.0 / math.sqrt(3.0)  # the 3D norm carries the profile's RMS
        # A spawned child keys the tracker noise without advancing ``rng`` (draws after this
        # one, e.g. a takeover schedule, stay what they were).
        key = int(rng.spawn(1)[0].integers(2**62))
        return cls(
            wrist_tremor=SumOfSines.sample(rng, 3, tremor_freqs(3), profile.wrist_tremor_rms * per_axis),
            wrist_drift=SumOfSines.sample(rng, 3, drift_freqs(3), profile.drift_rms * per_axis),
            finger_tremor=SumOfSines.sample(rng, len(FINGERS), tremor_freqs(len(FINGERS)), 1.0),
            finger_drift=SumOfSines.sample(rng, 21, drift_freqs(21), profile.finger_drift_rms),
            tremor_rms=profile.tremor_rms,
            tracking=TickNoise(key, 3 + 21 * 3, profile.tracking_noise_rms),
        )

    def tracked(self, t: np.ndarray, wrist_pos: np.ndarray,
                keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(T, 3) wrist positions and (T, 21, 3) keypoints at times ``t`` (T,) as the tracker
        reports them (with its per-frame noise)."""
        noise = self.tracking(t)
        return wrist_pos + noise[:, :3], keypoints + noise[:, 3:].reshape(-1, 21, 3)

    def wrist_offset(self, t: np.ndarray) -> np.ndarray:
        """(T, 3) wrist position offset (tremor + drift) at times ``t`` (T,), m."""
        return self.wrist_tremor(t) + self.wrist_drift(t)

    def joint_offset(self, t: np.ndarray, q: np.ndarray, hand: HumanHandModel) -> np.ndarray:
        """(T, 21) joint-angle offset at times ``t`` (T,) around poses ``q`` (T, 21), rad.

        Each digit trembles about one flexion joint with the angle that moves its tip by
        ``tremor_rms`` (RMS): the angle is divided by the tip's lever arm about that joint
        at the current pose, so fingertip tremor is the same in every gesture.
        """
        offset = self.finger_drift(t)
        if self.tremor_rms > 0.0:
            jac = hand.fingertip_jacobian(q).jacobian  # (T, 5, 3, 21)
            cols = np.stack([jac[:, d, :, j] for d, j in enumerate(TREMOR_JOINTS)], axis=1)
            lever = np.linalg.norm(cols, axis=-1)  # (T, 5), m/rad
            offset[:, TREMOR_JOINTS] += self.tremor_rms * self.finger_tremor(t) / np.maximum(lever, 0.01)
        return offset
