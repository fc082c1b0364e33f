"""Pedal sources (scripted, terminal keys on a pseudo-terminal, fake evdev device) and
merging pedals into a human stream."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest
from numpy.testing import assert_array_equal

from handitl.assets.hand_description import Side
from handitl.intervention.streams import pedals as pedals_module
from handitl.intervention.streams.frame import HumanFrame, PedalState
from handitl.intervention.streams.pedals import (
    EvdevPedals,
    FakePedals,
    KeyboardPedals,
    PedalSource,
    WithPedals,
)
from handitl.intervention.streams.render import WavingHands
from handitl.intervention.streams.source import HumanSource, SourceStatus, StreamError

termios = pytest.importorskip("termios", reason="POSIX terminals only")
EV_KEY = pedals_module.EV_KEY
KEY_A, KEY_B, KEY_C = pedals_module.KEY_A, pedals_module.KEY_B, pedals_module.KEY_C

NONE = PedalState()
TAKEOVER = PedalState(takeover=True)
COPILOT = PedalState(copilot=True)
BOTH = PedalState(takeover=True, copilot=True)


class ManualClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- FakePedals --------------------------------------------------------------------------------


def test_fake_pedals_follow_the_schedule() -> None:
    """The state holds from each entry's time to the next; released before the first."""
    clock = ManualClock(5.0)
    pedals = FakePedals([(1.0, TAKEOVER), (2.0, BOTH), (3.0, NONE)], clock=clock)
    assert isinstance(pedals, PedalSource)
    expected = {0.0: NONE, 0.999: NONE, 1.0: TAKEOVER, 1.5: TAKEOVER, 2.0: BOTH, 2.9: BOTH, 3.0: NONE,
                99.0: NONE}  # fmt: skip
    for t, state in expected.items():
        clock.now = 5.0 + t
        assert pedals.read() == state, t
    clock.now = 10.0
    pedals.restart()
    clock.now = 11.5
    assert pedals.read() == TAKEOVER


def test_fake_pedals_presses_and_validation() -> None:
    """presses() builds the schedule from [start, end) intervals; times must increase."""
    clock = ManualClock()
    pedals = FakePedals.presses(takeover=[(1.0, 2.0)], copilot=[(1.5, 3.0)], clock=clock)
    for t, state in {0.5: NONE, 1.0: TAKEOVER, 1.7: BOTH, 2.0: COPILOT, 3.0: NONE}.items():
        clock.now = t
        assert pedals.read() == state, t
    with pytest.raises(ValueError, match="increasing"):
        FakePedals([(1.0, TAKEOVER), (1.0, NONE)])


# -- KeyboardPedals ----------------------------------------------------------------------------


def _read_until(pedals: KeyboardPedals, want: PedalState, timeout: float = 2.0) -> PedalState:
    """Poll read() (never blocks) until ``want`` or the timeout: pty delivery is asynchronous."""
    deadline = time.monotonic() + timeout
    state = pedals.read()
    while state != want and time.monotonic() < deadline:
        time.sleep(0.001)
        state = pedals.read()
    return state


@pytest.fixture
def pty():
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def test_keyboard_pedals_toggle_on_a_pseudo_terminal(pty: tuple[int, int]) -> None:
    """'t'/'c' toggle without Enter (cbreak), space releases both, other keys are ignored,
    and the terminal's settings are restored on close."""
    master, slave = pty
    original = termios.tcgetattr(slave)
    with KeyboardPedals(fd=slave) as pedals:
        lflag = termios.tcgetattr(slave)[3]
        assert not lflag & termios.ICANON and not lflag & termios.ECHO
        assert pedals.read() == NONE  # nothing typed: returns at once
        # Each step ends in a state different from the one before and not passed on the way,
        # so reaching it means every key of the step was read.
        steps = ((b"t", TAKEOVER), (b"xc", BOTH), (b"T", COPILOT), (b"q t", TAKEOVER), (b"cc c", COPILOT),
                 (b" ", NONE))  # fmt: skip
        for keys, want in steps:
            os.write(master, keys)
            assert _read_until(pedals, want) == want, keys
            assert pedals.read() == want
    assert termios.tcgetattr(slave) == original


