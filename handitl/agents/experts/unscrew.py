"""Scripted expert for ``UnscrewByHand``: steady the block, ratchet each wing nut off, tray it.

The left hand lies palm down on the block's free (+y) end, pressing it from the start to
the end (steadying, which the task scores). The right hand unscrews each nut (``nut_b``,
the one nearer the left hand, first, so the right arm then moves away from it) by
*wrist strokes*: it pinches one wing between the thumb and index pads (the pad pinch of
:func:`~handitl.assets.procedural_hand.solve_pinch_pose`, pinch axis across the wing,
index fingertip down), orbits the palm counter-clockwise about the nut's axis by up to
``stroke`` rad (the FR3's joint 7 does most of it), opens, rises, and turns back for the
next stroke. The wing nut looks the same every half turn, so a stroke starts at the pinch
direction nearest above ``yaw_low`` among the two the wings offer, and ends before
``yaw_high``: the window keeps joint 7 within its range. Once the prop releases the nut at
the top of its thread, the pinched nut is lifted off the stud, carried over the tray,
lowered and let go.

Strokes are planned one at a time from the measured nut pose. A pinch that does not
close on the wing (timeout) opens, rises and plans the stroke again. ``hold()`` is the
base class's; ``intent(t)`` covers what has been planned so far.

Status: work in progress, NOT registered in ``expert_for`` and untested: it scores 0.0
on seed 0. The steadying left hand works and one stroke turned a nut 0.3 turns, but the
palm-down, index-down pinch is reachable only for pinch-axis yaws of about 2.5-4.2 rad
(FR3 joint 6 at its limit elsewhere), narrower than the wing nut's half-turn symmetry, so
~45 % of nut orientations offer no reachable pinch and the window guessed here ([1.2,
5.2]) loops. Ways on: a horizontal-fingertip pinch (re-measure the window), a one-finger
pre-turn of the wing into the window, or three- or four-winged nuts.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from handitl.agents.experts.base import ScriptedExpert, Segment, SideTarget
from handitl.agents.experts.pinch import PadPinch, pad_pinch, palm_rotation
from handitl.assets.hand_description import Side
from handitl.assets.props import assembly as ap
from handitl.envs.bimanual_env import BimanualEnv
from handitl.envs.rotations import quat_from_mat
from handitl.envs.tasks.unscrew import NUTS, UnscrewByHand

PAD_TO_TIP = 0.016
"""Height of the pads' centre above the lowest fingertip cap in the palm-down pinch, m."""


def _rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclasses.dataclass(frozen=True)
class UnscrewByHandExpertConfig:
    """Gaps (m), heights (m), angles (rad, world yaw of the index-to-thumb axis) and
    timings (s)."""

    open_gap_extra: float = 0.025
    """Pad clearance over the wing's thickness before the pinch."""
    squeeze: tuple[tuple[str, float], ...] = (
        ("thumb_cmc_flex", 0.12),
        ("thumb_mcp_flex", 0.12),
        ("index_mcp", 0.15),
    )
    """Hold targets past the pads' contact pose, rad."""
    yaw_low: float = 1.2
    """Lowest pinch-axis yaw a stroke starts at."""
    yaw_high: float = 5.2
    """Highest pinch-axis yaw a stroke ends at."""
    stroke: float = 2.4
    """Largest turn of one stroke."""
    wing_side: float = 1.0
    """+1: the pinched wing points along the pinch axis turned by -90 degrees."""
    pre_height: float = 0.045
    """Height of the pre-pinch pose above the pinch pose."""
    turn_rate: float = 1.6
    """Orbit speed during a stroke, rad/s."""
    turn_pieces: int = 8
    """Straight pieces of a stroke's orbit."""
    curl: tuple[float, float, float] = (1.2, 1.3, 0.6)
    """MCP, PIP, DIP of the middle, ring and little fingers (curled out of the way), rad."""
    steady_reach: float = 0.194
    """Distance of the open middle fingertip from the palm site along the fingers, m."""
    steady_press: float = 0.006
    """Depth the fingertips are commanded below the block's top, m."""
    lift: float = 0.05
    """Height gained over the stud's top when lifting a released nut off, m."""
    carry_height: float = 0.09
    """Height of the pads over the table while carrying a nut to the tray, m."""
    drop_height: float = 0.045
    """Height of the pads over the table where the nut is let go, m."""
    attempts: int = 4
    """Most failed pinches per nut before the expert gives it up."""


