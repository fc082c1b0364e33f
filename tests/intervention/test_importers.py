"""Importers: MediaPipe and Qualisys on the real recordings, OpenXR on synthetic hands, fuzzed parsers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from handitl.assets.hand_description import KEYPOINT_NAMES, Side
from handitl.intervention.streams.geometry import (
    MIRROR_Y,
    matrix_from_quat,
    quat_angle,
    wrist_frame_from_keypoints,
)
from handitl.intervention.streams.importers import (
    LandmarkSpace,
    MediaPipeImport,
    OpenXRHandJoints,
    OpenXRImport,
    QualisysImport,
    StreamImportError,
    WristFrameSource,
    import_mediapipe,
    import_openxr,
    import_qualisys,
    load_mediapipe_npy,
    parse_qualisys_tsv,
    read_qualisys_tsv,
)
from handitl.intervention.streams.importers.openxr import (
    KEYPOINT_JOINTS,
    POSITION_TRACKED,
    POSITION_VALID,
    R_JOINT_WRIST,
    R_WORLD_FROM_OPENXR,
    XrHandJoint,
    seconds_from_xr_time,
)
from handitl.intervention.streams.importers.qualisys import PHALANX_MARKER_CONFIDENCE
from handitl.intervention.streams.recording import read_recording, write_recording

SHARED = Path(__file__).resolve().parents[2].parent / "shared/data/human_streams"
MEDIAPIPE_FILE = "mediapipe21_right_wrist_frame.npy"
QUALISYS_FILE = "qualisys_hand_markers_100hz.tsv"
K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
TIPS = [K[f"{f}_tip"] for f in ("thumb", "index", "middle", "ring", "little")]
BONES = [(0, 1), (1, 2), (2, 3), (3, 4)] + [
    p for b in (5, 9, 13, 17) for p in ((0, b), (b, b + 1), (b + 1, b + 2), (b + 2, b + 3))
]
FUZZ = settings(max_examples=40, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def human_streams() -> Path:
    """The shared real recordings (../shared/data/human_streams), or skip."""
    if not (SHARED / MEDIAPIPE_FILE).is_file() or not (SHARED / QUALISYS_FILE).is_file():
        pytest.skip(f"real human stream recordings not found at {SHARED} (needs the ../shared checkout)")
    return SHARED


def canonical_right_hand() -> np.ndarray:
    """(21, 3) a right hand in its handitl wrist frame, m, exactly on the convention: middle
    MCP on +z, index and little MCPs in the plane x = 0 (palmar normal +x), thumb toward +y,
    fingers slightly flexed toward +x."""
    # fmt: off
    return np.array([
        [0.0, 0.0, 0.0],
        [0.012, 0.030, 0.020], [0.020, 0.050, 0.042], [0.018, 0.072, 0.062], [0.012, 0.090, 0.080],
        [0.0, 0.025, 0.088], [0.010, 0.028, 0.125], [0.020, 0.030, 0.146], [0.032, 0.031, 0.165],
        [0.0, 0.0, 0.092], [0.012, -0.001, 0.135], [0.023, -0.002, 0.160], [0.035, -0.002, 0.180],
        [0.003, -0.021, 0.086], [0.014, -0.024, 0.125], [0.024, -0.026, 0.148], [0.034, -0.027, 0.166],
        [0.0, -0.040, 0.070], [0.010, -0.046, 0.100], [0.018, -0.050, 0.118], [0.026, -0.053, 0.134],
    ])
    # fmt: on


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    return Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()


# ------------------------------------------------------------------------------------------
# MediaPipe


def test_mediapipe_real_file(human_streams: Path) -> None:
    """The 621-frame 30 fps file imports as 20.7 s of a right hand with all 21 keypoints valid,
    the wrist at the origin and the middle MCP on +z; the import is rigid per frame (pairwise
    distances kept to 1e-12), and bone lengths vary by < 6 mm (std) over time."""
    raw = np.load(human_streams / MEDIAPIPE_FILE)
    recording = load_mediapipe_npy(human_streams / MEDIAPIPE_FILE)
    hand = recording.hands[Side.RIGHT]
    assert recording.num_frames == 621 and recording.sides == (Side.RIGHT,)
    assert recording.num_frames / recording.metadata.nominal_rate_hz == pytest.approx(20.7)
    assert recording.t[-1] == pytest.approx(620 / 30.0, abs=1e-12)
    assert recording.metadata.source == "mediapipe"
    assert hand.valid.all() and not hand.wrist_valid.any() and (hand.confidence == 1.0).all()
    assert np.abs(hand.keypoints[:, K["wrist"]]).max() == 0.0
    assert np.abs(hand.keypoints[:, K["middle_mcp"], :2]).max() < 1e-12
    assert (hand.keypoints[:, K["middle_mcp"], 2] > 0.07).all()
    distances = np.linalg.norm(hand.keypoints[:, :, None] - hand.keypoints[:, None], axis=-1)
    raw_distances = np.linalg.norm(raw[:, :, None] - raw[:, None], axis=-1)
    assert np.abs(distances - raw_distances).max() < 1e-12
    lengths = np.stack(
        [np.linalg.norm(hand.keypoints[:, a] - hand.keypoints[:, b], axis=1) for a, b in BONES], 1
    )
    assert lengths.std(axis=0).max() < 0.006


def test_mediapipe_file_frame_is_close_to_the_handitl_frame(human_streams: Path) -> None:
    """The file's own wrist-centred frame already has z -> middle MCP and y -> thumb side: ours
    differs from it only by a turn about z (same z axis to 1e-12) of 5-27 deg, because the
    file's x is normal to the wrist/index-MCP/middle-MCP plane and ours to the
    wrist/index-MCP/little-MCP plane."""
    raw = np.load(human_streams / MEDIAPIPE_FILE)
    rot, ok = wrist_frame_from_keypoints(raw, Side.RIGHT)  # our axes in the file's frame
    assert ok.all()
    assert np.abs(rot[:, :, 2] - [0.0, 0.0, 1.0]).max() < 1e-12
    turn = np.degrees(np.arctan2(rot[:, 1, 0], rot[:, 0, 0]))
    assert 3.0 < turn.min() and turn.max() < 30.0
    assert (raw[:, K["thumb_mcp"], 1] > 0.01).all() and (raw[:, K["index_mcp"], 1] > 0.01).all()
    assert np.abs(raw[:, K["index_mcp"], 0]).max() < 1e-9  # the file's x is the index/middle plane normal


def test_mediapipe_is_invariant_to_pose_and_mirrors_left() -> None:
    """Landmarks rotated and translated arbitrarily give the same wrist-frame keypoints (1e-12);
    a left hand (the mirror image) gives the y-negated keypoints; a selfie-mirrored input
    with mirrored=True equals the unmirrored one."""
    rng = np.random.default_rng(0)
    hand = canonical_right_hand()
    posed = np.stack([hand @ random_rotation(rng).T + rng.normal(size=3) for _ in range(5)])
    right = import_mediapipe(posed).hands[Side.RIGHT].keypoints
    assert np.abs(right - hand).max() < 1e-12
    left = import_mediapipe(posed @ MIRROR_Y, MediaPipeImport(side=Side.LEFT)).hands[Side.LEFT].keypoints
    assert np.abs(left - hand @ MIRROR_Y).max() < 1e-12
    selfie = posed * [-1.0, 1.0, 1.0]
    unmirrored = import_mediapipe(selfie, MediaPipeImport(mirrored=True)).hands[Side.RIGHT].keypoints
    assert np.abs(unmirrored - hand).max() < 1e-12


def test_mediapipe_image_landmarks_are_scaled_to_the_palm_length() -> None:
    """Normalised image landmarks (x/W, y/H, z at x's scale) of a hand parallel to the image
    plane come out as the hand scaled so that wrist -> middle MCP equals palm_length."""
    hand = canonical_right_hand()
    camera = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])  # image x right, y down, z away
    pixels = 4000.0 * (hand @ camera.T) + [320.0, 240.0, 0.0]
    normalised = pixels / [640.0, 480.0, 640.0]
    config = MediaPipeImport(space=LandmarkSpace.IMAGE, image_size=(640, 480), palm_length=0.1)
    keypoints = import_mediapipe(normalised[None], config).hands[Side.RIGHT].keypoints[0]
    assert np.abs(keypoints - hand * 0.1 / 0.092).max() < 1e-12
    with pytest.raises(StreamImportError, match="image_size"):
        import_mediapipe(normalised[None], MediaPipeImport(space=LandmarkSpace.IMAGE))


def test_mediapipe_missing_landmarks_and_wrist_poses() -> None:
    """A NaN landmark is invalid alone; a missing MCP of the frame basis invalidates the whole
    frame; given wrist poses are kept (normalised), NaN ones invalid."""
    hand = canonical_right_hand()
    frames = np.stack([hand, hand, hand])
    frames[0, K["ring_tip"]] = np.nan
    frames[1, K["little_mcp"]] = np.nan
    quat = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [np.nan] * 4])
    recording = import_mediapipe(
        frames, wrist_pos=np.zeros((3, 3)), wrist_quat=quat, timestamps=[0.0, 0.1, 0.25]
    )
    track = recording.hands[Side.RIGHT]
    assert track.valid[0].sum() == 20 and not track.valid[0, K["ring_tip"]]
    assert not track.valid[1].any() and track.valid[2].all()
    assert track.wrist_valid.tolist() == [True, True, False]
    assert recording.metadata.nominal_rate_hz == pytest.approx(1 / 0.125)
    assert recording.frame(1).hand(Side.RIGHT) is not None  # the wrist pose is still observed


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((3, 20, 3)), "landmarks: shape"),
        (np.zeros((0, 21, 3)), "no frames"),
        ([["a"]], "not numeric"),
    ],
)
def test_mediapipe_rejects_malformed_arrays(bad: object, message: str) -> None:
    """Wrong shapes and non-numeric input raise StreamImportError naming the array."""
    with pytest.raises(StreamImportError, match=message):
        import_mediapipe(bad)


# ------------------------------------------------------------------------------------------
# Qualisys


@pytest.fixture(scope="module")
def qualisys_markers(human_streams: Path):  # noqa: ANN201
    return read_qualisys_tsv(human_streams / QUALISYS_FILE)


def test_qualisys_real_file(qualisys_markers) -> None:  # noqa: ANN001
    """6000 frames at 100 Hz (0 to 59.99 s); the wrist pose is valid and orthonormal in every
    frame; the back-of-hand markers lie dorsal (x < 0) of the wrist; fingertips are 0.08-0.25 m
    from the wrist and on the right side (thumb +y, little -y); only marker keypoints are valid."""
    recording = import_qualisys(qualisys_markers)
    hand = recording.hands[Side.RIGHT]
    assert recording.num_frames == 6000 and recording.metadata.nominal_rate_hz == 100.0
    assert recording.t[0] == 0.0 and recording.t[-1] == pytest.approx(59.99)
    assert hand.wrist_valid.all()
    rot = matrix_from_quat(hand.wrist_quat)
    assert np.abs(rot @ rot.transpose(0, 2, 1) - np.eye(3)).max() < 1e-9
    assert np.allclose(np.linalg.det(rot), 1.0, atol=1e-9)
    for marker in ("hand_top", "hand_left", "hand_right"):
        local = np.einsum("nji,nj->ni", rot, qualisys_markers.markers[marker] - hand.wrist_pos)
        assert (local[:, 0] < -0.01).all()  # dorsal: the palmar normal +x points away from the markers
    tips = np.linalg.norm(hand.keypoints[:, TIPS], axis=-1)
    assert (np.nan_to_num(tips, nan=0.1) > 0.08).all() and (np.nan_to_num(tips, nan=0.1) < 0.25).all()
    assert np.nanmedian(hand.keypoints[:, K["thumb_tip"], 1]) > 0.05
    assert np.nanmedian(hand.keypoints[:, K["little_tip"], 1]) < -0.02
    marker_keypoints = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20}
    assert set(np.flatnonzero(hand.valid.any(axis=0))) == marker_keypoints
    assert (hand.confidence[:, K["index_pip"]] == PHALANX_MARKER_CONFIDENCE).all()


def test_qualisys_dropouts_are_invalid(qualisys_markers) -> None:  # noqa: ANN001
    """Frames where the file lost a fingertip marker (nan cells) have that keypoint invalid, NaN
    and confidence 0; all other frames have it valid."""
    hand = import_qualisys(qualisys_markers).hands[Side.RIGHT]
    for finger in ("thumb", "middle", "ring"):
        lost = np.isnan(qualisys_markers.markers[f"{finger}_tip"]).any(axis=1)
        assert lost.any()
        k = K[f"{finger}_tip"]
        assert np.array_equal(hand.valid[:, k], ~lost)
        assert np.isnan(hand.keypoints[lost, k]).all() and (hand.confidence[lost, k] == 0).all()
    assert (~hand.valid[:, K["thumb_tip"]]).sum() == 493


def test_qualisys_round_trips_through_the_recording_format(qualisys_markers, tmp_path: Path) -> None:  # noqa: ANN001
    """An imported recording writes and reads back exactly."""
    recording = import_qualisys(qualisys_markers)
    assert read_recording(write_recording(tmp_path / "q.h5", recording)).equals(recording)


def test_qualisys_left_hand_is_the_mirror_image(qualisys_markers) -> None:  # noqa: ANN001
    """Mirroring the whole capture (y -> -y) and importing it as a left hand gives the
    y-negated keypoints of the right-hand import (1e-12): the calibration mirrors too."""
    right = import_qualisys(qualisys_markers).hands[Side.RIGHT]
    mirrored = type(qualisys_markers)(
        header=qualisys_markers.header,
        rate_hz=qualisys_markers.rate_hz,
        t=qualisys_markers.t,
        markers={name: xyz * [1.0, -1.0, 1.0] for name, xyz in qualisys_markers.markers.items()},
    )
    left = import_qualisys(mirrored, QualisysImport(side=Side.LEFT)).hands[Side.LEFT]
    assert np.array_equal(left.valid, right.valid)
    assert np.nanmax(np.abs(left.keypoints - right.keypoints @ MIRROR_Y)) < 1e-12
    assert np.abs(left.wrist_pos - right.wrist_pos * [1.0, -1.0, 1.0]).max() < 1e-12


def small_tsv(rows: list[str], header_extra: str = "", frames: int | None = None) -> str:
    """A minimal export with three hand markers and an index tip."""
    names = ["hand_top", "hand_left", "hand_right", "index_tip"]
    lines = [
        f"NO_OF_FRAMES\t{len(rows) if frames is None else frames}",
        "FREQUENCY\t100",
        "MARKER_NAMES\t" + "\t".join(names),
        *([header_extra] if header_extra else []),
        "Frame\tTime\t" + "\t".join(f"{n} {a}" for n in names for a in "XYZ") + "\t",
    ]
    return "\n".join(lines + rows) + "\n"


GOOD_ROW = "1\t0.00000\t100\t0\t0\t0\t15\t-50\t0\t-15\t-50\t180\t0\t10"


def test_qualisys_lost_markers_read_as_nan() -> None:
    """0 0 0, 'nan', empty and missing trailing cells all mean a lost marker (NaN), in mm -> m."""
    rows = [
        GOOD_ROW,
        "2\t0.01\t100\t0\t0\t0\t15\t-50\t0\t-15\t-50\t0\t0\t0",
        "3\t0.02\t100\t0\t0\t0\t15\t-50\t0\t-15\t-50\tnan\tnan\tnan",
        "4\t0.03\t100\t0\t0\t0\t15\t-50\t0\t-15\t-50",
        "5\t0.04\t100\t0\t0\t0\t15\t-50\t0\t-15\t-50\t\t\t",
    ]
    markers = parse_qualisys_tsv(small_tsv(rows))
    assert np.allclose(markers.markers["index_tip"][0], [0.18, 0.0, 0.01])
    assert np.isnan(markers.markers["index_tip"][1:]).all()
    assert np.allclose(markers.t, [0.0, 0.01, 0.02, 0.03, 0.04])
    hand = import_qualisys(markers).hands[Side.RIGHT]
    assert hand.valid[:, K["index_tip"]].tolist() == [True, False, False, False, False]


@pytest.mark.parametrize(
    "text, message",
    [
        (small_tsv([GOOD_ROW.replace("180", "18O")]), "line 5, column 12: '18O' is not a number"),
        (small_tsv([GOOD_ROW + "\t7"]), "line 5: 15 cells"),
        (small_tsv([GOOD_ROW, GOOD_ROW]), "line 6, column 2: Time not increasing"),
        (small_tsv([GOOD_ROW], frames=3), "NO_OF_FRAMES is 3"),
        (small_tsv([GOOD_ROW.replace("180", "inf")]), "line 5, column 12: infinite"),
        (small_tsv([GOOD_ROW]).replace("FREQUENCY\t100", "FREQUENCY\tfast"), "line 2: FREQUENCY 'fast'"),
        (small_tsv([GOOD_ROW]).replace("FREQUENCY\t100", "FREQUENCY\t0"), "line 2: FREQUENCY must be > 0"),
        (small_tsv([GOOD_ROW]).replace("FREQUENCY\t100\n", ""), "FREQUENCY missing"),
        (small_tsv([GOOD_ROW]).replace("index_tip X", "index_tip Q"), "column 12: column name 'index_tip Q'"),
        (small_tsv([GOOD_ROW], header_extra="lower case\tx"), "line 4: expected a header line"),
        (small_tsv([]), "no data rows"),
        ("", "FREQUENCY missing"),
    ],
)
def test_qualisys_malformed_text_names_the_line(text: str, message: str) -> None:
    """Malformed headers and cells raise StreamImportError naming the line (and column)."""
    with pytest.raises(StreamImportError) as info:
        parse_qualisys_tsv(text)
    assert message in str(info.value)


def test_qualisys_file_errors(tmp_path: Path) -> None:
    """Unreadable, non-UTF-8 files and a missing hand marker raise StreamImportError."""
    with pytest.raises(StreamImportError, match="cannot read"):
        read_qualisys_tsv(tmp_path / "absent.tsv")
    (tmp_path / "latin.tsv").write_bytes(b"FREQUENCY\t100\xff\n")
    with pytest.raises(StreamImportError, match="not UTF-8"):
        read_qualisys_tsv(tmp_path / "latin.tsv")
    markers = parse_qualisys_tsv(small_tsv([GOOD_ROW]).replace("hand_top", "hand_up"))
    with pytest.raises(StreamImportError, match="'hand_top'"):
        import_qualisys(markers)


@FUZZ
@given(
    row=st.integers(0, 3),
    column=st.integers(0, 13),
    garbage=st.text(alphabet=st.characters(blacklist_characters="\t\n\r"), min_size=1, max_size=8),
)
def test_fuzz_qualisys_garbage_cells(row: int, column: int, garbage: str) -> None:
    """A random cell replaced by random text either parses (it was a number, blank or 'nan')
    or raises StreamImportError naming that line; never any other exception."""
    rows = [GOOD_ROW.replace("1\t0.00000", f"{i + 1}\t{i / 100:.5f}", 1) for i in range(4)]
    cells = rows[row].split("\t")
    cells[column] = garbage
    rows[row] = "\t".join(cells)
    try:
        markers = parse_qualisys_tsv(small_tsv(rows))
    except StreamImportError as exc:
        # A bad Time is reported on the first row out of order: this one or the next.
        lines = (5 + row, 6 + row) if "Time not increasing" in str(exc) else (5 + row,)
        assert any(f"line {line}" in str(exc) for line in lines)
        return
    import_qualisys(markers)  # whatever parsed must import


@FUZZ
@given(
    text=st.text(
        alphabet=st.sampled_from(list("\t\n\r 0123456789.-eEnaNxFREQUENCY_MARKER_NAMES")), max_size=300
    )
)
def test_fuzz_qualisys_random_text(text: str) -> None:
    """Random TSV-like text raises StreamImportError or parses; never any other exception."""
    try:
        markers = parse_qualisys_tsv(text)
    except StreamImportError:
        return
    assert markers.t.ndim == 1


# ------------------------------------------------------------------------------------------
# OpenXR (synthetic: no real OpenXR capture is available)


def openxr_joints(
    keypoints: np.ndarray, rot_world_wrist: np.ndarray, wrist_world: np.ndarray
) -> OpenXRHandJoints:
    """26 OpenXR joint locations (reference space) of a hand with wrist-frame ``keypoints``
    (N, 21, 3) posed at ``rot_world_wrist`` (N, 3, 3), ``wrist_world`` (N, 3).

    The WRIST joint orientation is built from the OpenXR spec's words, not from the
    importer's constant: +z back from the middle MCP to the wrist, +y out of the back of the
    hand (minus the palmar normal), +x = y x z; quaternions stored (x, y, z, w).
    """
    n = keypoints.shape[0]
    world = wrist_world[:, None] + np.einsum("nij,nkj->nki", rot_world_wrist, keypoints)
    xr = world @ R_WORLD_FROM_OPENXR  # row vectors: p_xr = R^T p_world
    positions = np.zeros((n, 26, 3))
    positions[:, list(KEYPOINT_JOINTS)] = xr
    positions[:, XrHandJoint.PALM] = 0.5 * (xr[:, K["wrist"]] + xr[:, K["middle_mcp"]])
    for finger, joint in (("index", 6), ("middle", 11), ("ring", 16), ("little", 21)):
        positions[:, joint] = xr[:, K["wrist"]] + 0.3 * (xr[:, K[f"{finger}_mcp"]] - xr[:, K["wrist"]])
    back = xr[:, K["wrist"]] - xr[:, K["middle_mcp"]]
    z_axis = back / np.linalg.norm(back, axis=1, keepdims=True)
    palmar_xr = np.einsum("ji,nj->ni", R_WORLD_FROM_OPENXR, rot_world_wrist[:, :, 0])
    y_axis = -palmar_xr
    x_axis = np.cross(y_axis, z_axis)
    orientations = np.tile([0.0, 0.0, 0.0, 1.0], (n, 26, 1))
    orientations[:, XrHandJoint.WRIST] = Rotation.from_matrix(
        np.stack([x_axis, y_axis, z_axis], -1)
    ).as_quat()
    flags = np.full((n, 26), 0xF, dtype=np.uint64)
    return OpenXRHandJoints(positions=positions, orientations=orientations, location_flags=flags)


@pytest.fixture()
def posed_hands() -> dict[str, np.ndarray]:
    """Five random right-hand poses, the canonical hand, and their mirror image (left hand)."""
    rng = np.random.default_rng(7)
    rot = np.stack([random_rotation(rng) for _ in range(5)])
    pos = rng.normal(scale=0.3, size=(5, 3))
    return {"rot": rot, "pos": pos, "keypoints": np.tile(canonical_right_hand(), (5, 1, 1))}


@pytest.mark.parametrize("wrist_frame", list(WristFrameSource))
def test_openxr_round_trip_and_mirror(
    posed_hands: dict[str, np.ndarray], wrist_frame: WristFrameSource
) -> None:
    """Keypoints and wrist poses survive OpenXR encoding (joint mapping, x,y,z,w quaternions,
    y-up reference space) within 1e-9, and the mirror-image left hand imports as the
    y-negated keypoints with the mirrored wrist pose (world mirror S = diag(1, -1, 1))."""
    kp, rot, pos = posed_hands["keypoints"], posed_hands["rot"], posed_hands["pos"]
    mirror = MIRROR_Y
    joints = {
        Side.RIGHT: openxr_joints(kp, rot, pos),
        Side.LEFT: openxr_joints(kp @ mirror, mirror @ rot @ mirror, pos @ mirror),
    }
    recording = import_openxr(np.arange(5) / 90.0, joints, OpenXRImport(wrist_frame=wrist_frame))
    right, left = recording.hands[Side.RIGHT], recording.hands[Side.LEFT]
    assert recording.metadata.source == "openxr" and recording.metadata.nominal_rate_hz == pytest.approx(90.0)
    assert right.valid.all() and left.valid.all() and right.wrist_valid.all()
    assert np.abs(right.keypoints - kp).max() < 1e-9
    assert np.abs(left.keypoints - kp @ mirror).max() < 1e-9
    assert np.abs(right.wrist_pos - pos).max() < 1e-9
    assert np.abs(left.wrist_pos - pos @ mirror).max() < 1e-9
    assert np.abs(matrix_from_quat(right.wrist_quat) - rot).max() < 1e-9
    assert np.abs(matrix_from_quat(left.wrist_quat) - mirror @ rot @ mirror).max() < 1e-9


def test_openxr_axis_conventions() -> None:
    """A right hand held palm down with the fingers pointing forward (-z) in OpenXR (+y up)
    imports with its fingers along world +x, palm facing world -z and thumb toward world +y
    (left); the joint-to-wrist rotation is a proper 180 deg turn, the same for both hands."""
    hand = canonical_right_hand()
    # Wrist axes in OpenXR coordinates: x (palmar) = -y_xr (down), y = -x_xr (left, toward the
    # thumb), z (fingers) = -z_xr (forward).
    rot_xr_wrist = np.column_stack([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    rot_world_wrist = R_WORLD_FROM_OPENXR @ rot_xr_wrist
    joints = openxr_joints(hand[None], rot_world_wrist[None], np.zeros((1, 3)))
    track = import_openxr([0.0], {Side.RIGHT: joints}, OpenXRImport(nominal_rate_hz=60.0)).hands[Side.RIGHT]
    axes = matrix_from_quat(track.wrist_quat[0])
    assert np.abs(axes - np.column_stack([[0, 0, -1.0], [0, 1.0, 0], [1.0, 0, 0]])).max() < 1e-12
    assert np.isclose(np.linalg.det(R_WORLD_FROM_OPENXR), 1.0) and np.isclose(
        np.linalg.det(R_JOINT_WRIST), 1.0
    )
    assert np.allclose(R_JOINT_WRIST @ R_JOINT_WRIST, np.eye(3))  # a half turn
    # The wrist joint's quaternion is (x, y, z, w): read as (w, x, y, z) it would be a different rotation.
    xyzw = joints.orientations[0, XrHandJoint.WRIST]
    assert quat_angle(np.roll(xyzw, 1), xyzw) > 0.1


def test_openxr_flags_and_activity(posed_hands: dict[str, np.ndarray]) -> None:
    """A joint without POSITION_VALID is invalid; valid but untracked joints get the untracked
    confidence; an inactive sample or a wrist without ORIENTATION_VALID has nothing valid."""
    joints = openxr_joints(posed_hands["keypoints"], posed_hands["rot"], posed_hands["pos"])
    flags = joints.location_flags.copy()
    flags[0, XrHandJoint.INDEX_TIP] = 0
    flags[1, XrHandJoint.RING_DISTAL] = POSITION_VALID
    flags[2, XrHandJoint.WRIST] &= ~np.int64(0x1)
    active = np.array([True, True, True, False, True])
    edited = OpenXRHandJoints(
        positions=joints.positions, orientations=joints.orientations, location_flags=flags, is_active=active
    )
    track = import_openxr(np.arange(5) / 60.0, {Side.RIGHT: edited}, OpenXRImport(untracked_confidence=0.3))
    track = track.hands[Side.RIGHT]
    assert track.valid.sum(axis=1).tolist() == [20, 21, 0, 0, 21]
    assert np.isnan(track.keypoints[0, K["index_tip"]]).all()
    assert track.confidence[1, K["ring_dip"]] == 0.3 and track.confidence[1, K["ring_tip"]] == 1.0
    assert track.wrist_valid.tolist() == [True, True, False, False, True]
    assert POSITION_TRACKED == 0x8


def test_openxr_rejects_malformed_input(posed_hands: dict[str, np.ndarray]) -> None:
    """Wrong joint counts, sample counts, times and rotations raise StreamImportError."""
    joints = openxr_joints(posed_hands["keypoints"], posed_hands["rot"], posed_hands["pos"])
    with pytest.raises(StreamImportError, match="positions: shape"):
        OpenXRHandJoints(
            positions=np.zeros((5, 25, 3)),
            orientations=joints.orientations,
            location_flags=joints.location_flags,
        )
    with pytest.raises(StreamImportError, match="samples but t has"):
        import_openxr(np.arange(4) / 60.0, {Side.RIGHT: joints})
    with pytest.raises(StreamImportError, match="strictly increasing"):
        import_openxr(np.zeros(5), {Side.RIGHT: joints})
    with pytest.raises(StreamImportError, match="proper rotation"):
        import_openxr(
            np.arange(5) / 60.0,
            {Side.RIGHT: joints},
            OpenXRImport(world_from_reference=((1, 0, 0), (0, 1, 0), (0, 0, -1))),
        )
    assert np.allclose(seconds_from_xr_time(np.array([10**18, 10**18 + 11_111_111])), [0.0, 0.011111111])
