"""Safety between a policy and real motors.

Every command sent to hardware passes :class:`SafetyFilter`, which only ever makes a
command *more* conservative: it clips targets into the joint limits, limits the
per-tick joint and palm (end-effector) displacement, refuses targets that leave the
workspace box or bring the two arms closer than a minimum distance, and, while the
latched :class:`EStop` is set, replaces everything by a hold. Two monitors guard time:
:class:`CommandWatchdog` (no new command for too long: the owner of the fast loop
switches to hold) and :class:`StaleStateMonitor` (the measured state stopped updating:
nothing computed from it may move the robot).

"Hold" always means: target = the *measured* pose, zero velocity, controllers on.
Torque-off is never used to stop, because an FR3 without torque drops what it carries.

Arrays have the side axis first (left, right): arm (2, 7) rad, hand (2, n) rad.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Callable

import mujoco
import numpy as np

from handitl.assets import fr3_constants as fr3c
from handitl.assets.hand_description import SIDES
from handitl.envs.robot import RobotBindings
from handitl.real.drivers.base import PedalReading

Clock = Callable[[], float]


class SafetyError(RuntimeError):
    """A safety condition stops the episode (e-stop latched, state stale)."""


class StaleStateError(SafetyError):
    """The robot's measured state stopped updating; the robot was told to hold."""


class EStopError(SafetyError):
    """The e-stop is latched; reset it explicitly (pedal released) before moving again."""


class SafetyEvent(str, enum.Enum):
    """What the filter or a monitor did; reported per tick so logs show why a robot held."""

    CLIPPED = "clipped"
    JOINT_STEP = "joint_step"
    EE_STEP = "ee_step"
    WORKSPACE = "workspace"
    ARM_DISTANCE = "arm_distance"
    ESTOP = "estop"
    COMMAND_TIMEOUT = "command_timeout"
    STALE_STATE = "stale_state"


@dataclasses.dataclass(frozen=True)
class SafetyConfig:
    """Limits applied to every hardware command (units: m, rad, s)."""

    control_dt: float = 0.02
    """Period of the commands the filter sees (the env's control tick)."""
    joint_margin: float = 0.02
    """Arm targets stay this far inside the FR3 joint limits."""
    velocity_fraction: float = 0.5
    """Per-tick joint step limit as a fraction of the FR3 velocity limits (x control_dt)."""
    max_ee_step: float = 0.02
    """Largest palm displacement per tick (0.02 m at 50 Hz = 1 m/s)."""
    workspace_low: tuple[float, float, float] = (-0.15, -0.75, 0.01)
    """Lower corner of the box the palms must stay in, world frame (table top z = 0)."""
    workspace_high: tuple[float, float, float] = (0.95, 0.75, 0.85)
    min_arm_distance: float = 0.10
    """Smallest allowed distance between any two check points of the two arms."""
    command_timeout: float = 0.1
    """No new command for this long: hold (5 ticks at 50 Hz)."""
    state_timeout: float = 0.1
    """Measured state older than this is stale."""

    def max_joint_step(self) -> np.ndarray:
        """(7,) rad per tick."""
        return np.asarray(fr3c.VELOCITY_LIMIT) * self.velocity_fraction * self.control_dt


@dataclasses.dataclass(frozen=True)
class SafeCommand:
    """The filtered command and what the filter did to it."""

    arm_q: np.ndarray
    """(2, 7) arm joint targets, rad."""
    hand_q: np.ndarray
    """(2, n) hand joint targets, rad."""
    events: frozenset[SafetyEvent]
    held: tuple[bool, bool]
    """Per side (left, right): the arm was told to hold instead of moving."""


