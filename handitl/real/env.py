"""``RealBimanualEnv``: the sim env's interface on hardware (or on sim as hardware).

It *is* a :class:`~handitl.envs.BimanualEnv` whose physics step is replaced by a round
trip to the robot server: the same scene is built and compiled, but serves as a
*mirror* of the measured robot (and of the objects, from a :class:`PerceptionSource`).
So observations, action decoding, arm IK, the task's state, reward and stages, and the
``info`` keys are the sim env's own code, not a copy; the InterventionWrapper wraps it
unchanged. Each ``step``:

1. decodes the action and computes joint targets on the mirror (IK for pose actions),
   as the sim env does;
2. sends them through the :class:`~handitl.real.safety.SafetyFilter` to the server and
   waits for the state after the next robot tick;
3. writes the measured joints and perceived objects into the mirror (``mj_forward``),
   then the task scores that state.

Safety outcomes that stop an episode raise: :class:`StaleStateError` (the robot's tick
stopped advancing; the robot was told to hold) and :class:`EStopError` (latched via
:meth:`estop` or the e-stop pedal). What the filter did each step is in
:attr:`last_safety` (not in ``info``, whose keys equal the sim env's).

The mirror's clock ``data.time`` is the robot's time since reset. Contacts in the mirror
come from geometry only (no forces are measured), so stages that need contact forces are
as good as the perceived poses.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import mujoco
import numpy as np

from handitl.assets.hand_description import SIDES
from handitl.envs.bimanual_env import BimanualEnv, EnvConfig
from handitl.envs.errors import ConfigError
from handitl.envs.tasks.base import Task
from handitl.real.client import RobotClient
from handitl.real.drivers.base import Pedal
from handitl.real.perception import NoPerception, PerceptionSource, ServerPerception
from handitl.real.protocol import RobotSnapshot
from handitl.real.safety import (
    ArmKinematics,
    EStopError,
    SafeCommand,
    SafetyConfig,
    SafetyFilter,
    StaleStateError,
    StaleStateMonitor,
)


@dataclasses.dataclass(frozen=True)
class RealEnvConfig:
    """How the real env reaches the robot (units: s)."""

    endpoint: str = "tcp://127.0.0.1:5555"
    """Robot server endpoint."""
    link_timeout: float = 1.0
    """No reply from the server for this long: the link is lost (DriverError)."""
    safety: SafetyConfig = SafetyConfig()
    """Limits of every command; its control_dt is replaced by the env's."""
    reset_robot: bool = True
    """Ask the server to reset (a sim backend re-places objects; hardware holds)."""


