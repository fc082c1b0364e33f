"""One interface for every source of human frames: recorded, scripted, live.

The intervention wrapper asks a source for the frame at each control tick. Time ``t``
is in seconds since the source's last ``reset`` (the episode clock), so a recorded
stream, a simulated operator and a network stream are interchangeable.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np

from handitl.assets.hand_description import Side
from handitl.intervention.streams.frame import HumanFrame


class StreamError(RuntimeError):
    """A source cannot deliver frames (ended, closed, or its input is broken)."""


@runtime_checkable
class HumanSource(Protocol):
    """Delivers :class:`HumanFrame` s on the episode clock."""

    def reset(self, seed: int | None = None) -> None:
        """Rewind to t = 0 (recordings), restart the script (operators) or resynchronise
        the clock (live); ``seed`` drives any randomness (tremor, schedules)."""

    def frame_at(self, t: float) -> HumanFrame:
        """The frame for episode time ``t`` (s); calls come with non-decreasing ``t``.

        A recording past its end keeps returning its last frame with ``ended`` set in
        :meth:`status`; a live source with no fresh frame returns the last one it has
        and reports ``stale``. Dropouts are frames whose keypoints/wrists are invalid.
        """

    def status(self) -> SourceStatus:
        """Health of the stream after the last :meth:`frame_at`."""

    def close(self) -> None:
        """Release files, sockets and devices."""


@dataclasses.dataclass(frozen=True)
class SourceStatus:
    """What downstream code needs to decide whether to trust the last frame."""

    stale: bool = False
    """No fresh frame for longer than the source's timeout (live): downstream must hold."""
    ended: bool = False
    """A finite source (recording, script) is past its last frame."""
    age: float = 0.0
    """Seconds between the requested time and the newest data behind the frame."""


@dataclasses.dataclass(frozen=True)
class RobotFeedback:
    """What a closed-loop (intent-following) operator sees of the robot.

    Arrays are in the robot world frame (m, quaternion w, x, y, z) for the given side.
    """

    side: Side
    palm_pos: np.ndarray
    palm_quat: np.ndarray
    fingertips_in_palm: np.ndarray
    """(f, 3) fingertip positions in the robot palm frame, FINGERS order (NaN if absent)."""
    hand_qpos: np.ndarray
    fingertip_contact: np.ndarray | None = None
    """(5,) bool, FINGERS order: the fingertip rests on a movable object (an operator sees a
    finger touch what it grasps); None where unknown."""
    palm_command: tuple[np.ndarray, np.ndarray] | None = None
    """The commanded palm pose (position (3,), quaternion (4,)), robot world: where the arm
    is told to go, which contact may stop it short of; None where unknown."""


@runtime_checkable
class ClosedLoopSource(HumanSource, Protocol):
    """A source that reacts to the robot (a simulated operator following an intent)."""

    def observe(self, t: float, feedback: dict[Side, RobotFeedback]) -> None:
        """Show the operator the robot's state at time ``t`` (before ``frame_at(t)``)."""