def test_keyboard_pedals_on_a_closed_pipe() -> None:
    """A non-terminal input is read as is; at end of input the last state is kept, no spin."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"tc")
        os.close(write_end)
        pedals = KeyboardPedals(fd=read_end, takeover_key="T", copilot_key="C")
        assert pedals.read() == BOTH
        start = time.monotonic()
        assert pedals.read() == BOTH
        assert time.monotonic() - start < 0.1
        pedals.close()
    finally:
        os.close(read_end)


def test_keyboard_pedals_reject_clashing_keys(pty: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="differ"):
        KeyboardPedals(fd=pty[1], takeover_key="c")


# -- EvdevPedals -------------------------------------------------------------------------------


class FakeInputDevice:
    """Stands in for ``evdev.InputDevice``: a queue of events, grab bookkeeping."""

    def __init__(self, active: tuple[int, ...] = ()) -> None:
        self.events: list[SimpleNamespace] = []
        self.active = list(active)
        self.grabbed = False
        self.closed = False
        self.unplugged = False

    def push(self, code: int, value: int, type: int = EV_KEY) -> None:
        self.events.append(SimpleNamespace(type=type, code=code, value=value))

    def read_one(self):
        if self.unplugged:
            raise OSError(19, "No such device")
        return self.events.pop(0) if self.events else None

    def active_keys(self) -> list[int]:
        return self.active

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        self.closed = True


def test_evdev_pedals_are_held_while_the_key_is_down() -> None:
    """Press (1) and auto-repeat (2) hold the pedal, release (0) frees it; other keys and
    event types are ignored; the device is grabbed, then released and closed."""
    device = FakeInputDevice()
    pedals = EvdevPedals(device)
    assert device.grabbed and pedals.read() == NONE
    device.push(KEY_A, 1)
    assert pedals.read() == TAKEOVER
    device.push(KEY_A, 2)
    device.push(KEY_C, 1)  # not mapped
    device.push(KEY_B, 1, type=0x04)  # EV_MSC scan code, not a key event
    assert pedals.read() == TAKEOVER
    device.push(KEY_B, 1)
    assert pedals.read() == BOTH
    device.push(KEY_A, 0)
    device.push(KEY_B, 0)
    assert pedals.read() == NONE
    pedals.close()
    assert device.closed and not device.grabbed


def test_evdev_pedals_toggle_mode_and_mapping() -> None:
    """In toggle mode each press flips its pedal (repeats and releases do not); several codes
    may drive one pedal; pedals held at start count as pressed."""
    device = FakeInputDevice(active=(KEY_C,))
    held = EvdevPedals(device, takeover_codes=(KEY_A, KEY_C), copilot_codes=(KEY_B,), grab=False)
    assert not device.grabbed and held.read() == TAKEOVER
    device = FakeInputDevice()
    pedals = EvdevPedals(device, toggle=True)
    for code, value, want in ((KEY_A, 1, TAKEOVER), (KEY_A, 2, TAKEOVER), (KEY_A, 0, TAKEOVER),
                              (KEY_B, 1, BOTH), (KEY_B, 0, BOTH), (KEY_A, 1, COPILOT)):  # fmt: skip
        device.push(code, value)
        assert pedals.read() == want
    with pytest.raises(ValueError, match="both pedals"):
        EvdevPedals(FakeInputDevice(), takeover_codes=(KEY_A,), copilot_codes=(KEY_A,))


def test_evdev_pedals_report_a_lost_device() -> None:
    device = FakeInputDevice()
    pedals = EvdevPedals(device)
    device.unplugged = True
    with pytest.raises(StreamError, match="lost"):
        pedals.read()


def test_evdev_key_names_need_evdev() -> None:
    """Key names are resolved by python-evdev; without it the error says how to install it."""
    try:
        import evdev  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install evdev"):
            EvdevPedals(FakeInputDevice(), takeover_codes=("KEY_A",))
    else:
        pedals = EvdevPedals(FakeInputDevice(), takeover_codes=("KEY_F13",), copilot_codes=("KEY_F14",))
        assert pedals.read() == NONE


@pytest.mark.skipif(not os.environ.get("HANDITL_PEDAL_DEVICE"),
                    reason="set HANDITL_PEDAL_DEVICE=/dev/input/eventN")  # fmt: skip
def test_real_evdev_device_opens() -> None:  # pragma: no cover - needs hardware
    pytest.importorskip("evdev")
    with EvdevPedals(os.environ["HANDITL_PEDAL_DEVICE"]) as pedals:
        assert isinstance(pedals.read(), PedalState)


# -- merging into a stream ---------------------------------------------------------------------


class _ListSource:
    """A minimal HumanSource over a WavingHands stream (frame index = round(t * rate))."""

    def __init__(self) -> None:
        self.stream = WavingHands(duration=4.0, rate_hz=10.0, pedal_demo=True)
        self.closed = False
        self.seeds: list[int | None] = []

    def reset(self, seed: int | None = None) -> None:
        self.seeds.append(seed)

    def frame_at(self, t: float) -> HumanFrame:
        return self.stream.frame(min(int(round(t * 10)), len(self.stream) - 1))

    def status(self) -> SourceStatus:
        return SourceStatus(age=0.25)

    def close(self) -> None:
        self.closed = True


def test_with_pedals_overrides_frame_pedals_only() -> None:
    """Frames keep their hands and time; pedals come from the PedalSource; reset, status
    and close are forwarded (close closes both)."""
    clock = ManualClock()
    inner = _ListSource()
    pedals = FakePedals([(0.5, COPILOT)], clock=clock)
    with WithPedals(inner, pedals) as source:
        assert isinstance(source, HumanSource)
        source.reset(seed=3)
        assert inner.seeds == [3]
        original = inner.frame_at(1.5)
        got = source.frame_at(1.5)
        assert got.pedals == NONE and original.pedals == COPILOT and got.t == original.t
        assert_array_equal(got.hands[Side.RIGHT].keypoints, original.hands[Side.RIGHT].keypoints)
        clock.now = 0.6
        assert source.frame_at(0.1).pedals == COPILOT and inner.frame_at(0.1).pedals == NONE
        assert source.status() == SourceStatus(age=0.25)
    assert inner.closed