class RealBimanualEnv(BimanualEnv):
    """See the module docstring.

    Args:
        task: the task (the same class as in simulation).
        config: env settings (action mode, hand, control_dt; must match the server's).
        real: link and safety settings.
        perception: object states (default: those the server publishes).
        client: an already built client (tests); by default one is made and connected.
        pedal: an optional e-stop / mode pedal polled each step.
        clock: monotonic clock (s), replaceable in tests.
    """

    def __init__(self, task: Task, config: EnvConfig | None = None, real: RealEnvConfig | None = None,
                 perception: PerceptionSource | None = None, client: RobotClient | None = None,
                 pedal: Pedal | None = None, render_mode: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        super().__init__(task, config, render_mode=render_mode)
        self.real = real or RealEnvConfig()
        self.perception = perception if perception is not None else ServerPerception()
        self.pedal = pedal
        self._clock = clock
        safety = dataclasses.replace(self.real.safety, control_dt=self.config.control_dt)
        hands = [self.robot.hands[s] for s in SIDES]
        lower, upper = np.stack([h.q_lower for h in hands]), np.stack([h.q_upper for h in hands])
        self.safety = SafetyFilter(safety, ArmKinematics(self.model, self.robot), lower, upper)
        self.stale = StaleStateMonitor(safety.state_timeout, clock=clock)
        self.last_safety: SafeCommand | None = None
        self.client = client or RobotClient(self.real.endpoint, self.real.link_timeout)
        if not self.client.info:
            self.client.connect()
        self._check_server(self.client.info)
        self._snapshot: RobotSnapshot | None = None
        self._received = -np.inf
        self._t0 = 0.0

    # --- gymnasium API --------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
        super().reset(seed=seed, options=options)  # mirror: home pose, task placement and goals
        self._poll_pedal()
        if self.safety.estop.latched:
            raise EStopError(f"e-stop latched ({self.safety.estop.reason}); call clear_estop()")
        snapshot = self.client.reset(seed) if self.real.reset_robot else self.client.hold()
        self._t0 = snapshot.t
        self.stale.reset()
        self.perception.reset()
        self._sync(snapshot)
        self.task.update(self.model, self.data, reset=True)
        status = self.task.evaluate(self.model, self.data)
        return self._observation(), self._info({}, status, clipped=False)

    def close(self) -> None:
        self.client.close()  # the server holds; never torque-off
        super().close()

    # --- safety API ---------------------------------------------------------------------------

    def estop(self, reason: str = "api") -> None:
        """Latch the e-stop here and on the server (the robot holds)."""
        self.safety.estop.trigger(reason)
        self.client.estop(reason)

    def clear_estop(self) -> None:
        """Clear both latches (refused while the e-stop pedal is pressed)."""
        self.safety.estop.reset()
        self.client.clear_estop()

    # --- the hardware round trip that replaces the physics step -----------------------------------

    def _advance_physics(self) -> None:
        self._poll_pedal()
        if self.safety.estop.latched:
            self.client.estop(self.safety.estop.reason or "api")
            raise EStopError(f"e-stop latched ({self.safety.estop.reason}); the robot holds")
        measured = self._fresh_state()
        ix, n = self._index, self.robot.hands[SIDES[0]].num_joints
        arm_target = self.data.ctrl[ix.arm_actuators].reshape(2, 7)
        hand_target = self.data.ctrl[ix.hand_actuators].reshape(2, n)
        safe = self.safety.filter(measured.arm_q, arm_target, measured.hand_q, hand_target)
        self.last_safety = safe
        self._sync(self.client.command(safe.arm_q, safe.hand_q))

    def _fresh_state(self) -> RobotSnapshot:
        """The measured state, refreshed if older than the stale limit (a slow policy)."""
        assert self._snapshot is not None, "reset() first"
        if self._clock() - self._received > self.stale.timeout:
            self._sync(self.client.heartbeat())
        return self._snapshot

    def _sync(self, snapshot: RobotSnapshot) -> None:
        """Write a measured state into the mirror; hold and raise if it is stale."""
        self._received = self._clock()
        if self.stale.stale(self._received, seq=snapshot.tick) and not snapshot.held:
            self.client.hold()
            raise StaleStateError(f"robot tick stuck at {snapshot.tick} for > {self.stale.timeout} s; "
                                  "the robot was told to hold")  # fmt: skip
        self._snapshot = snapshot
        d, ix = self.data, self._index
        d.qpos[ix.arm_qpos] = snapshot.arm_q
        d.qvel[ix.dof[:, : ix.n_arm]] = snapshot.arm_dq
        d.qpos[ix.qpos[:, ix.n_arm :]] = snapshot.hand_q
        d.qvel[ix.dof[:, ix.n_arm :]] = snapshot.hand_dq
        for name, value in self.perception.read(snapshot.t - self._t0, snapshot).items():
            adr = self.model.joint(name).qposadr[0]
            d.qpos[adr : adr + len(value)] = value
        d.time = snapshot.t - self._t0
        mujoco.mj_forward(self.model, d)

    def _poll_pedal(self) -> None:
        if self.pedal is not None:
            self.safety.estop.poll(self.pedal.read_state())

    def _check_server(self, info: dict[str, Any]) -> None:
        n = self.robot.hands[SIDES[0]].num_joints
        if info.get("hand_joints") != n:
            raise ConfigError(f"robot server has {info.get('hand_joints')} hand joints, env hand has {n}")
        if abs(float(info.get("control_dt", -1)) - self.config.control_dt) > 1e-9:
            raise ConfigError(f"robot server ticks every {info.get('control_dt')} s, env control_dt is "
                              f"{self.config.control_dt} s")  # fmt: skip


def make_real_env(task: str, endpoint: str = RealEnvConfig.endpoint, perception: str = "server",
                  config: EnvConfig | None = None, **config_overrides: Any) -> RealBimanualEnv:  # fmt: skip
    """The real env of a registered task (the ``HandITL-Real/<Task>-v0`` entry point).

    ``perception``: ``"server"`` (objects published by the robot server) or ``"none"``.
    ``config_overrides`` replace EnvConfig fields as in :func:`handitl.envs.make_env`.
    """
    from handitl.envs.registry import task_entry

    config = dataclasses.replace(config or EnvConfig(), **config_overrides)
    sources = {"server": ServerPerception, "none": NoPerception}
    if perception not in sources:
        raise ConfigError(f"perception {perception!r} not in {sorted(sources)}")
    return RealBimanualEnv(task_entry(task).factory(), config, RealEnvConfig(endpoint=endpoint),
                           perception=sources[perception]())  # fmt: skip