class ArmKinematics:
    """Forward kinematics of both arms on a private copy of the env's MuJoCo model.

    Check points per arm: the origins of joints 3-7 (elbow to wrist), the palm and the
    fingertips. The arm-distance check uses point-to-point distances, which is coarser
    than a link-geometry distance: set ``min_arm_distance`` with the link radii in mind
    (FR3 links are ~0.06 m in radius).
    """

    def __init__(self, model: mujoco.MjModel, robot: RobotBindings) -> None:
        self._model = model
        self._data = mujoco.MjData(model)
        self._qpos = np.stack([robot.arms[s].qpos_idx for s in SIDES])
        arm_joint_ids = [
            [int(np.flatnonzero(model.jnt_qposadr == a)[0]) for a in robot.arms[s].qpos_idx] for s in SIDES
        ]
        self._bodies = np.array([[model.jnt_bodyid[j] for j in ids[2:]] for ids in arm_joint_ids])
        self._palm = np.array([robot.hands[s].palm_site for s in SIDES])
        self._tips = np.stack([robot.hands[s].fingertip_sites for s in SIDES])

    def points(self, arm_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Palms (2, 3) and all check points (2, k, 3), world frame, m, at joint angles
        ``arm_q`` (2, 7); hand joints are taken at zero (open hand)."""
        d = self._data
        d.qpos[self._qpos] = arm_q
        mujoco.mj_kinematics(self._model, d)
        palms = d.site_xpos[self._palm].copy()
        pts = np.concatenate([d.xpos[self._bodies], palms[:, None], d.site_xpos[self._tips]], axis=1)
        return palms, pts


def _box_distance(p: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Distance (m) from point p to the box; 0 inside."""
    return float(np.linalg.norm(np.maximum(low - p, 0.0) + np.maximum(p - high, 0.0)))


def _min_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min())


class EStop:
    """A latched emergency stop: set by :meth:`trigger` (API) or a pressed e-stop pedal
    (:meth:`poll`), cleared only by :meth:`reset` while the pedal is up.

    Latching matters: a bouncing pedal or a dropped packet must not let the robot move
    again by itself; a person decides when it is safe.
    """

    def __init__(self) -> None:
        self._reason: str | None = None
        self._pedal_down = False

    @property
    def latched(self) -> bool:
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        return self._reason

    def trigger(self, reason: str = "api") -> None:
        if self._reason is None:
            self._reason = reason

    def poll(self, reading: PedalReading) -> bool:
        """Latch if the e-stop pedal is down; returns :attr:`latched`."""
        self._pedal_down = reading.estop
        if reading.estop:
            self.trigger("pedal")
        return self.latched

    def reset(self) -> None:
        """Clear the latch; refused while the e-stop pedal is still pressed."""
        if self._pedal_down:
            raise EStopError("release the e-stop pedal before resetting the e-stop")
        self._reason = None


class CommandWatchdog:
    """Trips when no command arrived for ``timeout`` s. Runs in the loop that owns the
    motors (robot server, driver thread), because a stalled client cannot stop itself."""

    def __init__(self, timeout: float, clock: Clock = time.monotonic) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.timeout = timeout
        self._clock = clock
        self._last: float | None = None

    def feed(self) -> None:
        """A fresh command arrived."""
        self._last = self._clock()

    def expired(self) -> bool:
        """No command for longer than the timeout (or none yet)."""
        return self._last is None or self._clock() - self._last > self.timeout

    def age(self) -> float:
        return float("inf") if self._last is None else self._clock() - self._last


class StaleStateMonitor:
    """Flags a measured state that is too old, or whose sequence number stopped
    advancing for longer than ``timeout`` (a frozen driver that keeps re-sending its
    last packet with a fresh receive time looks alive by timestamp alone)."""

    def __init__(self, timeout: float, clock: Clock = time.monotonic) -> None:
        self.timeout = timeout
        self._clock = clock
        self._seq: int | None = None
        self._seq_changed = clock()

    def reset(self) -> None:
        self._seq = None
        self._seq_changed = self._clock()

    def stale(self, measured_at: float, seq: int | None = None) -> bool:
        """True if the state measured at ``measured_at`` (same clock) is stale."""
        now = self._clock()
        if seq is not None and seq != self._seq:
            self._seq, self._seq_changed = seq, now
        frozen = seq is not None and now - self._seq_changed > self.timeout
        return frozen or now - measured_at > self.timeout


