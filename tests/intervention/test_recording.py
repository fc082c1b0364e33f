"""The handitl.stream HDF5 format: exact round trips, atomic writes, validation, fuzzing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handitl.assets.hand_description import SIDES, Side
from handitl.intervention.streams import recording as rec_module
from handitl.intervention.streams.frame import HandState, HumanFrame, PedalState
from handitl.intervention.streams.recording import (
    FORMAT_NAME,
    FORMAT_VERSION,
    HandTrack,
    RecordingError,
    RecordingMetadata,
    StreamRecording,
    read_recording,
    write_recording,
)

FUZZ = settings(max_examples=40, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])


def random_track(rng: np.random.Generator, n: int, dropout: float = 0.15) -> HandTrack:
    """A hand with random poses, keypoint dropouts (NaN) and wrist dropouts."""
    valid = rng.random((n, 21)) > dropout
    keypoints = np.where(valid[..., None], rng.normal(scale=0.05, size=(n, 21, 3)), np.nan)
    wrist_valid = rng.random(n) > dropout
    quat = rng.normal(size=(n, 4))
    quat /= np.linalg.norm(quat, axis=1, keepdims=True)
    return HandTrack(
        wrist_pos=np.where(wrist_valid[:, None], rng.normal(size=(n, 3)), np.nan),
        wrist_quat=np.where(wrist_valid[:, None], quat, np.nan),
        wrist_valid=wrist_valid,
        keypoints=keypoints,
        valid=valid,
        confidence=np.where(valid, rng.random((n, 21)), 0.0),
    )


def random_recording(seed: int = 0, n: int = 25, sides: tuple[Side, ...] = SIDES) -> StreamRecording:
    rng = np.random.default_rng(seed)
    metadata = RecordingMetadata(
        source="simulated",
        nominal_rate_hz=50.0,
        operator_profile="adult_m",
        notes="unit test",
        licence="CC0",
        created="2026-01-01T00:00:00+00:00",
    )
    t = 3.0 + np.cumsum(rng.uniform(0.01, 0.03, size=n))
    return StreamRecording(
        metadata=metadata,
        t=t,
        hands={s: random_track(rng, n) for s in sides},
        takeover=rng.random(n) > 0.5,
        copilot=rng.random(n) > 0.5,
    )


@pytest.fixture()
def good_file(tmp_path: Path) -> Path:
    return write_recording(tmp_path / "good.h5", random_recording())


@pytest.mark.parametrize("sides", [SIDES, (Side.RIGHT,), (Side.LEFT,), ()])
def test_write_read_round_trip_is_exact(tmp_path: Path, sides: tuple[Side, ...]) -> None:
    """Every array (NaNs included), the pedals, the sides and the metadata come back bit for bit."""
    original = random_recording(seed=1, sides=sides)
    loaded = read_recording(write_recording(tmp_path / "r.h5", original))
    assert loaded.equals(original)
    assert loaded.metadata == original.metadata
    assert loaded.sides == sides
    for side in sides:
        for name in ("wrist_pos", "wrist_quat", "keypoints", "confidence"):
            assert np.array_equal(
                getattr(loaded.hands[side], name), getattr(original.hands[side], name), equal_nan=True
            )
        assert np.isnan(loaded.hands[side].keypoints).any()  # the dropouts survived as NaN


def test_from_frames_and_frame_round_trip() -> None:
    """frame(i) of from_frames(frames) reproduces each frame: time, pedals, hand arrays;
    an untracked hand (None) stays None and an absent side is None."""
    rng = np.random.default_rng(2)
    track = random_track(rng, 6)
    frames = []
    for i in range(6):
        hand = (
            None
            if i == 3
            else HandState(
                wrist_pos=track.wrist_pos[i],
                wrist_quat=track.wrist_quat[i],
                wrist_valid=bool(track.wrist_valid[i]),
                keypoints=track.keypoints[i],
                valid=track.valid[i],
                confidence=track.confidence[i],
            )
        )
        frames.append(
            HumanFrame(t=0.02 * i, hands={Side.RIGHT: hand}, pedals=PedalState(takeover=i % 2 == 0))
        )
    recording = StreamRecording.from_frames(frames, RecordingMetadata(source="live", nominal_rate_hz=50.0))
    assert recording.sides == (Side.RIGHT,)
    for i, frame in enumerate(frames):
        again = recording.frame(i)
        assert again.t == frame.t and again.pedals == frame.pedals and again.hand(Side.LEFT) is None
        if frame.hand(Side.RIGHT) is None:
            assert again.hand(Side.RIGHT) is None
            continue
        for name in ("wrist_pos", "wrist_quat", "keypoints", "confidence", "valid"):
            assert np.array_equal(
                getattr(again.hand(Side.RIGHT), name),
                getattr(frame.hand(Side.RIGHT), name),
                equal_nan=name != "valid",
            )
    assert recording.frame(-1).t == frames[-1].t
    with pytest.raises(IndexError):
        recording.frame(6)


def test_from_frames_rejects_hand_outside_sides() -> None:
    """A frame holding a hand of a side the recording does not keep is refused."""
    frame = HumanFrame(t=0.0, hands={Side.LEFT: random_recording(n=1).hands[Side.LEFT].state(0)})
    with pytest.raises(RecordingError, match="left hand"):
        StreamRecording.from_frames(
            [frame], RecordingMetadata(source="live", nominal_rate_hz=1.0), sides=[Side.RIGHT]
        )


def test_arrays_are_read_only() -> None:
    """A recording handed to several consumers cannot be edited through its arrays."""
    recording = random_recording()
    with pytest.raises(ValueError):
        recording.hands[Side.RIGHT].keypoints[0, 0, 0] = 1.0
    with pytest.raises(ValueError):
        recording.t[0] = 0.0


def test_interrupted_write_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails half way leaves the previous file intact and no temporary file."""
    path = write_recording(tmp_path / "r.h5", random_recording(seed=3))
    before = path.read_bytes()

    def explode(file: h5py.File, recording: StreamRecording) -> None:
        file.create_dataset("t", data=recording.t)
        raise KeyboardInterrupt  # as if the process were stopped mid-write

    monkeypatch.setattr(rec_module, "_write_contents", explode)
    with pytest.raises(KeyboardInterrupt):
        write_recording(path, random_recording(seed=4))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5"]


