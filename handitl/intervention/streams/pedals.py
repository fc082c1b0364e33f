"""Pedals: where the operator's takeover / copilot switches come from.

A :class:`PedalSource` is read once per control tick; :class:`WithPedals` puts its state
into the frames of any :class:`~.source.HumanSource` (e.g. a recorded or live hand stream
whose own pedal bits are unused). Implementations:

* :class:`KeyboardPedals`: keys in a terminal. A terminal reports key presses, not
  releases, so each key *toggles* its pedal ('t' takeover, 'c' copilot) and space
  releases both.
* :class:`EvdevPedals`: a Linux input device, e.g. a USB foot switch that types keys.
  Pedals are *held* (pressed while the foot is down) unless ``toggle=True``.
* :class:`FakePedals`: a scripted schedule of states over time, for tests.
"""

from __future__ import annotations

import atexit
import bisect
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from handitl.intervention.streams.frame import HumanFrame, PedalState
from handitl.intervention.streams.source import HumanSource, SourceStatus, StreamError

Clock = Callable[[], float]


@runtime_checkable
class PedalSource(Protocol):
    """The operator's pedals, read when needed (no queue of past events)."""

    def read(self) -> PedalState:
        """Current state; never blocks."""

    def close(self) -> None:
        """Release the terminal or device."""


class WithPedals:
    """A :class:`HumanSource` whose frames carry ``pedals.read()`` instead of their own pedals.

    Owns both: :meth:`close` closes the source and the pedals. Status is the source's.
    """

    def __init__(self, source: HumanSource, pedals: PedalSource) -> None:
        self.source = source
        self.pedals = pedals

    def reset(self, seed: int | None = None) -> None:
        self.source.reset(seed)

    def frame_at(self, t: float) -> HumanFrame:
        frame = self.source.frame_at(t)
        return dataclasses.replace(frame, pedals=self.pedals.read())

    def status(self) -> SourceStatus:
        return self.source.status()

    def close(self) -> None:
        try:
            self.source.close()
        finally:
            self.pedals.close()

    def __enter__(self) -> WithPedals:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakePedals:
    """Pedal states scripted over time.

    Args:
        schedule: ``(time, state)`` pairs with increasing times (s since the start): the
            state holds from its time until the next entry's. Before the first entry
            both pedals are released.
        clock: s; the start is ``clock()`` at construction or at :meth:`restart`.
    """

    def __init__(self, schedule: Sequence[tuple[float, PedalState]], clock: Clock = time.monotonic) -> None:
        times = [float(t) for t, _ in schedule]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError(f"schedule times must be strictly increasing, got {times}")
        self._times = times
        self._states = [state for _, state in schedule]
        self._clock = clock
        self._start = clock()

    @classmethod
    def presses(cls, takeover: Sequence[tuple[float, float]] = (),
                copilot: Sequence[tuple[float, float]] = (), clock: Clock = time.monotonic) -> FakePedals:
        """Pedals pressed during the given ``[start, end)`` intervals (s since the start)."""
        edges = sorted({t for interval in (*takeover, *copilot) for t in interval})

        def pressed(intervals: Sequence[tuple[float, float]], t: float) -> bool:
            return any(a <= t < b for a, b in intervals)

        states = [PedalState(takeover=pressed(takeover, t), copilot=pressed(copilot, t)) for t in edges]
        return cls(list(zip(edges, states)), clock=clock)

    def restart(self) -> None:
        """Start the schedule again from now."""
        self._start = self._clock()

    def read(self) -> PedalState:
        k = bisect.bisect_right(self._times, self._clock() - self._start)
        return self._states[k - 1] if k else PedalState()

    def close(self) -> None:
        pass


class KeyboardPedals:
    """Pedals toggled by keys typed in a terminal (POSIX), read without blocking.

    The terminal is put in cbreak mode (keys arrive without Enter and are not echoed;
    Ctrl-C still interrupts) and restored by :meth:`close` or at interpreter exit.

    Args:
        fd: file descriptor to read; standard input by default. A non-terminal (a pipe)
            is read as is.
        takeover_key, copilot_key: keys toggling each pedal (case-insensitive).
        release_key: key releasing both pedals.
    """

    _MAX_READS = 64
    """Chunks drained per :meth:`read`, so a flood of input cannot stall a control tick."""

    def __init__(self, fd: int | None = None, *, takeover_key: str = "t", copilot_key: str = "c",
                 release_key: str = " ") -> None:  # fmt: skip
        try:
            import termios
            import tty
        except ImportError as exc:  # Windows
            raise StreamError("KeyboardPedals needs a POSIX terminal (termios)") from exc
        self._fd = sys.stdin.fileno() if fd is None else fd
        self._keys = {takeover_key.lower(): "takeover", copilot_key.lower(): "copilot",
                      release_key.lower(): "release"}  # fmt: skip
        if len(self._keys) != 3:
            raise ValueError("takeover, copilot and release keys must differ")
        self._state = PedalState()
        self._eof = False
        self._saved: list[Any] | None = None
        if os.isatty(self._fd):
            self._saved = termios.tcgetattr(self._fd)
            tty.setcbreak(self._fd)
            # A crash must not leave the user's shell without echo.
            atexit.register(self._restore)

    def read(self) -> PedalState:
        import select

        for _ in range(self._MAX_READS):
            if self._eof or not select.select([self._fd], [], [], 0.0)[0]:
                break
            data = os.read(self._fd, 1024)
            if not data:  # end of input (closed pipe): keep the last state
                self._eof = True
                break
            for char in data.decode("utf-8", errors="ignore"):
                self._apply(self._keys.get(char.lower()))
        return self._state

    def _apply(self, action: str | None) -> None:
        if action == "takeover":
            self._state = dataclasses.replace(self._state, takeover=not self._state.takeover)
        elif action == "copilot":
            self._state = dataclasses.replace(self._state, copilot=not self._state.copilot)
        elif action == "release":
            self._state = PedalState()

    def _restore(self) -> None:
        if self._saved is not None:
            import termios

            try:
                termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            except termios.error:  # the terminal is already gone
                pass
            self._saved = None

    def close(self) -> None:
        self._restore()
        atexit.unregister(self._restore)

    def __enter__(self) -> KeyboardPedals:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