class SafetyFilter:
    """Makes joint targets safe to send; see the module docstring for the checks.

    Args:
        config: the limits.
        kinematics: forward kinematics of both arms (palm and check points).
        hand_lower, hand_upper: (2, n) hand joint limits, rad.
        estop: the shared latch (also read by the env and the server).
    """

    def __init__(self, config: SafetyConfig, kinematics: ArmKinematics, hand_lower: np.ndarray,
                 hand_upper: np.ndarray, estop: EStop | None = None) -> None:  # fmt: skip
        self.config = config
        self.kinematics = kinematics
        self.estop = estop or EStop()
        self._arm_lower = np.asarray(fr3c.JOINT_LOWER) + config.joint_margin
        self._arm_upper = np.asarray(fr3c.JOINT_UPPER) - config.joint_margin
        self._hand_lower, self._hand_upper = np.asarray(hand_lower), np.asarray(hand_upper)
        self._max_step = config.max_joint_step()
        self._box = (np.asarray(config.workspace_low), np.asarray(config.workspace_high))

    def filter(self, arm_meas: np.ndarray, arm_target: np.ndarray, hand_meas: np.ndarray,
               hand_target: np.ndarray) -> SafeCommand:  # fmt: skip
        """Safe targets from measured joint angles and proposed targets (see class doc)."""
        arm_meas = np.asarray(arm_meas, dtype=np.float64)
        if self.estop.latched:
            return SafeCommand(arm_meas.copy(), np.array(hand_meas, dtype=np.float64),
                               frozenset({SafetyEvent.ESTOP}), (True, True))  # fmt: skip
        events: set[SafetyEvent] = set()
        arm = self._clip(np.asarray(arm_target, dtype=np.float64), self._arm_lower, self._arm_upper, events)
        hand = self._clip(np.asarray(hand_target, dtype=np.float64), self._hand_lower, self._hand_upper,
                          events)  # fmt: skip
        step = np.clip(arm - arm_meas, -self._max_step, self._max_step)
        if np.abs(step - (arm - arm_meas)).max() > 1e-12:
            events.add(SafetyEvent.JOINT_STEP)
        palms_now, pts_now = self.kinematics.points(arm_meas)
        step = self._limit_ee_step(arm_meas, step, palms_now, events)
        arm = arm_meas + step
        palms, pts = self.kinematics.points(arm)
        held = [False, False]
        low, high = self._box
        for k in range(2):
            d_new, d_now = _box_distance(palms[k], low, high), _box_distance(palms_now[k], low, high)
            if d_new > 1e-9 and d_new >= d_now - 1e-9:
                held[k] = True
                events.add(SafetyEvent.WORKSPACE)
        gap_new, gap_now = _min_distance(pts[0], pts[1]), _min_distance(pts_now[0], pts_now[1])
        if gap_new < self.config.min_arm_distance and gap_new <= gap_now:
            held = [True, True]
            events.add(SafetyEvent.ARM_DISTANCE)
        for k in range(2):
            if held[k]:
                arm[k] = arm_meas[k]
        return SafeCommand(arm, hand, frozenset(events), (held[0], held[1]))

    def _clip(
        self, target: np.ndarray, low: np.ndarray, high: np.ndarray, events: set[SafetyEvent]
    ) -> np.ndarray:
        clipped = np.clip(target, low, high)
        if np.abs(clipped - target).max() > 1e-9:
            events.add(SafetyEvent.CLIPPED)
        return clipped

    def _limit_ee_step(self, arm_meas: np.ndarray, step: np.ndarray, palms_now: np.ndarray,
                       events: set[SafetyEvent]) -> np.ndarray:  # fmt: skip
        """Shrink each arm's joint step until its palm moves at most ``max_ee_step``.

        The palm displacement is nearly linear in a small joint step, so scaling by
        limit / displacement lands within a few percent; a few rounds make it exact
        enough, and the loop ends after 5 rounds whatever happens.
        """
        limit = self.config.max_ee_step
        step = step.copy()
        for _ in range(5):
            palms, _ = self.kinematics.points(arm_meas + step)
            moved = np.linalg.norm(palms - palms_now, axis=1)
            over = moved > limit * (1 + 1e-6)
            if not over.any():
                break
            events.add(SafetyEvent.EE_STEP)
            step[over] *= (0.999 * limit / moved[over])[:, None]
        return step
