"""Scripted expert for ``UnscrewByHand``: steady the block, ratchet each knob off, tray it.

The left hand lies on the block's free (+y) end, its fingertips pressing the block from
the start to the end (steadying, which the task scores). The right hand unscrews each
knob (``nut_b``, the one nearer the left hand, first, so the right arm then moves away
from it) by *wrist strokes*, the way a person turns a stiff knob: it pinches the knob
across its diameter between the thumb and index pads (the pad pinch of
:func:`~handitl.assets.procedural_hand.solve_pinch_pose`, palm down, index fingertip
down), orbits the palm counter-clockwise about the knob's axis by ``yaw_high -
yaw_low`` rad (rising with the thread), opens, rises, turns back and pinches again.

The knob is round, so every stroke starts at the same pinch-axis yaw ``yaw_low``
whatever the knob's angle. The window [``yaw_low``, ``yaw_high``] was measured by solving
the arm's inverse kinematics over pinch-axis yaws at the corners of the assembly's
sampling box: the palm-down pinch is reachable from ~2.2 to ~4.6 rad (the FR3's joint 6
is at its upper limit at the low end), but the orbit about the knob's axis must be
followed by the differential IK, which in the ``ee_pose`` action mode moves joints 1-4 at
most ~0.5 rad/s (its per-tick step cap, v_max * dt, over the servos' ~0.1 s lag), and
beyond ~3.9 rad the arm reconfigures (joints 1-3 swing) and the pinch slips. So strokes
run over [2.4, 3.8] rad at a mean 0.45 rad/s (faster strokes drag the pads off the knob
and spin it backwards). Between strokes the open hand rises ``return_lift`` before
turning back, or its fingers knock the other knob.

Once the prop releases the knob at the top of its thread, the pinched knob is lifted
off the stud and carried over the tray; the drop is then aimed from the knob's measured
position (the carry ends centimetres short), ``tray_offset`` to one side of the tray's
centre per knob so the second does not land on the first, and the knob is let go. A
pinch that does not close (timeout) opens, rises and tries the stroke again; a released
knob that is not in the hand is pinched where it lies.

Strokes are planned one at a time from the measured knob pose. ``hold()`` is the base
class's; ``planned(t)`` covers what has been planned so far.

Status: registered in ``expert_for``. With the task's quick-action thread (each knob 0.5
to 0.75 turn from the top: 3 to 4 strokes) and 100 s episode,
``python bench/experts.py --tasks UnscrewByHand --seeds 50 --workers 2``: success 49/50,
mean normalised score 0.997, mean completion 55.7 s (simulated; 12.6 s wall per episode
on 2 loaded CPUs, 2026-12-04); seed 45 trays one knob and not the other in 100 s.
Strokes on ``nut_a`` (the outer knob) are weaker than on ``nut_b`` on some seeds (0.1 to
0.15 turn instead of 0.22): there the orbit swings the FR3's wrist (joint 5 from ~1.5 to
~-0.9 rad), the arm falls up to 8 cm behind its targets and the pinch slips; a per-knob
yaw window or the ``ee_pose_twist`` action mode (feed-forward twists) would shorten it.
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


def _rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclasses.dataclass(frozen=True)
class UnscrewByHandExpertConfig:
    """Gaps (m), heights (m), angles (rad, world yaw of the index-to-thumb axis) and
    timings (s)."""

    open_gap_extra: float = 0.024
    """Pad clearance over the knob's diameter before the pinch and between strokes."""
    squeeze: tuple[tuple[str, float], ...] = (
        ("thumb_cmc_flex", 0.12),
        ("thumb_mcp_flex", 0.12),
        ("index_mcp", 0.15),
    )
    """Hold targets past the pads' contact pose, rad."""
    yaw_low: float = 2.4
    """Pinch-axis yaw every stroke starts at."""
    yaw_high: float = 3.8
    """Pinch-axis yaw every stroke ends at."""
    pre_height: float = 0.04
    """Height of the pre-pinch pose above the pinch pose."""
    turn_rate: float = 0.45
    """Orbit speed during a stroke, rad/s."""
    return_rate: float = 1.2
    """Orbit speed of the open hand back to ``yaw_low``, rad/s."""
    lead: float = 0.1
    """Time the orbit's targets run ahead of the plan, s: the arm servos' lag."""
    return_lift: float = 0.06
    """Height the open hand rises before turning back, clearing both knobs, m (was 0.035:
    on some seeds the open thumb then swept ``nut_a`` while turning back over ``nut_b``,
    screwing it ~0.3 turn down onto the block)."""
    curl: tuple[float, float, float] = (1.2, 1.3, 0.6)
    """MCP, PIP, DIP of the middle, ring and little fingers (curled out of the way), rad."""
    steady_reach: float = 0.194
    """Distance of the open middle fingertip from the palm site along the fingers, m."""
    steady_press: float = 0.006
    """Depth the fingertips are commanded below the block's top, m."""
    lift: float = 0.05
    """Height gained over the stud's top when lifting a released knob off, m."""
    carry_height: float = 0.09
    """Height of the knob's underside over the table while carrying it to the tray, m."""
    drop_height: float = 0.032
    """Height of the knob's underside over the table where it is let go, m."""
    tray_offset: float = 0.022
    """Distance along y of each knob's drop point from the tray's centre, m: the first
    knob (``nut_b``) is let go at +y, the second at -y, 44 mm apart (the knobs are 32 mm
    across, the tray 100 mm inside). Both dropped at the centre, the second landed on the
    first, touching no tray, and had to be picked up again (~10 s)."""
    attempts: int = 4
    """Most failed pinches per knob before the expert gives it up."""


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
        self._order: tuple[str, ...] = tuple(reversed(NUTS))
        self._fails = 0
        self._first = True

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
        return palm_rotation(self._pinch(ap.KNOB_DIAMETER), np.array([math.cos(yaw), math.sin(yaw), 0.0]))

    def open_hand(self) -> np.ndarray:
        """(n,) hand targets of the open pre-pinch pose, rad."""
        return self._pinch(ap.KNOB_DIAMETER + self.config.open_gap_extra).q.copy()

    def hold_hand(self) -> np.ndarray:
        """(n,) hand targets squeezing a knob, rad."""
        q = self._pinch(ap.KNOB_DIAMETER).q.copy()
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
        self._order = tuple(self._queue)
        self._phase = "turn"
        self._fails = 0
        self._first = True
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
            Segment("steady:press", 0.6, {self.steady_side: steady},
                    until=lambda e: self.task.measurements["steadied"] > 0, timeout=1.5),
        ]  # fmt: skip
        return segments + self._grip(self._queue[0])

    def _pinch_palm(self, nut: str, yaw: float) -> tuple[np.ndarray, np.ndarray]:
        """(palm position, rotation) of the pinch of ``nut`` in its current pose at
        pinch-axis ``yaw``: the pads' contact midpoint on the knob's grip point."""
        pos, rot = self.task.nut_pose(self.env.data, nut)
        grip = pos + rot @ np.array([0.0, 0.0, ap.KNOB_GRIP_HEIGHT])
        R = self._palm_rotation(yaw)
        return grip - R @ self._pinch(ap.KNOB_DIAMETER).midpoint, R

    def _grip(self, nut: str) -> list[Segment]:
        """From wherever the hand is: over the knob at ``yaw_low``, down, pinch."""
        c, side, task = self.config, self.side, self.task
        palm0, R0 = self._pinch_palm(nut, c.yaw_low)
        pre = palm0 + [0.0, 0.0, c.pre_height]
        first, self._first = self._first, False
        return [
            Segment(f"{nut}:pre_pinch", 1.4 if first else 1.0,
                    {side: SideTarget(pre, quat_from_mat(R0), self.open_hand())},
                    until=lambda e: np.linalg.norm(e.palm_pose(side)[0] - pre) < 0.01, timeout=1.5),
            Segment(f"{nut}:approach", 0.5, {side: SideTarget(palm0)}),
            Segment(f"{nut}:pinch", 0.3, {side: SideTarget(hand_q=self.hold_hand())},
                    until=lambda e: task.measurements[f"{nut}_pinched"] > 0, timeout=0.6),
        ]  # fmt: skip

    def _orbit(self, name: str, palm0: np.ndarray, R0: np.ndarray, axis: np.ndarray,
               angle: float, rate: float, rise: float) -> Segment:  # fmt: skip
        """One move turning the palm pose (palm0, R0) by ``angle`` (|angle| < pi) about
        the vertical through ``axis``, rising by ``rise``, at mean speed ``rate``."""
        Rz = _rot_z(angle)
        palm = axis + Rz @ (palm0 - axis) + [0.0, 0.0, rise]
        return Segment(name, abs(angle) / rate, {self.side: SideTarget(palm, quat_from_mat(Rz @ R0))},
                       pivots={self.side: axis.copy()}, lead=self.config.lead)  # fmt: skip

    def _stroke(self, nut: str) -> list[Segment]:
        """With the knob pinched at ``yaw_low``: orbit counter-clockwise to ``yaw_high``
        (rising with the thread), open, orbit back, pinch again."""
        c, side, task = self.config, self.side, self.task
        palm0, R0 = self._pinch_palm(nut, c.yaw_low)
        pos, _ = task.nut_pose(self.env.data, nut)
        stroke = c.yaw_high - c.yaw_low
        rise = ap.THREAD_PITCH / (2 * math.pi) * stroke
        turn = self._orbit(f"{nut}:turn", palm0, R0, pos, stroke, c.turn_rate, rise)
        end = turn.targets[side].pos
        up = np.array([0.0, 0.0, c.return_lift])
        back = self._orbit(f"{nut}:turn_back", end + up, _rot_z(stroke) @ R0, pos, -stroke,
                           c.return_rate, 0.0)  # fmt: skip
        above = back.targets[side].pos
        down = above - up + [0.0, 0.0, rise]
        return [
            turn,
            Segment(f"{nut}:let_go", 0.25, {side: SideTarget(hand_q=self.open_hand())}),
            Segment(f"{nut}:lift", 0.3, {side: SideTarget(end + up)}),
            dataclasses.replace(back, timeout=1.5,
                                until=lambda e: np.linalg.norm(e.palm_pose(side)[0] - above) < 0.006),
            Segment(f"{nut}:approach", 0.4, {side: SideTarget(down)}),
            Segment(f"{nut}:pinch", 0.3, {side: SideTarget(hand_q=self.hold_hand())},
                    until=lambda e: task.measurements[f"{nut}_pinched"] > 0, timeout=0.6),
        ]  # fmt: skip

    def _release_and_rise(self, nut: str) -> list[Segment]:
        palm, _ = self.env.palm_pose(self.side)
        return [
            Segment(f"{nut}:let_go", 0.25, {self.side: SideTarget(hand_q=self.open_hand())}),
            Segment(f"{nut}:rise", 0.35, {self.side: SideTarget(palm + [0.0, 0.0, 0.05])}),
        ]

    def _remove(self, nut: str) -> list[Segment]:
        """Lift the released, pinched knob off its stud and carry it over its drop point
        (:meth:`_drop` then lowers it there)."""
        c, side, task = self.config, self.side, self.task
        palm, _ = self.env.palm_pose(side)
        nut_pos, _ = task.nut_pose(self.env.data, nut)
        stud_top = 2 * ap.BASE_HALF_SIZE[2] + ap.STUD_HEIGHT
        up = palm + [0.0, 0.0, stud_top + c.lift - nut_pos[2]]
        shift = self._drop_point(nut) - task.nut_com(self.env.data, nut)
        carry = palm + [shift[0], shift[1], c.carry_height - nut_pos[2]]
        self._phase = "carry"
        return [
            Segment(f"{nut}:lift", 0.6, {side: SideTarget(up)},
                    until=lambda e: task.measurements[f"{nut}_held_off"] > 0, timeout=0.6),
            Segment(f"{nut}:carry", 1.2, {side: SideTarget(carry)}),
        ]  # fmt: skip

    def _drop_point(self, nut: str) -> np.ndarray:
        """(3,) where ``nut``'s centre is let go: beside the tray's centre along y."""
        sign = 1.0 if nut == self._order[0] else -1.0
        return self.task.tray_centre() + [0.0, sign * self.config.tray_offset, 0.0]

    def _drop(self, nut: str) -> list[Segment]:
        """Over the tray with the knob pinched: lower it over its drop point (aimed from
        the knob's measured position: the carry ends centimetres short, the arm lagging
        and the knob shifting in the pinch), let go, withdraw."""
        c, side, task = self.config, self.side, self.task
        palm, _ = self.env.palm_pose(side)
        nut_pos, _ = task.nut_pose(self.env.data, nut)
        shift = self._drop_point(nut) - task.nut_com(self.env.data, nut)
        drop = palm + [shift[0], shift[1], c.drop_height - nut_pos[2]]
        self._phase = "remove"
        return [
            Segment(f"{nut}:lower", 0.6, {side: SideTarget(drop)}),
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
        pinched = task.measurements[f"{nut}_pinched"] > 0
        if self._phase == "carry":
            if pinched:
                return self._drop(nut)
            # Dropped on the way: pinch it where it lies, then remove it.
            self._phase = "turn"
            return self._release_and_rise(nut) + self._grip(nut)
        if self._phase == "turn":
            if task.thread(nut).engaged(self.env.data):
                return self._stroke(nut)
            if pinched:
                return self._remove(nut)
            # Released but not in the hand: pinch it where it lies, then remove it.
            self._phase = "turn"
            return self._release_and_rise(nut) + self._grip(nut)
        # Removal done (or given up): the next knob.
        self._queue.pop(0)
        self._phase = "turn"
        self._fails = 0
        if not self._queue:
            return self._home()
        return self._grip(self._queue[0])

    def _abandon(self) -> None:
        """After a timeout: open, rise and try again (or give the knob up)."""
        self.failed = False
        self._segments = self._segments[: self._index + 1]
        self._index += 1
        self._segment_start = self.env.data.time
        self._waiting_since = None
        self._fails += 1
        nut = self._queue[0]
        more = self._release_and_rise(nut)
        if self._fails > self.config.attempts:
            self._queue.pop(0)
            self._phase = "turn"
            self._fails = 0
            if self._queue:
                more += self._grip(self._queue[0])
        else:
            self._phase = "turn"
            more += self._grip(nut)
        self._segments += more
        self._keyframes = self._plan_keyframes()

    def _released_in_hand(self) -> bool:
        """The knob came off its thread during a stroke while pinched."""
        if self._phase != "turn" or not self._queue or self.done:
            return False
        nut = self._queue[0]
        return (self._segments[self._index].name == f"{nut}:turn"
                and not self.task.thread(nut).engaged(self.env.data)
                and self.task.measurements[f"{nut}_pinched"] > 0)  # fmt: skip

    def act(self, observation: dict) -> np.ndarray:
        if self._hold is None:
            if self.failed and self._queue:
                self._abandon()
            elif self._released_in_hand():
                # Cut the stroke where it is and lift the knob off at once.
                self._segments = self._segments[: self._index + 1]
                self._index += 1
                self._segment_start = self.env.data.time
                self._waiting_since = None
                self._segments += self._remove(self._queue[0])
                self._keyframes = self._plan_keyframes()
            if self._index >= len(self._segments):
                more = self._next()
                if more:
                    self._segments += more
                    self._keyframes = self._plan_keyframes()
        return super().act(observation)
