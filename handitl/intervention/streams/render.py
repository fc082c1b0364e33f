"""Looking at human streams: skeleton plots, stream movies, the conventions picture.

Everything draws with matplotlib on the Agg backend (headless; figures are never shown).
A stream is any :class:`FrameSequence` (``len()`` and ``frame(i)``), e.g. a recording or
:class:`WavingHands`, the synthetic stream used by tests and ``--synthetic`` modes.

Views (frames as in :mod:`handitl.intervention.streams.frame`):

* wrist frame, three orthographic projections per hand: *palmar* (seen from +x, the
  palm side: y right, z up), *radial-ulnar* (seen from -y: x right, z up) and *along
  the fingers* (seen from behind the wrist: y right, x up). A left hand is the mirror
  image of a right hand, so its thumb appears on the left in the palmar view.
* operator world, wrist trajectories seen from above and from behind the operator
  (the operator's left on the left, assuming +x forward and +y left), with the current
  wrist axes (x red, y green, z blue).
* a timeline of the pedals and of the fraction of valid keypoints per hand.

Invalid keypoints are never drawn as data: bones touching them are skipped, they are
listed in the panel, and where the keypoint was seen earlier in the stream a grey cross
marks its last seen position.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from handitl.assets.hand_description import FINGERS, KEYPOINT_NAMES, SIDES, Side
from handitl.envs.rotations import mat_from_quat
from handitl.intervention.streams.frame import NUM_KEYPOINTS, HandState, HumanFrame, PedalState
from handitl.intervention.streams.live import FrameSequence

if TYPE_CHECKING:  # matplotlib is imported lazily: senders and tests of other parts skip it
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from mpl_toolkits.mplot3d import Axes3D

BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16),
    (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip
"""MediaPipe hand connections (pairs of keypoint indices), including the palm outline."""

FINGER_COLORS: dict[str, str] = {
    "wrist": "#222222", "thumb": "#d62728", "index": "#2ca02c", "middle": "#1f5fd6",
    "ring": "#d4a50f", "little": "#c01ec0",
}  # fmt: skip
"""Colours per finger (same as ``scripts/show_hands.py``: thumb red ... little magenta)."""
AXIS_COLORS = ("#e41a1c", "#2ca02c", "#1f5fd6")
"""x red, y green, z blue."""


def keypoint_finger(k: int) -> str:
    """Finger name of keypoint ``k`` (``"wrist"`` for 0)."""
    return KEYPOINT_NAMES[k].split("_")[0]


def _bone_color(a: int, b: int) -> str:
    """A finger's colour for its own bones (and wrist-thumb CMC), grey for the palm."""
    fa, fb = keypoint_finger(a), keypoint_finger(b)
    if fa == fb or {fa, fb} == {"wrist", "thumb"}:
        return FINGER_COLORS[fb if fa == "wrist" else fa]
    return "#777777"


# ----------------------------------------------------------------------------------------
# A synthetic stream: two waving hands


_MCP = {"index": (0.024, 0.088), "middle": (0.0, 0.092), "ring": (-0.02, 0.086), "little": (-0.038, 0.076)}
"""(y, z) of each finger's MCP in a right hand's wrist frame, m (middle MCP on +z by definition)."""
_SEGMENTS = {"index": (0.040, 0.024, 0.020), "middle": (0.045, 0.028, 0.021),
             "ring": (0.042, 0.026, 0.020), "little": (0.032, 0.019, 0.018)}  # fmt: skip
"""Proximal, middle and distal phalanx lengths, m."""
_THUMB_CMC = np.array([0.012, 0.022, 0.028])
_THUMB_SEGMENTS = (0.030, 0.028, 0.024)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def hand_keypoints(side: Side, curl: Sequence[float] | float = 0.3) -> np.ndarray:
    """(21, 3) keypoints of a plausible adult hand in its wrist frame, m.

    Args:
        side: the left hand is the mirror image (y negated) of the right one.
        curl: flexion per finger in :data:`FINGERS` order (or one value for all), 0 =
            flat, 1 = a loose fist; fingers flex toward +x (palmar).
    """
    curls = np.broadcast_to(np.asarray(curl, dtype=np.float64), (len(FINGERS),))
    x_axis = np.array([1.0, 0.0, 0.0])
    kp = np.zeros((NUM_KEYPOINTS, 3))
    # Thumb: starts out toward the radial side and curls across the palm.
    direction = _unit(np.array([0.22, 0.65, 0.73]))
    across = _unit(np.array([1.0, -0.6, 0.1]))
    kp[1] = point = _THUMB_CMC
    for j, length in enumerate(_THUMB_SEGMENTS):
        angle = curls[0] * (0.5, 0.7, 0.7)[j] * (j + 1)
        point = point + length * (math.cos(angle) * direction + math.sin(angle) * across)
        kp[2 + j] = point
    for f, finger in enumerate(FINGERS[1:], start=1):
        y, z = _MCP[finger]
        mcp = np.array([0.0, y, z])
        direction = _unit(np.array([0.0, 0.5 * y / z, 1.0]))  # slight splay
        first = 1 + 4 * f
        kp[first] = point = mcp
        angle = 0.0
        for j, length in enumerate(_SEGMENTS[finger]):
            angle += curls[f] * (1.0, 1.3, 0.8)[j]
            point = point + length * (math.cos(angle) * direction + math.sin(angle) * x_axis)
            kp[first + 1 + j] = point
    kp[:, 1] *= side.mirror_sign
    return kp