def _edit(path: Path, edit: Callable[[h5py.File], None]) -> Path:
    with h5py.File(path, "r+") as file:
        edit(file)
    return path


def _replace(name: str, value: np.ndarray) -> Callable[[h5py.File], None]:
    def edit(file: h5py.File) -> None:
        del file[name]
        file.create_dataset(name, data=value)

    return edit


def _set_attr(name: str, value: object) -> Callable[[h5py.File], None]:
    def edit(file: h5py.File) -> None:
        file.attrs[name] = value

    return edit


def _scaled(name: str, index: tuple[int, ...], value: float) -> Callable[[h5py.File], None]:
    def edit(file: h5py.File) -> None:
        data = file[name][()]
        data[index] = value
        _replace(name, data)(file)

    return edit


def _multiplied(name: str, factor: float) -> Callable[[h5py.File], None]:
    def edit(file: h5py.File) -> None:
        _replace(name, file[name][()] * factor)(file)

    return edit


N = 25  # samples of random_recording()
CORRUPTIONS: dict[str, tuple[Callable[[h5py.File], None], str]] = {
    "format": (_set_attr("format", "other.format"), "not a handitl recording"),
    "newer major": (_set_attr("format_version", "2.0"), "newer than this reader"),
    "older major": (_set_attr("format_version", "0.3"), "older than any"),
    "bad version": (_set_attr("format_version", "one"), "is not 'MAJOR.MINOR'"),
    "units": (_set_attr("units", "mm"), "attribute 'units' is 'mm'"),
    "rate type": (_set_attr("nominal_rate_hz", "fast"), "nominal_rate_hz"),
    "rate negative": (_set_attr("nominal_rate_hz", -5.0), "nominal_rate_hz"),
    "missing attr": (lambda f: f.attrs.__delitem__("source"), "attribute 'source' missing"),
    "sides unknown": (_set_attr("sides", "left,middle"), "attribute 'sides'"),
    "sides listed, group missing": (lambda f: f.__delitem__("left"), "left: missing group"),
    "group not listed": (_set_attr("sides", "right"), "group 'left' present but not listed"),
    "keypoints shape": (
        _replace("right/keypoints", np.zeros((N, 20, 3))),
        f"right/keypoints: shape ({N}, 20, 3), expected ({N}, 21, 3)",
    ),
    "keypoints dtype": (
        _replace("right/keypoints", np.zeros((N, 21, 3), np.float32)),
        "right/keypoints: dtype float32, expected float64",
    ),
    "valid dtype": (
        _replace("left/valid", np.ones((N, 21), np.int8)),
        "left/valid: dtype int8, expected bool",
    ),
    "missing dataset": (lambda f: f.__delitem__("right/confidence"), "right/confidence: missing"),
    "dataset is group": (
        lambda f: (f.__delitem__("pedals/copilot"), f.create_group("pedals/copilot")),
        "pedals/copilot: is a Group",
    ),
    "t missing": (lambda f: f.__delitem__("t"), "t: missing"),
    "t 2-D": (_replace("t", np.zeros((N, 2))), "t: shape"),
    "t NaN": (_scaled("t", (4,), np.nan), "t: not finite"),
    "t shuffled": (_scaled("t", (4,), 0.0), "t: not strictly increasing"),
    "quaternion norm": (
        _multiplied("right/wrist_quat", 2.0),
        "right/wrist_quat: not unit norm where wrist_valid",
    ),
    "valid keypoint NaN": (
        _replace("left/keypoints", np.full((N, 21, 3), np.nan)),
        "left/keypoints: a valid",
    ),
    "confidence range": (_replace("left/confidence", np.full((N, 21), 1.5)), "left/confidence: 1.5 outside"),
    "pedal shape": (_replace("pedals/takeover", np.zeros(N + 1, bool)), "pedals/takeover: shape"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_read_names_the_dataset_and_problem(good_file: Path, name: str) -> None:
    """Each structural or content defect raises RecordingError whose message starts with the
    path and names the dataset/attribute and the problem."""
    edit, message = CORRUPTIONS[name]
    _edit(good_file, edit)
    with pytest.raises(RecordingError) as info:
        read_recording(good_file)
    assert str(info.value).startswith(str(good_file))
    assert message in str(info.value)


def test_newer_minor_version_is_read(good_file: Path) -> None:
    """A newer minor version (additive changes only) of the same major version is read."""
    _edit(good_file, _set_attr("format_version", f"{FORMAT_VERSION.split('.')[0]}.9"))
    assert read_recording(good_file).metadata.format_version.endswith(".9")


@pytest.mark.parametrize("content", [b"", b"not hdf5 at all", b"\x89HDF\r\n\x1a\n" + b"\0" * 40])
def test_non_hdf5_content_is_a_recording_error(tmp_path: Path, content: bytes) -> None:
    """An empty file, text, or a bare HDF5 signature raise RecordingError."""
    path = tmp_path / "x.h5"
    path.write_bytes(content)
    with pytest.raises(RecordingError):
        read_recording(path)


def test_missing_file_and_plain_hdf5(tmp_path: Path) -> None:
    """A missing path and an HDF5 file of another kind raise RecordingError."""
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "absent.h5")
    with h5py.File(tmp_path / "other.h5", "w") as file:
        file["data"] = np.arange(3)
    with pytest.raises(RecordingError, match="attribute 'format' missing"):
        read_recording(tmp_path / "other.h5")


def test_in_memory_validation_matches_the_file_rules() -> None:
    """Constructing a recording in memory enforces the same content rules as reading one."""
    good = random_recording(n=4)
    track = good.hands[Side.RIGHT]
    with pytest.raises(RecordingError, match="keypoints: shape"):
        dataclasses.replace(track, keypoints=np.zeros((4, 20, 3)))
    stray = np.where(track.valid[..., None], track.keypoints, 0.0)  # invalid keypoints not NaN
    if (~track.valid).any():
        with pytest.raises(RecordingError, match="invalid keypoint is not NaN"):
            dataclasses.replace(track, keypoints=stray)
    with pytest.raises(RecordingError, match="t: not strictly increasing"):
        dataclasses.replace(good, t=good.t[::-1].copy())
    with pytest.raises(RecordingError, match="units"):
        RecordingMetadata(source="x", nominal_rate_hz=1.0, units="mm")
    with pytest.raises(RecordingError, match="nominal_rate_hz"):
        RecordingMetadata(source="x", nominal_rate_hz=float("nan"))


# ------------------------------------------------------------------------------------------
# Fuzzing: whatever the bytes, read_recording raises RecordingError or returns a valid recording.


def _read_or_recording_error(path: Path) -> StreamRecording | None:
    try:
        return read_recording(path)
    except RecordingError:
        return None


@FUZZ
@given(content=st.binary(max_size=4096))
def test_fuzz_random_bytes(tmp_path: Path, content: bytes) -> None:
    """Random bytes (with or without an HDF5 signature) never raise anything but RecordingError."""
    path = tmp_path / "fuzz.h5"
    for prefix in (b"", b"\x89HDF\r\n\x1a\n"):
        path.write_bytes(prefix + content)
        assert _read_or_recording_error(path) is None


@FUZZ
@given(fraction=st.floats(min_value=0.0, max_value=0.999))
def test_fuzz_truncated_file(tmp_path: Path, fraction: float) -> None:
    """A recording truncated anywhere raises RecordingError (never a partial recording)."""
    data = write_recording(tmp_path / "full.h5", random_recording(seed=5)).read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(data[: int(fraction * len(data))])
    assert _read_or_recording_error(path) is None


@FUZZ
@given(flips=st.lists(st.tuples(st.floats(0.0, 0.9999), st.integers(0, 255)), min_size=1, max_size=4))
def test_fuzz_corrupted_bytes(tmp_path: Path, flips: list[tuple[float, int]]) -> None:
    """Overwritten bytes anywhere in a valid file give RecordingError or a recording that
    passes every content rule (checksums catch corrupted array chunks)."""
    original = random_recording(seed=6)
    data = bytearray(write_recording(tmp_path / "full.h5", original).read_bytes())
    for where, value in flips:
        data[int(where * len(data))] = value
    path = tmp_path / "flipped.h5"
    path.write_bytes(bytes(data))
    loaded = _read_or_recording_error(path)
    if loaded is not None:  # the flip hit padding or a free-text attribute
        assert np.array_equal(loaded.t, original.t)


@FUZZ
@given(
    order=st.permutations(list(range(8))),
    dtype=st.sampled_from(["f8", "f4", "i8", "u1", "?", "S3"]),
    shape=st.sampled_from([(8,), (8, 1), (7,), (), (0,)]),
    dataset=st.sampled_from(["t", "right/valid", "right/keypoints", "pedals/copilot", "right/wrist_quat"]),
)
def test_fuzz_wrong_arrays(
    tmp_path: Path, order: list[int], dtype: str, shape: tuple[int, ...], dataset: str
) -> None:
    """Shuffled timestamps and datasets replaced by arrays of random dtype/shape raise
    RecordingError unless the result happens to be a valid recording."""
    original = random_recording(seed=7, n=8)
    path = write_recording(tmp_path / "w.h5", original)
    _edit(path, _replace("t", original.t[order]))
    shuffled = order != sorted(order)
    assert (_read_or_recording_error(path) is None) == shuffled
    path = write_recording(tmp_path / "w.h5", original)
    _edit(path, _replace(dataset, np.zeros(shape, dtype=dtype)))
    loaded = _read_or_recording_error(path)
    if loaded is not None:
        assert loaded.num_frames == 8


def test_format_constants() -> None:
    """The format name and version written are the documented ones."""
    assert FORMAT_NAME == "handitl.stream"
    assert FORMAT_VERSION == "1.0"