class UnscrewByHandExpert(ScriptedExpert):
    """Plays the unscrewing plan (see the module docstring)."""

    def __init__(self, env: BimanualEnv, config: UnscrewByHandExpertConfig | None = None) -> None:
        super().__init__(env)
        task = env.task
        if not isinstance(task, UnscrewByHand):
            raise TypeError(f"UnscrewByHandExpert needs an UnscrewByHand task, got {type(task).__name__}")
        self.task: UnscrewByHand = task
        self.config = config or UnscrewByHandExpertConfig()
        self.side = task.config.side
        self.steady_side = Side.LEFT if self.side is Side.RIGHT else Side.RIGHT
        names = env.robot.hands[self.side].description.joint_names
        curl = np.zeros(len(names))
        for i, name in enumerate(names):
            finger, _, joint = name.split("/")[-1].partition("_")
            if finger in ("middle", "ring", "little") and joint in ("mcp", "pip", "dip"):
                curl[i] = self.config.curl[("mcp", "pip", "dip").index(joint)]
        self._curl = curl
        self._joint_names = [n.split("/")[-1] for n in names]
        self._pinch_cache: dict[float, PadPinch] = {}
        self._queue: list[str] = []
        self._phase = "turn"
        self._fails = 0

    # --- pinch kinematics -------------------------------------------------------------------

    def _pinch(self, gap: float) -> PadPinch:
        """The pad pinch at ``gap`` (cached: solved once per gap)."""
        key = round(gap, 5)
        if key not in self._pinch_cache:
            self._pinch_cache[key] = pad_pinch(
                self.env.model, self.env.robot.hands[self.side], gap, self._curl
            )
        return self._pinch_cache[key]

    def _palm_rotation(self, yaw: float) -> np.ndarray:
        """World rotation of the palm: pinch axis at world ``yaw`` (horizontal), index
        fingertip down."""
        return palm_rotation(self._pinch(ap.WING_THICKNESS), np.array([math.cos(yaw), math.sin(yaw), 0.0]))

    def open_hand(self) -> np.ndarray:
        """(n,) hand targets of the open pre-pinch pose, rad."""
        return self._pinch(ap.WING_THICKNESS + self.config.open_gap_extra).q.copy()

    def hold_hand(self) -> np.ndarray:
        """(n,) hand targets squeezing a wing, rad."""
        q = self._pinch(ap.WING_THICKNESS).q.copy()
        for joint, extra in self.config.squeeze:
            q[self._joint_names.index(joint)] += extra
        return q

    # --- plan -------------------------------------------------------------------------------

    def _steady_target(self) -> SideTarget:
        """Fingertips pressing down on the block's free end, palm upright facing the
        robot (palm down with flat fingers puts the FR3's joint 6 at its limit this low)."""
        c = self.config
        pos, rot = self.task.assembly_pose(self.env.data)
        point = pos + rot @ np.array([0.0, ap.STEADY_Y, 2 * ap.BASE_HALF_SIZE[2]])
        # Palm frame: +x palm normal, +z along the fingers.
        R = np.stack([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]], 1)
        palm = point - R @ np.array([0.01, 0.0, c.steady_reach]) - [0.0, 0.0, c.steady_press]
        return SideTarget(palm, quat_from_mat(R), np.zeros_like(self._start[self.steady_side].hand_q))

    def plan(self) -> list[Segment]:
        self._queue = list(reversed(NUTS))
        self._phase = "turn"
        self._fails = 0
        steady = self._steady_target()
        above = SideTarget(steady.pos + [0.0, 0.0, 0.06], steady.quat, steady.hand_q)
        start = self._start[self.steady_side].pos
        # The FR3's differential IK is local: turn the hand where it is, then translate.
        raised = SideTarget(start + [0.0, 0.0, 0.12])
        turned = SideTarget(start + [0.0, 0.0, 0.12], steady.quat, steady.hand_q)
        segments = [
            Segment("steady:raise", 0.5, {self.steady_side: raised}),
            Segment("steady:turn", 0.8, {self.steady_side: turned}),
            Segment("steady:above", 1.0, {self.steady_side: above}),
            Segment(
                "steady:press",
                0.6,
                {self.steady_side: steady},
                until=lambda e: self.task.measurements["steadied"] > 0,
                timeout=1.5,
            ),  # fmt: skip
        ]
        return segments + self._stroke(self._queue[0], first=True)

    def _stroke(self, nut: str, first: bool = False) -> list[Segment]:
        """Pinch a wing, orbit the palm counter-clockwise about the nut's axis, open, rise."""
        c, side, task = self.config, self.side, self.task
        pos, rot = task.nut_pose(self.env.data, nut)
        psi = math.atan2(rot[1, 0], rot[0, 0])
        # Pinch-axis yaws the wings offer repeat every pi: the first at or above yaw_low.
        base = psi + c.wing_side * 0.5 * math.pi
        start = c.yaw_low + (base - c.yaw_low) % math.pi
        stroke = min(c.stroke, c.yaw_high - start)
        wing_dir = start - c.wing_side * 0.5 * math.pi
        grip = pos + np.array([ap.WING_GRIP_RADIUS * math.cos(wing_dir),
                               ap.WING_GRIP_RADIUS * math.sin(wing_dir), ap.WING_GRIP_HEIGHT])  # fmt: skip
        R0 = self._palm_rotation(start)
        palm0 = grip - R0 @ self._pinch(ap.WING_THICKNESS).midpoint
        axis = pos.copy()
        q_open, q_hold = self.open_hand(), self.hold_hand()
        pre = palm0 + [0.0, 0.0, c.pre_height]
        segments = [
            Segment(f"{nut}:pre_pinch", 1.2 if first else 0.8,
                    {side: SideTarget(pre, quat_from_mat(R0), q_open)},
                    until=lambda e: np.linalg.norm(e.palm_pose(side)[0] - pre) < 0.012, timeout=1.0),
            Segment(f"{nut}:approach", 0.5, {side: SideTarget(palm0)}),
            Segment(f"{nut}:pinch", 0.3, {side: SideTarget(hand_q=q_hold)},
                    until=lambda e: task.measurements[f"{nut}_pinched"] > 0, timeout=0.6),
        ]  # fmt: skip
        self._turn_from = len(segments)
        pieces = max(2, round(c.turn_pieces * stroke / c.stroke))
        for i in range(1, pieces + 1):
            theta = stroke * i / pieces
            rise = ap.THREAD_PITCH / (2 * math.pi) * theta
            Rz = _rot_z(theta)
            palm = axis + Rz @ (palm0 - axis) + [0.0, 0.0, rise]
            segments.append(Segment(f"{nut}:turn", stroke / pieces / c.turn_rate,
                                    {side: SideTarget(palm, quat_from_mat(Rz @ R0))}))  # fmt: skip
        return segments

    def _release_and_rise(self, nut: str) -> list[Segment]:
        palm, _ = self.env.palm_pose(self.side)
        return [
            Segment(f"{nut}:let_go", 0.25, {self.side: SideTarget(hand_q=self.open_hand())}),
            Segment(f"{nut}:rise", 0.35, {self.side: SideTarget(palm + [0.0, 0.0, 0.04])}),
        ]

    def _remove(self, nut: str) -> list[Segment]:
        """Lift the released, pinched nut off its stud, carry it over the tray, let go."""
        c, side, task = self.config, self.side, self.task
        palm, _ = self.env.palm_pose(side)
        nut_pos, _ = task.nut_pose(self.env.data, nut)
        stud_top = 2 * ap.BASE_HALF_SIZE[2] + ap.STUD_HEIGHT
        up = palm + [0.0, 0.0, stud_top + c.lift - nut_pos[2]]
        pads = self.env.data.site_xpos[self.env.robot.hands[side].fingertip_sites[:2]].mean(axis=0)
        com = task.nut_com(self.env.data, nut)
        tray = task.tray_centre()
        shift = np.array([tray[0] - com[0], tray[1] - com[1], 0.0])
        carry = palm + shift + [0.0, 0.0, c.carry_height - pads[2]]
        drop = palm + shift + [0.0, 0.0, c.drop_height - pads[2]]
        return [
            Segment(f"{nut}:lift", 0.6, {side: SideTarget(up)},
                    until=lambda e: task.measurements[f"{nut}_held_off"] > 0, timeout=0.6),
            Segment(f"{nut}:carry", 1.2, {side: SideTarget(carry)}),
            Segment(f"{nut}:lower", 0.5, {side: SideTarget(drop)}),
            Segment(f"{nut}:release", 0.3, {side: SideTarget(hand_q=self.open_hand())},
                    until=lambda e: task.measurements[f"{nut}_touched"] == 0, timeout=0.6),
            Segment(f"{nut}:retreat", 0.4, {side: SideTarget(drop + [0.0, 0.0, 0.06])},
                    until=lambda e: task.evaluate(e.model, e.data).stages[f"{nut}_in_tray"],
                    timeout=1.0),
        ]  # fmt: skip

    def _home(self) -> list[Segment]:
        start = self._start[self.side]
        return [
            Segment("home", 1.2, {self.side: SideTarget(start.pos, start.quat, np.zeros_like(start.hand_q))})
        ]

    def _next(self) -> list[Segment]:
        """The next piece of the plan once the last one has been played."""
        if not self._queue:
            return []
        nut = self._queue[0]
        task = self.task
        if self._phase == "turn":
            if task.thread(nut).engaged(self.env.data):
                return self._release_and_rise(nut) + self._stroke(nut)
            if task.measurements[f"{nut}_pinched"] > 0:
                self._phase = "remove"
                return self._remove(nut)
            # Released but not in the hand: pick it up is not planned; give the nut up.
        self._queue.pop(0)
        self._phase = "turn"
        self._fails = 0
        if not self._queue:
            return self._release_and_rise(nut) + self._home()
        return self._release_and_rise(nut) + self._stroke(self._queue[0], first=True)

    def _abandon(self) -> None:
        """After a timeout: open, rise and try the stroke again (or give the nut up)."""
        self.failed = False
        self._segments = self._segments[: self._index + 1]
        self._index += 1
        self._segment_start = self.env.data.time
        self._waiting_since = None
        self._fails += 1
        nut = self._queue[0]
        if self._fails > self.config.attempts or self._phase == "remove":
            self._queue.pop(0)
            self._phase = "turn"
            self._fails = 0
        self._segments += self._release_and_rise(nut)
        self._keyframes = self._plan_keyframes()

    def act(self, observation: dict) -> np.ndarray:
        if self._hold is None:
            if self.failed and self._queue:
                self._abandon()
            if self._index >= len(self._segments):
                more = self._next()
                if more:
                    self._segments += more
                    self._keyframes = self._plan_keyframes()
        return super().act(observation)