def _quat_about_x(angle: float) -> np.ndarray:
    return np.array([math.cos(angle / 2), math.sin(angle / 2), 0.0, 0.0])


@dataclasses.dataclass(frozen=True)
class WavingHands:
    """Both hands raised, palms forward, waving: a deterministic synthetic stream.

    Operator world: +x forward, +y left, +z up; wrists at shoulder height 0.25 m either
    side of the centre line. The wrist frame is aligned with the world at rest (fingers
    up, palm facing forward) and rocks about its x axis (the palmar normal) at
    ``wave_hz``; the fingers open and close out of phase. The left hand mirrors the right.
    With ``dropout``, the right little finger's last two keypoints are invalid for 0.5 s
    of every 2 s, the right wrist is invalid for 0.25 s of every 3 s, and the left hand
    is untracked (``None``) for 0.3 s of every 2.5 s. With ``pedal_demo``, copilot is
    pressed during [1, 2) s and takeover during [2.5, 3.5) s of every 4 s.
    """

    duration: float = 4.0
    """Length of the stream, s."""
    rate_hz: float = 60.0
    """Frame rate, Hz."""
    wave_hz: float = 1.0
    """Waving frequency, Hz."""
    sides: tuple[Side, ...] = SIDES
    """Hands present (the others are ``None``)."""
    dropout: bool = False
    """Include periods of invalid keypoints, invalid wrists and lost hands."""
    pedal_demo: bool = False
    """Press the pedals on a schedule (otherwise never pressed)."""

    def __len__(self) -> int:
        return int(round(self.duration * self.rate_hz))

    @property
    def t(self) -> np.ndarray:
        """(N,) frame times, s."""
        return np.arange(len(self)) / self.rate_hz

    def frame(self, i: int) -> HumanFrame:
        if not 0 <= i < len(self):
            raise IndexError(f"frame {i} outside [0, {len(self)})")
        t = i / self.rate_hz
        pedals = PedalState()
        if self.pedal_demo:
            pedals = PedalState(takeover=2.5 <= t % 4.0 < 3.5, copilot=1.0 <= t % 4.0 < 2.0)
        return waving_frame(t, self.sides, wave_hz=self.wave_hz, dropout=self.dropout, pedals=pedals)


def waving_frame(t: float, sides: Sequence[Side] = SIDES, *, wave_hz: float = 1.0,
                 dropout: bool = False, pedals: PedalState | None = None) -> HumanFrame:  # fmt: skip
    """The :class:`WavingHands` frame at time ``t`` (s); defined for any real ``t``."""
    phase = 2.0 * math.pi * wave_hz * t
    hands: dict[Side, HandState | None] = {}
    for side in sides:
        sign = side.mirror_sign
        if dropout and side is Side.LEFT and (t % 2.5) > 2.2:
            hands[side] = None
            continue
        curl = [0.25 + 0.25 * math.sin(0.5 * phase + 0.6 * f) for f in range(len(FINGERS))]
        keypoints = hand_keypoints(side, curl)
        valid = np.ones(NUM_KEYPOINTS, dtype=bool)
        if dropout and side is Side.RIGHT and (t % 2.0) > 1.5:
            valid[[19, 20]] = False
        keypoints[~valid] = np.nan
        wrist_valid = not (dropout and side is Side.RIGHT and (t % 3.0) > 2.75)
        # Mirroring in the world xz plane turns a rotation about x by a into one by -a.
        angle = sign * 0.35 * math.sin(phase)
        pos = np.array([0.35, -sign * (0.25 + 0.04 * math.sin(phase)), 1.25])
        hands[side] = HandState(
            wrist_pos=pos if wrist_valid else np.full(3, np.nan),
            wrist_quat=_quat_about_x(angle) if wrist_valid else np.full(4, np.nan),
            wrist_valid=wrist_valid,
            keypoints=keypoints,
            valid=valid,
            confidence=np.where(valid, 0.9, 0.0),
        )
    return HumanFrame(t=t, hands=hands, pedals=pedals or PedalState())


