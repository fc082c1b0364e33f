"""Intervention modes and what switches them (pedals in the stream, or a schedule)."""

from __future__ import annotations

import dataclasses
import enum
from typing import Protocol, runtime_checkable

from handitl.intervention.streams.frame import HumanFrame


class Mode(enum.IntEnum):
    """Who commands the robot (paper section 3.2)."""

    AUTONOMOUS = 0
    """a_exec = a_policy."""
    TAKEOVER = 1
    """Full takeover: the human's retargeted hands and anchored wrists."""
    COPILOT = 2
    """The policy leads; human wrist twists and hand motions add residuals."""


@runtime_checkable
class ModeSwitch(Protocol):
    """Decides the mode at each control tick."""

    def reset(self) -> None:
        """Forget any latched state (episode start)."""

    def mode(self, t: float, frame: HumanFrame | None) -> Mode:
        """The mode at episode time ``t`` (s) given the human frame for that tick."""


class PedalModes:
    """Modes from the frame's pedals: takeover pedal -> TAKEOVER, copilot -> COPILOT
    (takeover wins when both are down), none -> AUTONOMOUS. A missing frame releases."""

    def reset(self) -> None:
        pass

    def mode(self, t: float, frame: HumanFrame | None) -> Mode:
        if frame is None:
            return Mode.AUTONOMOUS
        if frame.pedals.takeover:
            return Mode.TAKEOVER
        if frame.pedals.copilot:
            return Mode.COPILOT
        return Mode.AUTONOMOUS


@dataclasses.dataclass(frozen=True)
class Interval:
    start: float
    """s, inclusive."""
    end: float
    """s, exclusive."""
    mode: Mode


class ScheduledModes:
    """Modes from a fixed schedule of intervals (AUTONOMOUS outside them)."""

    def __init__(self, intervals: list[Interval] | tuple[Interval, ...]) -> None:
        ordered = sorted(intervals, key=lambda i: i.start)
        for a, b in zip(ordered, ordered[1:]):
            if b.start < a.end:
                raise ValueError(f"schedule intervals overlap: {a} and {b}")
        for i in ordered:
            if not i.end > i.start:
                raise ValueError(f"empty schedule interval {i}")
        self.intervals = tuple(ordered)

    def reset(self) -> None:
        pass

    def mode(self, t: float, frame: HumanFrame | None) -> Mode:
        for interval in self.intervals:
            if interval.start <= t < interval.end:
                return interval.mode
        return Mode.AUTONOMOUS
