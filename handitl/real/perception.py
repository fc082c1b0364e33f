"""Where the real env's object state comes from.

Tasks read object poses from MuJoCo data; on hardware those poses come from a
perception system (motion capture, pose estimation, fiducials). A
:class:`PerceptionSource` returns them as *joint states* of the task's props, keyed by
the prop joint's name in the scene (e.g. ``"drill_free"``: position m + quaternion w, x,
y, z, world frame; ``"drill_trigger"``: its slide, m). The real env writes them into its
MuJoCo mirror, so the task's own state, reward and stage logic run unchanged. Joints a
source does not report keep their value (on reset: the task's nominal placement).

Sources: :class:`ServerPerception` (objects published by the robot server; a sim
backend publishes its props, a mocap bridge could do the same), :class:`ReplayPerception`
(recorded poses, for tests and offline checks), :class:`FakePerception` (fixed poses) and
:class:`NoPerception` (tasks without objects, e.g. Reach).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from handitl.real.protocol import RobotSnapshot

ObjectStates = dict[str, np.ndarray]


@runtime_checkable
class PerceptionSource(Protocol):
    def reset(self) -> None:
        """A new episode starts (episode time restarts at 0)."""

    def read(self, t: float, snapshot: RobotSnapshot) -> ObjectStates:
        """Object joint states at episode time ``t`` (s), given the robot's latest state."""


class NoPerception:
    def reset(self) -> None:
        pass

    def read(self, t: float, snapshot: RobotSnapshot) -> ObjectStates:
        return {}


class ServerPerception:
    """The objects the robot server publishes with each state."""

    def reset(self) -> None:
        pass

    def read(self, t: float, snapshot: RobotSnapshot) -> ObjectStates:
        return dict(snapshot.objects)


class FakePerception:
    """The same object states at every tick."""

    def __init__(self, objects: Mapping[str, np.ndarray]) -> None:
        self.objects = {k: np.asarray(v, dtype=np.float64) for k, v in objects.items()}

    def reset(self) -> None:
        pass

    def read(self, t: float, snapshot: RobotSnapshot) -> ObjectStates:
        return {k: v.copy() for k, v in self.objects.items()}


class ReplayPerception:
    """Recorded object states, zero-order hold: at time t, the latest frame at or before t.

    Args:
        frames: ``(t, objects)`` pairs with increasing times (s from episode start).
    """

    def __init__(self, frames: Sequence[tuple[float, Mapping[str, np.ndarray]]]) -> None:
        self._times = [float(t) for t, _ in frames]
        if any(b <= a for a, b in zip(self._times, self._times[1:])):
            raise ValueError("ReplayPerception frame times must be strictly increasing")
        self._frames = [{k: np.asarray(v, dtype=np.float64) for k, v in f.items()} for _, f in frames]

    def reset(self) -> None:
        pass

    def read(self, t: float, snapshot: RobotSnapshot) -> ObjectStates:
        k = bisect.bisect_right(self._times, t + 1e-9)
        return {} if k == 0 else {n: v.copy() for n, v in self._frames[k - 1].items()}