# ----------------------------------------------------------------------------------------
# Plot helpers


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


@dataclasses.dataclass(frozen=True)
class View:
    """An orthographic projection: which coordinates go right and up, and its name."""

    name: str
    right: int
    """Coordinate index (0 = x, 1 = y, 2 = z) drawn to the right."""
    up: int
    """Coordinate index drawn upward."""
    flip_right: bool = False
    """Draw ``-right`` to the right (e.g. world y when the viewer faces +x)."""


WRIST_VIEWS: tuple[View, ...] = (
    View("palmar (from +x, palm toward you)", right=1, up=2),
    View("radial-ulnar (from -y)", right=0, up=2),
    View("along fingers (from -z)", right=1, up=0),
)
WORLD_VIEWS: tuple[View, ...] = (
    View("world, from above", right=1, up=0, flip_right=True),
    View("world, from behind", right=1, up=2, flip_right=True),
)
_AXIS_NAMES = "xyz"


def _project(points: np.ndarray, view: View) -> tuple[np.ndarray, np.ndarray]:
    points = np.asarray(points)
    return points[..., view.right], points[..., view.up]


def _label_axes(ax: Axes, view: View, frame: str) -> None:
    ax.set_xlabel(f"{'-' if view.flip_right else ''}{_AXIS_NAMES[view.right]} ({frame}, m)", fontsize=7)
    ax.set_ylabel(f"{_AXIS_NAMES[view.up]} ({frame}, m)", fontsize=7)
    ax.tick_params(labelsize=6)
    if view.flip_right:
        ax.invert_xaxis()


def draw_skeleton(ax: Axes, keypoints: np.ndarray, valid: np.ndarray, view: View, *,
                  last_seen: np.ndarray | None = None, numbers: bool = False,
                  marker_size: float = 12.0, linewidth: float = 1.6) -> list[int]:  # fmt: skip
    """Draw one hand's bones and keypoints projected on ``view``.

    Args:
        keypoints: (21, 3) in the wrist frame, m (NaN where invalid).
        valid: (21,) bool.
        last_seen: (21, 3) last valid position of each keypoint (NaN if never seen);
            invalid keypoints are marked there with a grey cross.
        numbers: write each keypoint's index next to it.

    Returns:
        The indices of the invalid keypoints.
    """
    u, v = _project(keypoints, view)
    for a, b in BONES:
        if valid[a] and valid[b]:
            ax.plot([u[a], u[b]], [v[a], v[b]], color=_bone_color(a, b), lw=linewidth, zorder=2)
    colors = [FINGER_COLORS[keypoint_finger(k)] for k in range(NUM_KEYPOINTS)]
    idx = np.flatnonzero(valid)
    ax.scatter(u[idx], v[idx], s=marker_size, c=[colors[k] for k in idx], zorder=3, linewidths=0)
    invalid = [int(k) for k in np.flatnonzero(~valid)]
    if last_seen is not None and invalid:
        lu, lv = _project(last_seen[invalid], view)
        ax.scatter(lu, lv, s=marker_size * 2, marker="x", c="#999999", linewidths=1.0, zorder=3)
    if numbers:
        for k in idx:
            # The wrist's number goes up-left, clear of axis markers drawn at the origin.
            offset = (-12, 6) if k == 0 else (4, 3)
            ax.annotate(str(k), (u[k], v[k]), textcoords="offset points", xytext=offset,
                        fontsize=8, color=colors[k], zorder=4)  # fmt: skip
    return invalid