EV_KEY = 0x01
"""Linux input event type of keys and buttons (``linux/input-event-codes.h``)."""
KEY_A, KEY_B, KEY_C = 30, 48, 46
"""Default key codes of common USB foot switches (e.g. PCsensor: pedals type a, b, c)."""


class InputDeviceLike(Protocol):
    """The part of ``evdev.InputDevice`` used here (fakes in tests implement it)."""

    def read_one(self) -> Any:
        """The next event (``.type``, ``.code``, ``.value``) or None if none is pending."""

    def close(self) -> None: ...


def _import_evdev() -> Any:
    try:
        import evdev
    except ImportError as exc:
        raise ImportError("EvdevPedals needs python-evdev (Linux): `pip install evdev`") from exc
    return evdev


def _key_code(key: int | str) -> int:
    if isinstance(key, int):
        return key
    codes = _import_evdev().ecodes.ecodes
    if key not in codes:
        raise ValueError(f"unknown key name {key!r} (expected e.g. 'KEY_A' or 'BTN_0')")
    return int(codes[key])


class EvdevPedals:
    """Foot pedals on a Linux input device (``/dev/input/event*``) through python-evdev.

    Args:
        device: a device path (opened with ``evdev.InputDevice``) or an opened device.
        takeover_codes, copilot_codes: key codes (ints or names like ``"KEY_A"``) that
            drive each pedal; a pedal is pressed while any of its keys is down.
        toggle: each press flips the pedal instead (for switches that cannot be held).
        grab: take the device exclusively, so that the pedals' keys are not also typed
            into the terminal or the desktop.

    Raises:
        ImportError: ``device`` is a path and python-evdev is missing (install hint).
        StreamError: the device cannot be opened, or disappears while reading.
    """

    _MAX_EVENTS = 1024
    """Events consumed per :meth:`read` (bounds its time under an event flood)."""

    def __init__(self, device: str | os.PathLike[str] | InputDeviceLike, *,
                 takeover_codes: Sequence[int | str] = (KEY_A,),
                 copilot_codes: Sequence[int | str] = (KEY_B,), toggle: bool = False,
                 grab: bool = True) -> None:  # fmt: skip
        self._takeover = frozenset(_key_code(k) for k in takeover_codes)
        self._copilot = frozenset(_key_code(k) for k in copilot_codes)
        if self._takeover & self._copilot:
            raise ValueError(f"key codes {sorted(self._takeover & self._copilot)} drive both pedals")
        if isinstance(device, (str, os.PathLike)):
            try:
                opened: InputDeviceLike = _import_evdev().InputDevice(os.fspath(device))
            except OSError as exc:
                raise StreamError(f"cannot open pedal device {device}: {exc}") from exc
        else:
            opened = device
        self._device = device = opened
        self._toggle = toggle
        self._grabbed = False
        # grab/ungrab/active_keys are optional: evdev devices have them, minimal fakes may not.
        if grab and hasattr(device, "grab"):
            device.grab()
            self._grabbed = True
        self._down: set[int] = set()
        if hasattr(device, "active_keys"):  # pedals already held when we start
            self._down = set(device.active_keys()) & (self._takeover | self._copilot)
        self._latched = PedalState()

    def read(self) -> PedalState:
        for _ in range(self._MAX_EVENTS):
            try:
                event = self._device.read_one()
            except OSError as exc:  # unplugged
                raise StreamError(f"pedal device lost: {exc}") from exc
            if event is None:
                break
            if event.type != EV_KEY or event.code not in self._takeover | self._copilot:
                continue
            if event.value == 0:
                self._down.discard(event.code)
            elif event.code not in self._down:  # a press (value 1); 2 is auto-repeat
                self._down.add(event.code)
                if self._toggle:
                    which = "takeover" if event.code in self._takeover else "copilot"
                    flipped = not getattr(self._latched, which)
                    self._latched = dataclasses.replace(self._latched, **{which: flipped})
        if self._toggle:
            return self._latched
        down = self._down
        return PedalState(takeover=bool(down & self._takeover), copilot=bool(down & self._copilot))

    def close(self) -> None:
        if self._grabbed:
            try:
                self._device.ungrab()  # type: ignore[attr-defined]  # grabbed, so it has ungrab
            except OSError:
                pass
            self._grabbed = False
        self._device.close()

    def __enter__(self) -> EvdevPedals:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
