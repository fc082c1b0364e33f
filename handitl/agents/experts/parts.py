"""Scripted expert for ``PickAndPlaceParts``: pinch each part, carry it over its bin, drop it.

Parts on the right of the centre line are taken by the right hand, parts on the left by
the left hand (the right side's first). Each part is pinched palm down between the
thumb and index pads (the pad pinch of
:func:`~handitl.assets.procedural_hand.solve_pinch_pose`, turned so the pinch axis lies
across two of the part's flats or tooth tips, whichever of its symmetric directions is
nearest to ``pinch_yaw``, with the index fingertip pointing down); middle, ring and
little fingers are curled out of the way. The pinch gap sets the hand pose: the part's
width plus a clearance before the pinch, and the contact pose at the width plus
``squeeze`` on the thumb's and index's proximal flexors to hold it (a small squeeze
past contact, physics_notes.md). The part is lifted straight up to
the carry height, where its pose in the hand is measured (privileged state) and the
carry is planned from it, so the part's centre of mass lands over the bin's centre
whatever it did in the pinch; the hand lowers it to just above the walls and opens.

Each part's moves are planned when its turn comes, from the state at that time. A move
that times out (no pinch, no lift, the part not sorted after the drop) abandons that
part's plan: the hand opens and rises, and the part is tried again (at most
``attempts`` times) if it still stands upright on the table within its side's reach.
The hand that is not working waits at its start pose, and goes back there when its
side's parts are done. The first part of a side is reached straight from the start
pose; later ones from a bin through a pose 8 cm higher, slowly (the arm's differential
IK is local and velocity-limited: after a bin on the centre line it lags ~20 cm and
sags on long moves), and the hand comes down only once the palm is within 15 mm of the
pre-pinch pose. ``hold()`` is the base class's; ``planned(t)`` covers the parts planned
so far (each part is planned when its turn comes).

Measured: 50/50 seeds succeed, mean normalised score 1.000, ~23 s per episode
(``python bench/experts.py --tasks PickAndPlaceParts --seeds 50 --workers 1``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from handitl.agents.experts.base import ScriptedExpert, Segment, SideTarget
from handitl.agents.experts.pinch import PadPinch, pad_pinch, palm_rotation
from handitl.assets.hand_description import Side
from handitl.assets.props import parts as pp
from handitl.envs.bimanual_env import BimanualEnv
from handitl.envs.rotations import quat_from_mat
from handitl.envs.tasks.parts import KINDS, PickAndPlaceParts

PAD_TO_TIP = 0.016
"""Height of the pads' centre above the lowest fingertip cap in the palm-down pinch, m
(measured on the procedural hand: the thumb's cap is 15 mm under it)."""


@dataclasses.dataclass(frozen=True)
class PickAndPlacePartsExpertConfig:
    """Gaps (m), heights (m, world z), angles (rad) and timings (s)."""

    open_gap_extra: float = 0.03
    """Pad clearance over the part's width before the pinch."""
    squeeze: tuple[tuple[str, float], ...] = (
        ("thumb_cmc_flex", 0.1),
        ("thumb_mcp_flex", 0.1),
        ("index_mcp", 0.12),
    )
    """Hold targets past the pads' contact pose, rad (physics_notes: 0.1-0.3 rad past
    contact). Both digits flex at their proximal joints: a smaller pinch gap instead
    closes almost only the index (the thumb barely moves below a 1 cm gap), so a part a
    few mm off the thumb's pad would be pushed over rather than squeezed."""
    pinch_yaw: float = math.pi + 0.25
    """World yaw of the index-to-thumb axis the right hand's pinch prefers (the left's
    mirrors it): the thumb toward the robot, the index fingertip on the far side of the
    part, turned 0.25 rad outward. Measured in a static reach test: parts' yaws make the
    pinch up to half a period (0.52 rad for the nut) off this, and turned inward the
    FR3's joint 6 reaches its limit for parts at x < 0.48; outward it keeps >= 0.03 rad
    of margin over the whole sampling box."""
    pre_height: float = 0.06
    """Height of the pre-pinch pose above the pinch pose."""
    carry_clearance: float = 0.045
    """Height of the carried part's (and fingertips') lowest point above the bins'
    walls: clears the other parts standing on the table (the bolt is 4.6 cm tall)."""
    drop_clearance: float = 0.012
    """Height of the part's lowest point above the walls where the hand lets go."""
    curl: tuple[float, float, float] = (1.2, 1.3, 0.6)
    """MCP, PIP, DIP of the middle, ring and little fingers (curled out of the way), rad."""
    pre_pinch_s: float = 1.2
    """Duration of the move to the pre-pinch pose, s."""
    transit_height: float = 0.08
    """Extra height of the move from a bin to the next part's pre-pinch pose, m."""
    transit_s: float = 1.6
    """Duration of that move, s."""
    reach_tolerance: float = 0.015
    """Palm distance from the pre-pinch pose at which the hand comes down, m."""
    carry_s: float = 1.2
    """Duration of the carry to above the bin, s."""
    attempts: int = 2
    """Most tries per part."""
    retry_tilt: float = 0.35
    """A part is tried again only while its axis is within this of vertical, rad."""


class PickAndPlacePartsExpert(ScriptedExpert):
    """Plays the sorting plan (see the module docstring); each hand sorts its side's parts."""

    def __init__(self, env: BimanualEnv, config: PickAndPlacePartsExpertConfig | None = None) -> None:
        super().__init__(env)
        task = env.task
        if not isinstance(task, PickAndPlaceParts):
            raise TypeError(f"PickAndPlacePartsExpert needs a PickAndPlaceParts task, "
                            f"got {type(task).__name__}")  # fmt: skip
        self.task: PickAndPlaceParts = task
        self.config = config or PickAndPlacePartsExpertConfig()
        self._curl: dict[Side, np.ndarray] = {}
        for side, hand in env.robot.hands.items():
            names = hand.description.joint_names
            curl = np.zeros(len(names))
            for i, name in enumerate(names):
                finger, _, joint = name.split("/")[-1].partition("_")
                if finger in ("middle", "ring", "little") and joint in ("mcp", "pip", "dip"):
                    curl[i] = self.config.curl[("mcp", "pip", "dip").index(joint)]
            self._curl[side] = curl
        self._pinch_cache: dict[tuple[Side, float], PadPinch] = {}
        self._queue: list[str] = []
        self._tries: dict[str, int] = {}
        self._used: set[Side] = set()
        self._current: tuple[str, Side] | None = None
        self._carry_index = -1
        self._replanned = True

    # --- pinch kinematics -------------------------------------------------------------------

    def _pinch(self, side: Side, gap: float) -> PadPinch:
        """The pad pinch at ``gap`` for ``side``'s hand (cached: solved once per gap)."""
        key = (side, round(gap, 5))
        if key not in self._pinch_cache:
            self._pinch_cache[key] = pad_pinch(
                self.env.model, self.env.robot.hands[side], gap, self._curl[side]
            )
        return self._pinch_cache[key]

    def open_hand(self, side: Side, kind: str) -> np.ndarray:
        """(n,) hand targets of the open pre-pinch pose around ``kind``, rad."""
        width = pp.GEOMETRY[kind].pinch_width
        return self._pinch(side, width + self.config.open_gap_extra).q.copy()

    def _palm_rotation(self, side: Side, gap: float, axis_world: np.ndarray) -> np.ndarray:
        """World rotation of ``side``'s palm: pinch axis along ``axis_world`` (horizontal),
        index fingertip pointing down."""
        return palm_rotation(self._pinch(side, gap), axis_world)

    def pinch_axis(self, kind: str, side: Side) -> np.ndarray:
        """(3,) world direction of the index-to-thumb axis of ``side``'s pinch of ``kind``
        in its current pose: the part's pinch direction (any of its symmetric copies)
        nearest to the side's preferred yaw."""
        g = pp.GEOMETRY[kind]
        # The left hand's preferred yaw mirrors the right's in the xz plane.
        preferred = side.mirror_sign * self.config.pinch_yaw
        if g.pinch_period == 0.0:
            yaw = preferred
        else:
            _, rot = self.task.part_pose(self.env.data, kind)
            yaw = math.atan2(rot[1, 0], rot[0, 0]) + g.pinch_yaw
            yaw += round((preferred - yaw) / g.pinch_period) * g.pinch_period
        return np.array([math.cos(yaw), math.sin(yaw), 0.0])

    # --- plan -------------------------------------------------------------------------------

    def side_for(self, kind: str) -> Side:
        """The hand that takes ``kind``: the one on the part's side of the centre line."""
        pos, _ = self.task.part_pose(self.env.data, kind)
        return Side.RIGHT if pos[1] < 0.0 else Side.LEFT

    def plan(self) -> list[Segment]:
        # Right side's parts first, each side's nearest the centre line first.
        data = self.env.data
        self._segments = []  # _next_part counts the segments planned before its own
        ys = {kind: self.task.part_pose(data, kind)[0][1] for kind in KINDS}
        self._queue = sorted(KINDS, key=lambda k: (ys[k] > 0.0, abs(ys[k])))
        self._tries = dict.fromkeys(KINDS, 0)
        self._used: set[Side] = set()
        self._current = None
        self._replanned = True
        return self._next_part()

    def _next_part(self) -> list[Segment]:
        """Segments picking the next part in the queue (placeholders for the carry, replaced
        after the lift); none once the queue is empty (the last hand goes home)."""
        previous = self._current[1] if self._current else None
        while self._queue:
            kind = self._queue.pop(0)
            if self._can_try(kind):
                break
        else:
            self._current = None
            if previous is None:
                return []
            return [Segment("home", 1.0, {previous: SideTarget(*self._home(previous))})]
        side = self.side_for(kind)
        self._tries[kind] += 1
        self._current = (kind, side)
        c, g = self.config, pp.GEOMETRY[kind]
        pos, rot = self.task.part_pose(self.env.data, kind)
        grip = pos + rot @ np.array([0.0, 0.0, g.grip_height])
        R = self._palm_rotation(side, g.pinch_width, self.pinch_axis(kind, side))
        quat = quat_from_mat(R)
        q_open = self._pinch(side, g.pinch_width + c.open_gap_extra).q
        q_hold = self._pinch(side, g.pinch_width).q.copy()
        names = [n.split("/")[-1] for n in self.env.robot.hands[side].description.joint_names]
        for joint, extra in c.squeeze:
            q_hold[names.index(joint)] += extra
        # The pads' midpoint shifts toward the thumb as the pinch closes (the index
        # travels twice as far): centre the part on the midpoint at contact, so both
        # pads reach it together instead of the index pushing it over.
        palm_pinch = grip - R @ self._pinch(side, g.pinch_width).midpoint
        palm_pre = palm_pinch + [0.0, 0.0, c.pre_height]
        # Carry height: the part's base and the fingertips clear the walls and the other
        # parts by carry_clearance.
        lowest = min(0.0, g.grip_height - PAD_TO_TIP)
        palm_lift = palm_pinch + [0.0, 0.0, pp.BIN_WALL_HEIGHT + c.carry_clearance - lowest]
        # The hand that is done with its side goes home while this one sets off.
        others = {}
        if previous is not None and previous is not side:
            others[previous] = SideTarget(*self._home(previous))
        segments = []
        if side in self._used:
            # From a bin the arm needs large joint moves, and the local, velocity-limited
            # IK lags and sags on the way: travel high and slowly, then come down.
            high = SideTarget(palm_pre + [0.0, 0.0, c.transit_height], quat, q_open)
            segments.append(Segment(f"{kind}:transit", c.transit_s, {side: high, **others}))
            segments.append(Segment(f"{kind}:pre_pinch", 0.5, {side: SideTarget(palm_pre)}))
        else:
            target = SideTarget(palm_pre, quat, q_open)
            segments.append(Segment(f"{kind}:pre_pinch", c.pre_pinch_s, {side: target, **others}))
        self._used.add(side)
        task = self.task
        # Come down only once the palm is there.
        segments[-1] = dataclasses.replace(
            segments[-1],
            until=lambda e: np.linalg.norm(e.palm_pose(side)[0] - palm_pre) < c.reach_tolerance,
            timeout=1.5,
        )
        segments += [
            Segment(f"{kind}:approach", 0.6, {side: SideTarget(palm_pinch)}),
            Segment(
                f"{kind}:pinch",
                0.4,
                {side: SideTarget(hand_q=q_hold)},
                until=lambda e: task.measurements[f"{kind}_pinched"] > 0,
                timeout=0.8,
            ),
            Segment(
                f"{kind}:lift",
                0.7,
                {side: SideTarget(palm_lift)},
                until=lambda e: task.measurements[f"{kind}_grasped"] > 0,
                timeout=0.6,
            ),
        ]
        self._carry_index = len(self._segments) + len(segments)
        self._replanned = False
        return segments + self._place_segments(kind, side, palm_lift, palm_lift)

    def _home(self, side: Side) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        start = self._start[side]
        return start.pos, start.quat, np.zeros_like(start.hand_q)

    def _place_segments(self, kind: str, side: Side, palm_carry: np.ndarray,
                        palm_drop: np.ndarray) -> list[Segment]:  # fmt: skip
        """Carry over the bin, lower to just above its walls, open the hand, rise."""
        task = self.task
        return [
            Segment(f"{kind}:carry", self.config.carry_s, {side: SideTarget(palm_carry)}),
            Segment(f"{kind}:lower", 0.5, {side: SideTarget(palm_drop)}),
            Segment(
                f"{kind}:release",
                0.3,
                {side: SideTarget(hand_q=self.open_hand(side, kind))},
                until=lambda e: task.measurements[f"{kind}_touched"] == 0,
                timeout=0.6,
            ),
            Segment(
                f"{kind}:retreat",
                0.4,
                {side: SideTarget(palm_drop + [0.0, 0.0, 0.05])},
                until=lambda e: task.evaluate(e.model, e.data).stages[f"{kind}_sorted"],
                timeout=1.0,
            ),
        ]

    def _replan_place(self) -> None:
        """Plan the carry from the part's measured pose in the hand after the lift."""
        kind, side = self._current
        c, data = self.config, self.env.data
        palm, _ = self.env.palm_pose(side)
        com = self.task.part_com(data, kind)
        pos, rot = self.task.part_pose(data, kind)
        # Lowest point of the carried part: its base, or the fingertips under the pads.
        g = pp.GEOMETRY[kind]
        lowest = min(pos[2], float((pos + rot @ [0.0, 0.0, g.grip_height])[2]) - PAD_TO_TIP)
        bin_xy = self.task.bin_centre(kind)[:2]
        offset = com - palm
        carry_z = palm[2] + (pp.BIN_WALL_HEIGHT + c.carry_clearance - lowest)
        drop_z = palm[2] + (pp.BIN_WALL_HEIGHT + c.drop_clearance - lowest)
        carry = np.array([bin_xy[0] - offset[0], bin_xy[1] - offset[1], carry_z])
        drop = np.array([carry[0], carry[1], drop_z])
        k = self._carry_index
        self._segments = self._segments[:k] + self._place_segments(kind, side, carry, drop)
        self._keyframes = self._plan_keyframes()
        self._replanned = True

    def _can_try(self, kind: str) -> bool:
        """The part is unsorted, has tries left and stands upright on the table, outside
        every bin."""
        m = self.task.measurements
        if self.task.evaluate(self.env.model, self.env.data).stages[f"{kind}_sorted"]:
            return False
        if self._tries[kind] >= self.config.attempts:
            return False
        pos, rot = self.task.part_pose(self.env.data, kind)
        upright = rot[2, 2] >= math.cos(self.config.retry_tilt)
        in_bin = np.all(np.abs(pos[:2] - np.array(list(pp.BIN_CENTRES.values()))) <= pp.BIN_INNER_HALF
                        + 2 * pp.BIN_WALL_HALF_THICKNESS + 0.01, axis=1).any()  # fmt: skip
        return bool(upright and not in_bin and pos[2] < 0.005 and not m[f"{kind}_touched"])

    def _abandon(self) -> None:
        """After a timeout: open the hand, rise, and put the part back in the queue."""
        kind, side = self._current
        self.failed = False
        self._segments = self._segments[: self._index + 1]
        self._index += 1
        self._segment_start = self.env.data.time
        self._waiting_since = None
        self._replanned = True
        self._queue.insert(0, kind)
        palm, _ = self.env.palm_pose(side)
        self._segments += [
            Segment(f"{kind}:let_go", 0.3, {side: SideTarget(hand_q=self.open_hand(side, kind))}),
            Segment(f"{kind}:back_off", 0.5, {side: SideTarget(palm + [0.0, 0.0, 0.06])}),
        ]
        self._keyframes = self._plan_keyframes()

    def act(self, observation: dict) -> np.ndarray:
        if self._hold is None:
            if self.failed and self._current is not None:
                self._abandon()
            elif not self._replanned and self._index >= self._carry_index:
                self._replan_place()
            if self._index >= len(self._segments) and (self._queue or self._current):
                self._segments += self._next_part()
                self._keyframes = self._plan_keyframes()
        return super().act(observation)