def draw_axes_2d(ax: Axes, view: View, length: float, origin: np.ndarray | None = None,
                 rotation: np.ndarray | None = None, *, labels: bool = True, width: float = 0.002) -> None:
    """Draw the x/y/z axes of a frame (columns of ``rotation``) at ``origin`` on ``view``.

    An axis pointing out of (into) the page is drawn as a dot (cross) in a circle.
    """
    origin = np.zeros(3) if origin is None else origin
    rotation = np.eye(3) if rotation is None else rotation
    sign = -1.0 if view.flip_right else 1.0
    o_u, o_v = _project(origin, view)
    for a in range(3):
        d = rotation[:, a] * length
        du, dv = _project(d, view)
        if math.hypot(du, dv) < 0.15 * length:  # (nearly) along the line of sight
            # The page normal (right x up) points at the viewer; a flipped axis mirrors it.
            normal = np.cross(np.eye(3)[view.right] * sign, np.eye(3)[view.up])
            toward = float(np.dot(d, normal)) > 0
            ax.scatter([o_u], [o_v], s=120, facecolors="none", edgecolors=AXIS_COLORS[a], lw=1.5, zorder=5)
            ax.scatter([o_u], [o_v], s=40 if toward else 60, marker="." if toward else "x",
                       c=AXIS_COLORS[a], linewidths=1.5, zorder=6)  # fmt: skip
            if labels:
                ax.annotate(f"{_AXIS_NAMES[a]} {'(out)' if toward else '(in)'}", (o_u, o_v),
                            textcoords="offset points", xytext=(-30, -14), fontsize=9,
                            color=AXIS_COLORS[a], weight="bold")  # fmt: skip
            continue
        ax.annotate("", xy=(o_u + du, o_v + dv), xytext=(o_u, o_v),
                    arrowprops=dict(arrowstyle="-|>", color=AXIS_COLORS[a], lw=2.0), zorder=5)  # fmt: skip
        if labels:
            ax.annotate(_AXIS_NAMES[a], (o_u + 1.12 * du, o_v + 1.12 * dv), fontsize=11,
                        color=AXIS_COLORS[a], weight="bold", ha="center", va="center")  # fmt: skip


# ----------------------------------------------------------------------------------------
# Stream movies


@dataclasses.dataclass
class _StreamArrays:
    """A stream unpacked into arrays, hand axis in :data:`SIDES` order."""

    t: np.ndarray  # (N,)
    present: np.ndarray  # (N, 2) bool
    keypoints: np.ndarray  # (N, 2, 21, 3), NaN where invalid or absent
    valid: np.ndarray  # (N, 2, 21) bool
    last_seen: np.ndarray  # (N, 2, 21, 3) forward-filled keypoints, NaN before first seen
    wrist_pos: np.ndarray  # (N, 2, 3), NaN where invalid
    wrist_rot: np.ndarray  # (N, 2, 3, 3), NaN where invalid
    pedals: np.ndarray  # (N, 2) bool: takeover, copilot

    @classmethod
    def from_frames(cls, frames: FrameSequence) -> _StreamArrays:
        n = len(frames)
        if n == 0:
            raise ValueError("cannot render an empty stream")
        arr = cls(
            t=np.zeros(n), present=np.zeros((n, 2), bool),
            keypoints=np.full((n, 2, NUM_KEYPOINTS, 3), np.nan), valid=np.zeros((n, 2, NUM_KEYPOINTS), bool),
            last_seen=np.full((n, 2, NUM_KEYPOINTS, 3), np.nan), wrist_pos=np.full((n, 2, 3), np.nan),
            wrist_rot=np.full((n, 2, 3, 3), np.nan), pedals=np.zeros((n, 2), bool),
        )  # fmt: skip
        for i in range(n):
            frame = frames.frame(i)
            arr.t[i] = frame.t
            arr.pedals[i] = frame.pedals.takeover, frame.pedals.copilot
            for s, side in enumerate(SIDES):
                hand = frame.hands[side]
                if hand is None:
                    continue
                arr.present[i, s] = True
                arr.valid[i, s] = hand.valid
                arr.keypoints[i, s][hand.valid] = hand.keypoints[hand.valid]
                if hand.wrist_valid:
                    arr.wrist_pos[i, s] = hand.wrist_pos
                    arr.wrist_rot[i, s] = mat_from_quat(hand.wrist_quat)
        seen = np.full((2, NUM_KEYPOINTS, 3), np.nan)
        for i in range(n):
            seen = np.where(arr.valid[i][..., None], arr.keypoints[i], seen)
            arr.last_seen[i] = seen
        return arr


def _limits(values: np.ndarray, pad: float, minimum: float) -> tuple[float, float]:
    """(lo, hi) of the finite values, padded, at least ``minimum`` wide (around 0 if none)."""
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    centre, half = 0.5 * (lo + hi), max(0.5 * (hi - lo) + pad, 0.5 * minimum)
    return centre - half, centre + half


