"""Scripted expert for ``BreadClip``: pinch the levers, squeeze the clip open, clip it on.

The right hand works palm down: the thumb-index pad pinch of
:func:`~handitl.assets.procedural_hand.solve_pinch_pose` is turned so that the pinch axis
(index pad to thumb pad) lies along the clip's lever-to-lever axis and the index
fingertip points down; middle, ring and little fingers are curled up out of the way. The
pinch gap sets the hand pose: the lever width plus a clearance before the pinch, 6 mm
less than the width to hold (a small squeeze past contact), and the open levers' width
plus 0.1-0.15 rad on the proximal thumb and index flexors to squeeze the levers against
the spring until the jaws open (to the hinge limit). The clip's pose in the hand is
measured after the lift (privileged state) and the carry is planned from it, so the mouth
lands on the neck whatever the clip did while it was pinched and opened. The left arm
stays at its start pose.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from handitl.agents.experts.base import ScriptedExpert, Segment, SideTarget
from handitl.agents.experts.pinch import PadPinch, pad_pinch, palm_rotation
from handitl.assets.hand_description import Side
from handitl.assets.props import bread_clip as bc
from handitl.envs.bimanual_env import BimanualEnv
from handitl.envs.rotations import quat_from_mat
from handitl.envs.tasks.bread_clip import BreadClip


@dataclasses.dataclass(frozen=True)
class BreadClipExpertConfig:
    """Gaps (m), heights (m, world z of the pad centres / clip origin) and timings (s)."""

    open_gap_extra: float = 0.03
    """Pad clearance over the lever width before the pinch."""
    hold_squeeze: float = 0.006
    """Commanded pad gap this much under the lever width: a hold that does not open the clip."""
    open_gap: float = 0.008
    """Pad gap of the squeeze pose, m (about the levers' width when the jaws are open)."""
    squeeze_extra: tuple[tuple[str, float], ...] = (
        ("thumb_cmc_flex", 0.1),
        ("thumb_mcp_flex", 0.1),
        ("index_mcp", 0.15),
    )
    """Targets past the squeeze pose, rad: the servo force that holds the levers against
    the spring. Flexing at the proximal joints keeps the pads face to face (a smaller
    pinch gap instead pushes the thumb's IP and MCP into hyperextension, tilts its pad
    and lets the clip creep out)."""
    pad_height: float = 0.016
    """Height of the pinch point above the table, m (fingertip caps clear the table)."""
    pre_height: float = 0.06
    """Height of the pre-pinch pose above the pinch pose, m."""
    carry_height: float = 0.10
    """Clip origin height while carried (its bottom clears the neck's top)."""
    place_height: float = 0.036
    """Clip origin height on the neck (off the table: only the spring holds it)."""
    curl: tuple[float, float, float] = (1.2, 1.3, 0.6)
    """MCP, PIP, DIP of the middle, ring and little fingers (curled out of the way), rad."""
    attempts: int = 3
    """Most tries: a pinch that does not take, or a clip that slips out of the hand before
    it is placed, starts the plan again from the clip's pose (a regrasp)."""
    slip_drop: float = 0.02
    """The clip counts as slipping once it is this much lower under the palm than when
    the lift began, m."""


class BreadClipExpert(ScriptedExpert):
    """Plays the bread-clip plan (see the module docstring); the right hand does the task."""

    def __init__(self, env: BimanualEnv, config: BreadClipExpertConfig | None = None) -> None:
        super().__init__(env)
        task = env.task
        if not isinstance(task, BreadClip):
            raise TypeError(f"BreadClipExpert needs a BreadClip task, got {type(task).__name__}")
        self.task: BreadClip = task
        self.config = config or BreadClipExpertConfig()
        self.side = task.config.side
        self._sides = (self.side,)
        self._hand = env.robot.hands[self.side]
        self._desc = self._hand.description
        names = self._desc.joint_names
        self._curl = np.zeros(len(names))
        for i, name in enumerate(names):
            finger, _, joint = name.split("/")[-1].partition("_")
            if finger in ("middle", "ring", "little") and joint in ("mcp", "pip", "dip"):
                self._curl[i] = self.config.curl[("mcp", "pip", "dip").index(joint)]
        self._lever_width = float(2.0 * bc.lever_outer_point(bc.CLIP_PAD_X)[1])
        self._pinch_cache: dict[float, PadPinch] = {}
        self._replanned = False
        self._carry_index = -1
        self._lift_index = -1
        self._tries = 0
        self._clip_below_palm: float | None = None
        self.regrasps = 0
        """Retries in this episode (failed pinches and slips)."""

    @property
    def open_hand(self) -> np.ndarray:
        """(n,) hand targets of the open pre-pinch pose (pads clear of the levers), rad."""
        return self._pinch(self._lever_width + self.config.open_gap_extra).q.copy()

    @property
    def sides(self) -> tuple[Side, ...]:
        """Only the working hand (the other stays at its start pose)."""
        return self._sides

    # --- pinch kinematics -------------------------------------------------------------------

    def _pinch(self, gap: float) -> PadPinch:
        """The pad pinch at ``gap`` (cached: solved once per gap)."""
        key = round(gap, 5)
        if key not in self._pinch_cache:
            self._pinch_cache[key] = pad_pinch(self.env.model, self._hand, gap, self._curl)
        return self._pinch_cache[key]

    def _palm_rotation(self, clip_rot: np.ndarray) -> np.ndarray:
        """World rotation of the palm: pinch axis along the clip's +y (index on lever b,
        thumb on lever a; the other way round for a clip turned over 90 degrees from its
        nominal yaw), index fingertip pointing down."""
        w1 = clip_rot[:, 1].copy()
        w1[2] = 0.0
        # The clip is symmetric: a clip turned more than 90 degrees from its nominal yaw (after
        # a slip) is pinched from its other side, so the palm turns the short way, in reach.
        yaw = self.task.config.clip_yaw
        if w1 @ np.array([-np.sin(yaw), np.cos(yaw), 0.0]) < 0.0:
            w1 = -w1
        return palm_rotation(self._pinch(self._lever_width), w1 / np.linalg.norm(w1))

    # --- plan -------------------------------------------------------------------------------

    def plan(self) -> list[Segment]:
        c, env, side = self.config, self.env, self.side
        self._replanned = False
        clip_pos, clip_rot = self.task.clip_pose(env.data)
        R = self._palm_rotation(clip_rot)
        quat = quat_from_mat(R)
        width = self._lever_width
        open_pinch = self._pinch(width + c.open_gap_extra)
        q_open, mid_open = open_pinch.q, open_pinch.midpoint
        q_hold = self._pinch(width - c.hold_squeeze).q
        q_squeeze = self._pinch(c.open_gap).q.copy()
        names = [n.split("/")[-1] for n in self._desc.joint_names]
        for joint, extra in c.squeeze_extra:
            q_squeeze[names.index(joint)] += extra
        pinch_point = clip_pos + clip_rot @ np.array([bc.CLIP_PAD_X, 0.0, 0.0])
        pinch_point[2] = c.pad_height
        palm_pinch = pinch_point - R @ mid_open
        palm_pre = palm_pinch + [0.0, 0.0, c.pre_height]
        palm_lift = palm_pinch + [0.0, 0.0, c.carry_height - bc.CLIP_REST_Z]
        segments = [
            Segment("pre_pinch", 1.2, {side: SideTarget(palm_pre, quat, q_open)}),
            Segment("approach", 0.7, {side: SideTarget(palm_pinch)}),
            Segment(
                "pinch",
                0.4,
                {side: SideTarget(hand_q=q_hold)},
                until=lambda e: self.task.measurements["pinched"] > 0,
                timeout=1.0,
            ),
            Segment(
                "squeeze",
                0.5,
                {side: SideTarget(hand_q=q_squeeze)},
                until=lambda e: self.task.jaw_angle(e.data) >= self.task.config.open_angle + 0.03,
                timeout=1.0,
            ),
            Segment("lift", 0.8, {side: SideTarget(palm_lift)}),
        ]
        self._lift_index = len(segments) - 1
        self._carry_index = len(segments)
        # Placeholders: replaced after the lift, from the clip's measured pose in the hand.
        segments += self._place_segments(palm_lift, palm_lift)
        return segments

    def _place_segments(self, palm_carry: np.ndarray, palm_place: np.ndarray) -> list[Segment]:
        """Carry, lower onto the neck, let the levers open, open the hand, retreat."""
        side = self.side
        # Pads back to just outside the closed levers: the spring closes the jaws on the
        # neck while the pads still steady the clip; then the hand opens fully.
        q_release = self._pinch(self._lever_width + 0.004).q
        q_open = self.open_hand
        palm_retreat = palm_place + [0.0, 0.0, 0.08]
        return [
            Segment("carry", 1.2, {side: SideTarget(palm_carry)}),
            Segment(
                "lower",
                0.8,
                {side: SideTarget(palm_place)},
                until=lambda e: e.task.evaluate(e.model, e.data).stages["placed"],
                timeout=0.6,
            ),
            Segment("release", 0.5, {side: SideTarget(hand_q=q_release)}),
            Segment(
                "open",
                0.3,
                {side: SideTarget(hand_q=q_open)},
                until=lambda e: self.task.measurements["released"] > 0,
                timeout=0.6,
            ),
            Segment(
                "retreat",
                0.6,
                {side: SideTarget(palm_retreat)},
                until=lambda e: e.task.evaluate(e.model, e.data).success,
                timeout=1.5,
            ),
        ]

    def _replan_placement(self) -> None:
        """Plan carry and placement from the clip mouth's measured offset from the palm."""
        c, data = self.config, self.env.data
        palm, _ = self.env.palm_pose(self.side)
        mouth = self.task.mouth_position(data)
        clip_z = self.task.clip_pose(data)[0][2]
        neck = self.task.neck_position(data)
        offset = mouth - palm  # world frame; the palm keeps its orientation from here on
        carry = np.array([neck[0], neck[1], mouth[2] + (c.carry_height - clip_z)]) - offset
        place = np.array([neck[0], neck[1], mouth[2] + (c.place_height - clip_z)]) - offset
        k = self._carry_index
        self._segments = self._segments[:k] + self._place_segments(carry, place)
        # The base class plays keyframes resolved at reset; resolve the new tail.
        self._keyframes = self._plan_keyframes()
        self._replanned = True

    def reset(self) -> None:
        self._tries = 1
        self.regrasps = 0
        self._clip_below_palm = None
        super().reset()

    def _slipped(self) -> bool:
        """Between the lift and the placement, the clip no longer follows the palm."""
        if not self._lift_index <= self._index < self._carry_index + 2 or self.failed:
            return False
        drop = self.env.palm_pose(self.side)[0][2] - self.task.clip_pose(self.env.data)[0][2]
        if self._clip_below_palm is None:
            self._clip_below_palm = drop
        placed = self.task.evaluate(self.env.model, self.env.data).stages["placed"]
        return not placed and drop - self._clip_below_palm > self.config.slip_drop

    def act(self, observation: dict) -> np.ndarray:
        if self._hold is None:
            if (self.failed or self._slipped()) and self._tries < self.config.attempts \
                    and not self.task.evaluate(self.env.model, self.env.data).stages["placed"]:  # fmt: skip
                self._tries += 1
                self.regrasps += 1
                self._clip_below_palm = None
                self.restart()
            if not self._replanned and self._index >= self._carry_index:
                self._replan_placement()
        return super().act(observation)