class _HandPanel:
    """Artists of one hand in one wrist-frame view; updated in place for each frame."""

    def __init__(self, ax: Axes, view: View, limits: list[tuple[float, float]], title: str) -> None:
        from matplotlib.collections import LineCollection

        self.ax, self.view = ax, view
        ax.set_xlim(*limits[view.right])
        ax.set_ylim(*limits[view.up])
        ax.set_aspect("equal", adjustable="box")
        _label_axes(ax, view, "wrist")
        ax.set_title(title, fontsize=8)
        self._bone_colors = np.array([_bone_color(a, b) for a, b in BONES])
        self._point_colors = np.array([FINGER_COLORS[keypoint_finger(k)] for k in range(NUM_KEYPOINTS)])
        self.bones = LineCollection([], linewidths=1.6, zorder=2)
        ax.add_collection(self.bones)
        self.points = ax.scatter([], [], s=12, zorder=3, linewidths=0)
        self.missing = ax.scatter([], [], s=24, marker="x", c="#999999", linewidths=1.0, zorder=3)
        self.note = ax.text(0.02, 0.02, "", transform=ax.transAxes, fontsize=6, color="#b00000")
        self.untracked = ax.text(0.5, 0.5, "not tracked", transform=ax.transAxes, ha="center",
                                 color="#999999", visible=False)  # fmt: skip
        self.artists = [self.bones, self.points, self.missing, self.note, self.untracked]

    def update(self, keypoints: np.ndarray | None, valid: np.ndarray, last_seen: np.ndarray,
               note: bool) -> None:  # fmt: skip
        """Show ``keypoints`` (21, 3) (None: untracked) with ``valid`` (21,) and ``last_seen`` (21, 3)."""
        self.untracked.set_visible(keypoints is None)
        if keypoints is None:
            valid = np.zeros(NUM_KEYPOINTS, dtype=bool)
            keypoints = last_seen = np.full((NUM_KEYPOINTS, 3), np.nan)
        u, v = _project(keypoints, self.view)
        uv = np.stack([u, v], axis=-1)
        shown = [j for j, (a, b) in enumerate(BONES) if valid[a] and valid[b]]
        self.bones.set_segments([uv[list(BONES[j])] for j in shown])
        self.bones.set_color(self._bone_colors[shown].tolist())
        self.points.set_offsets(uv[valid].reshape(-1, 2))
        self.points.set_facecolor(self._point_colors[valid])
        invalid = np.flatnonzero(~valid)
        lu, lv = _project(last_seen[invalid], self.view)
        seen = np.isfinite(lu) & np.isfinite(lv)
        self.missing.set_offsets(np.stack([lu[seen], lv[seen]], axis=-1).reshape(-1, 2))
        text = ""
        if note and invalid.size and keypoints is not None and valid.any():
            text = "invalid: " + ", ".join(str(k) for k in invalid[:8]) + (" ..." if invalid.size > 8 else "")
        elif note and not valid.any() and not self.untracked.get_visible():
            text = "no valid keypoint"
        self.note.set_text(text)


class _WorldPanel:
    """Wrist trajectories and current wrist axes in one operator-world view."""

    _COLORS = {Side.LEFT: "#9467bd", Side.RIGHT: "#8c564b"}  # unlike the axis colours
    _AXIS_LENGTH = 0.06

    def __init__(self, ax: Axes, view: View, limits: list[tuple[float, float]],
                 wrist_pos: np.ndarray) -> None:  # fmt: skip
        self.ax, self.view = ax, view
        ax.set_xlim(*limits[view.right])
        ax.set_ylim(*limits[view.up])
        ax.set_aspect("equal", adjustable="box")
        _label_axes(ax, view, "op. world")
        ax.set_title(view.name, fontsize=8)
        self.trails, self.axes, self.labels = [], [], []
        for s, side in enumerate(SIDES):
            u, v = _project(wrist_pos[:, s], view)
            ax.plot(u, v, color=self._COLORS[side], alpha=0.15, lw=0.8)  # the whole stream, static
            self.trails.append(ax.plot([], [], color=self._COLORS[side], lw=1.2)[0])
            self.axes.append([ax.plot([], [], color=c, lw=1.5)[0] for c in AXIS_COLORS])
            self.labels.append(ax.text(0, 0, side.value[0].upper(), fontsize=7, color=self._COLORS[side],
                                       weight="bold", visible=False))  # fmt: skip
        self.note = ax.text(0.02, 0.04, "", transform=ax.transAxes, fontsize=6, color="#b00000")
        axis_lines = [line for lines in self.axes for line in lines]
        self.artists = [*self.trails, *axis_lines, *self.labels, self.note]

    def update(self, trail: np.ndarray, pos: np.ndarray, rot: np.ndarray) -> None:
        """Show ``trail`` (n, 2, 3) and the current wrist ``pos`` (2, 3) and ``rot`` (2, 3, 3)."""
        invalid = []
        for s, side in enumerate(SIDES):
            self.trails[s].set_data(*_project(trail[:, s], self.view))
            ok = bool(np.isfinite(pos[s]).all())
            for a, line in enumerate(self.axes[s]):
                tip = pos[s] + self._AXIS_LENGTH * rot[s][:, a]
                line.set_data(*_project(np.stack([pos[s], tip]), self.view)) if ok else line.set_data([], [])
            self.labels[s].set_visible(ok)
            if ok:
                u, v = _project(pos[s] - 0.02 * rot[s][:, 2], self.view)
                self.labels[s].set_position((float(u), float(v)))
            else:
                invalid.append(side.value)
        self.note.set_text(f"wrist invalid: {', '.join(invalid)}" if invalid else "")


class StreamRenderer:
    """Draws frame ``i`` of a stream into one figure of ``size`` pixels.

    Layout: per hand (rows: left, right) the three :data:`WRIST_VIEWS`; on the right the
    :data:`WORLD_VIEWS` of both wrists' trajectories (the last ``trail_s`` seconds solid,
    the whole stream faint) with the current wrist axes (x red, y green, z blue, 6 cm);
    along the bottom a timeline of the pedals and of the fraction of valid keypoints per
    hand, with a cursor at the current frame.

    Only the artists that change are redrawn (blitting over a cached background of axes,
    ticks and static curves): drawing the tick labels dominates a full redraw.
    """

    def __init__(self, frames: FrameSequence, *, size: tuple[int, int] = (1280, 720), dpi: int = 100,
                 trail_s: float = 2.0) -> None:  # fmt: skip
        plt = _pyplot()
        self.size = size
        self.trail_s = trail_s
        self._arr = arr = _StreamArrays.from_frames(frames)
        self._fig: Figure = plt.figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
        grid = self._fig.add_gridspec(3, 4, height_ratios=(1.0, 1.0, 0.5), left=0.05, right=0.985,
                                      bottom=0.07, top=0.93, wspace=0.32, hspace=0.45)  # fmt: skip
        wrist_limits = [_limits(arr.last_seen[..., c], 0.01, 0.05) for c in range(3)]
        world_limits = [_limits(arr.wrist_pos[..., c], 0.05, 0.2) for c in range(3)]
        self._hands = [
            [_HandPanel(self._fig.add_subplot(grid[s, v]), view, wrist_limits,
                        f"{side.value}: {view.name}" if v == 0 else view.name)
             for v, view in enumerate(WRIST_VIEWS)]
            for s, side in enumerate(SIDES)
        ]  # fmt: skip
        self._world = [_WorldPanel(self._fig.add_subplot(grid[r, 3]), view, world_limits, arr.wrist_pos)
                       for r, view in enumerate(WORLD_VIEWS)]  # fmt: skip
        self._cursor = self._draw_timeline(self._fig.add_subplot(grid[2, :]))
        self._title = self._fig.suptitle("", fontsize=10)
        self._dynamic: list[Artist] = [self._cursor, self._title]
        panels: list[_HandPanel | _WorldPanel] = [*(p for row in self._hands for p in row), *self._world]
        for panel in panels:
            self._dynamic += panel.artists
        for artist in self._dynamic:
            artist.set_animated(True)  # excluded from the background, drawn by rgb()
        self._background: Any = None  # Agg BufferRegion, made at the first rgb()

    def __len__(self) -> int:
        return len(self._arr.t)

    @property
    def figure(self) -> Figure:
        return self._fig

    @property
    def times(self) -> np.ndarray:
        """(N,) frame times, s."""
        return self._arr.t

    def close(self) -> None:
        _pyplot().close(self._fig)

    def __enter__(self) -> StreamRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _draw_timeline(self, ax: Axes) -> Line2D:
        """Draw the static lanes; return the cursor line."""
        arr = self._arr
        lanes = [("takeover", arr.pedals[:, 0].astype(float), "#d62728"),
                 ("copilot", arr.pedals[:, 1].astype(float), "#ff7f0e")]  # fmt: skip
        for s, side in enumerate(SIDES):
            fraction = arr.valid[:, s].sum(axis=1) / NUM_KEYPOINTS
            lanes.append((f"{side.value} valid", fraction, _WorldPanel._COLORS[side]))
        for lane, (_, values, color) in enumerate(lanes):
            base = len(lanes) - 1 - lane
            ax.fill_between(arr.t, base, base + 0.8 * values, step="post", color=color, alpha=0.6, lw=0)
            ax.axhline(base, color="#cccccc", lw=0.5)
        ax.set_yticks([len(lanes) - 1 - k + 0.4 for k in range(len(lanes))], [n for n, _, _ in lanes])
        ax.tick_params(labelsize=7)
        t_lo, t_hi = float(arr.t[0]), float(arr.t[-1])
        ax.set_xlim(t_lo, t_hi if t_hi > t_lo else t_lo + 1.0)
        ax.set_ylim(0, len(lanes))
        ax.set_xlabel("stream time (s)", fontsize=7)
        return ax.axvline(arr.t[0], color="black", lw=1.2)

    def draw(self, i: int) -> Figure:
        """Update the figure to frame ``i`` and return it."""
        arr = self._arr
        if not 0 <= i < len(self):
            raise IndexError(f"frame {i} outside [0, {len(self)})")
        for s in range(len(SIDES)):
            keypoints = arr.keypoints[i, s] if arr.present[i, s] else None
            for v, hand_panel in enumerate(self._hands[s]):
                hand_panel.update(keypoints, arr.valid[i, s], arr.last_seen[i, s], note=v == 0)
        recent = slice(int(np.searchsorted(arr.t, arr.t[i] - self.trail_s)), i + 1)
        for world_panel in self._world:
            world_panel.update(arr.wrist_pos[recent], arr.wrist_pos[i], arr.wrist_rot[i])
        self._cursor.set_xdata([arr.t[i], arr.t[i]])
        takeover, copilot = arr.pedals[i]
        mode = "TAKEOVER" if takeover else "copilot" if copilot else "none"
        self._title.set_text(f"frame {i}   t = {arr.t[i]:.3f} s   pedal: {mode}")
        return self._fig

    def rgb(self, i: int) -> np.ndarray:
        """(H, W, 3) uint8 image of frame ``i``, H x W = ``size`` reversed."""
        self.draw(i)
        canvas = cast("FigureCanvasAgg", self._fig.canvas)  # the Agg backend is forced
        if self._background is None:
            canvas.draw()
            self._background = canvas.copy_from_bbox(self._fig.bbox)
        canvas.restore_region(self._background)
        for artist in self._dynamic:
            self._fig.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def write_png(self, i: int, path: str | pathlib.Path) -> pathlib.Path:
        """Draw frame ``i`` into a PNG of ``size`` pixels."""
        from PIL import Image  # a matplotlib dependency

        Image.fromarray(self.rgb(i)).save(path)
        return pathlib.Path(path)


def frame_indices(n: int, every: int = 1, start: int = 0, stop: int | None = None) -> range:
    """Indices ``start, start + every, ...`` below ``stop`` (or ``n``)."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    return range(max(start, 0), min(n, n if stop is None else stop), every)


def render_stream(frames: FrameSequence, out_dir: str | pathlib.Path, *, every: int = 1, start: int = 0,
                  stop: int | None = None, video: bool = False, fps: float | None = None,
                  size: tuple[int, int] = (1280, 720)) -> list[pathlib.Path]:  # fmt: skip
    """Render every ``every``-th frame to ``out_dir/frame_00000.png`` ..., or to one
    ``out_dir/stream.mp4`` if ``video`` and ``imageio[ffmpeg]`` is installed (otherwise
    PNGs, with a warning). ``fps`` defaults to the stream's rate divided by ``every``
    (real time). Returns the written paths.
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with StreamRenderer(frames, size=size) as renderer:
        indices = frame_indices(len(renderer), every, start, stop)
        if video:
            writer = _video_writer(out / "stream.mp4", fps or _real_time_fps(renderer.times, every))
            if writer is not None:
                with writer:
                    for i in indices:
                        writer.append_data(renderer.rgb(i))
                return [out / "stream.mp4"]
        return [renderer.write_png(i, out / f"frame_{i:05d}.png") for i in indices]


def _real_time_fps(t: np.ndarray, every: int) -> float:
    dt = np.diff(t)
    dt = dt[dt > 0]
    return float(1.0 / (np.median(dt) * every)) if dt.size else 30.0


def _video_writer(path: pathlib.Path, fps: float) -> Any:
    """An imageio MP4 writer, or None (with a warning) if ``imageio[ffmpeg]`` is missing."""
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (imageio finds its bundled ffmpeg through it)
    except ImportError:
        warnings.warn("MP4 output needs `pip install imageio[ffmpeg]`; writing PNG frames instead",
                      stacklevel=3)  # fmt: skip
        return None
    # macro_block_size=1 keeps odd frame sizes instead of resizing them.
    return imageio.get_writer(path, fps=fps, codec="libx264", quality=7, macro_block_size=1)


# ----------------------------------------------------------------------------------------
# The conventions picture


_CONVENTION_LIMITS = ((-0.04, 0.1), (-0.11, 0.11), (-0.03, 0.2))
"""Wrist-frame x, y, z plot ranges of the conventions picture, m."""


def draw_conventions_figure(path: str | pathlib.Path, *, curl: float = 0.35,
                            size: tuple[int, int] = (1900, 1000), dpi: int = 100) -> pathlib.Path:
    """Right and left hand skeletons in their wrist frames, with axes and keypoint indices.

    Rows: right hand, left hand. Columns: the three :data:`WRIST_VIEWS` (palmar, from +x;
    radial-ulnar, from -y; along the fingers, from -z) and an oblique 3D view. An axis
    along the line of sight is a dot (toward the viewer) or a cross (away) in a circle.
    Writes a PNG at ``path`` and returns it.
    """
    plt = _pyplot()
    fig = plt.figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    grid = fig.add_gridspec(2, 4, width_ratios=(1.0, 0.85, 1.0, 1.1), left=0.04, right=0.99, bottom=0.06,
                            top=0.86, wspace=0.22, hspace=0.3)  # fmt: skip
    for row, side in enumerate((Side.RIGHT, Side.LEFT)):
        kp = hand_keypoints(side, curl)
        valid = np.ones(NUM_KEYPOINTS, dtype=bool)
        for col, view in enumerate(WRIST_VIEWS):
            ax = fig.add_subplot(grid[row, col])
            # Numbers only where fingers do not hide each other (the side view stacks them).
            draw_skeleton(ax, kp, valid, view, numbers=col != 1, marker_size=22, linewidth=2.2)
            draw_axes_2d(ax, view, 0.05)
            ax.set_xlim(*_CONVENTION_LIMITS[view.right])
            ax.set_ylim(*_CONVENTION_LIMITS[view.up])
            ax.set_aspect("equal", adjustable="box")
            ax.grid(alpha=0.25)
            _label_axes(ax, view, "wrist frame")
            ax.set_title(f"{side.value} hand: {view.name}", fontsize=11)
        ax3 = fig.add_subplot(grid[row, 3], projection="3d")
        _draw_hand_3d(ax3, kp)
        ax3.set_title(f"{side.value} hand: oblique", fontsize=11)
    fig.suptitle(
        "Wrist frame (= robot palm frame): origin at the wrist keypoint 0; z toward the middle-finger "
        "MCP (9); x the palmar normal (out of the palm);\ny = z × x: toward the thumb on a right hand, "
        "away from it on a left hand, so the left hand is the right hand mirrored in y. "
        "Keypoints in MediaPipe order; x red, y green, z blue.",
        fontsize=12,
    )
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def _draw_hand_3d(ax: Axes3D, kp: np.ndarray) -> None:
    for a, b in BONES:
        ax.plot(*kp[[a, b]].T, color=_bone_color(a, b), lw=2.0)
    colors = [FINGER_COLORS[keypoint_finger(k)] for k in range(NUM_KEYPOINTS)]
    ax.scatter(*kp.T, c=colors, s=18, depthshade=False)
    for k in range(NUM_KEYPOINTS):
        ax.text(*(kp[k] + 0.004), str(k), fontsize=7, color=colors[k])
    for a in range(3):
        d = np.eye(3)[a] * 0.06
        ax.quiver(0, 0, 0, *d, color=AXIS_COLORS[a], lw=2.0, arrow_length_ratio=0.2)
        ax.text(*(1.2 * d), _AXIS_NAMES[a], color=AXIS_COLORS[a], fontsize=12, weight="bold")
    ax.set_xlim(-0.05, 0.1)
    ax.set_ylim(-0.1, 0.1)
    ax.set_zlim(0.0, 0.2)
    ax.set_box_aspect((0.15, 0.2, 0.2))
    ax.view_init(elev=22, azim=-40)
    # Tick labels clutter a 3D view of a 20 cm hand; the 2D views carry the scale.
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.set_zticklabels([])
