"""Scripted expert for ``UnscrewWithDrill``: steady the fixture, drive both screws out, set the drill down.

The left hand lays its palm flat against the free (+y) end of the fixture's panel and
keeps it there to the end (steadying, which the task scores). The right hand picks the
drill up exactly as :class:`~handitl.agents.experts.drill.PickUpDrillExpert` does (the
same segments), then for each screw, right one first:

1. *to_screw*: one move that turns the held drill so that its bit lies along the screw's
   axis and puts the bit's tip ``standoff`` out from the head, computed from the drill's
   pose *in the hand* as measured then (the drill turns and sags in a wrap grasp, so the
   plan cannot be made at reset);
2. *engage* (closed loop): each control step the commanded palm moves by ``gain`` times
   the tip's error to a goal that slides from the standoff onto the head (``press`` into
   it), and turns by ``turn_gain`` times the bit's angle error, until the task reports the
   bit aligned;
3. *drive* (closed loop): the index pulls the trigger while the same servo keeps the tip
   pressed on the head, which backs out toward the drill, until the screw leaves its
   thread;
4. *back_off*: trigger released, the tip back out to the standoff.

Then it carries the drill back to a spot a little behind and to the right of where it
stood, lowers it until the battery touches the table (or the arm's wrist reaches the
table, and the loosened fingers let the drill slide down), opens the fingers and thumb,
and withdraws the hand the way it came (out along the palm's normal, then up).

``hold()`` is the base class's. ``planned(t)`` covers the planned segments only (the
closed-loop phases are not planned ahead).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Union

import numpy as np

from handitl.agents.experts.base import Condition, ScriptedExpert, Segment, SideTarget, _Pose
from handitl.agents.experts.drill import PickUpDrillExpert, PickUpDrillExpertConfig
from handitl.assets.hand_description import SIDES, Side
from handitl.envs.bimanual_env import BimanualEnv
from handitl.envs.rotations import mat_from_quat, mat_from_rotvec, quat_from_mat
from handitl.envs.tasks.unscrew_drill import SCREWS, UnscrewWithDrill


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation (3x3) taking unit vector ``a`` to unit vector ``b``."""
    v = np.cross(a, b)
    s = float(np.linalg.norm(v))
    if s < 1e-12:
        return np.eye(3)
    return mat_from_rotvec(v / s * math.atan2(s, float(a @ b)))


@dataclasses.dataclass(frozen=True)
class Servo:
    """A closed-loop phase: each control step the palm command moves the tracked point
    toward its goal and turns a tracked direction toward a target direction.

    Attributes:
        name: shown as the expert's segment name.
        point: the tracked point now (world, m).
        goal: (the tracked point when the phase began, seconds since) -> its goal now.
        align: () -> (tracked unit direction, target unit direction).
        hand_q: hand targets held during the phase.
        done: seconds since the phase began -> True (reached), False (go on) or None
            (timed out).
    """

    name: str
    point: Callable[[], np.ndarray]
    goal: Callable[[np.ndarray, float], np.ndarray]
    align: Callable[[], tuple[np.ndarray, np.ndarray]]
    hand_q: np.ndarray
    done: Callable[[float], bool | None]


Step = Union[Callable[[], list[Segment]], Servo]
"""What the expert does next: planned segments (made when the step begins, from the
state then) or a closed-loop servo."""


@dataclasses.dataclass(frozen=True)
class UnscrewWithDrillExpertConfig:
    """Distances (m), gains (per control step) and timings (s)."""

    standoff: float = 0.03
    """Distance of the bit's tip out from a screw's head before engaging."""
    press: float = 0.001
    """Depth the servo aims the tip into the head (keeps it touching)."""
    gain: float = 0.08
    """Fraction of the tip's position error added to the palm command each step."""
    turn_gain: float = 0.05
    """Fraction of the bit's angle error turned into the palm command each step."""
    max_lead: float = 0.03
    """Most distance the servo's palm command may lead the palm, m."""
    limit_margin: float = 0.12
    """Distance of the arm's joints from their limits under which the servo stops
    turning the bit, rad."""
    approach_s: float = 1.0
    """Time for the servo's goal to slide from the standoff onto the head."""
    centre_radius: float = 0.0015
    """Tip's distance from the screw's axis at the standoff before sliding in."""
    centre_angle: float = 0.12
    """Bit's angle to the screw's axis at the standoff before sliding in, rad."""
    to_screw_s: float = 1.5
    engage_timeout: float = 3.0
    drive_timeout: float = 4.0
    steady_inset: float = 0.012
    """Palm site to the panel's top edge at the steadying pose (a little less than the
    palm's half thickness, so the palm presses)."""
    steady_back: float = 0.0
    """Palm site behind (-) or beyond (+) the top edge's middle along the fingers."""
    set_down_shift: tuple[float, float] = (-0.06, -0.04)
    """Set-down spot's offset from where the drill stood, world (x, y), m: back and to
    the right, so that the nose-down bit clears the fixture's leaning panel, and back far
    enough that the arm's wrist does not reach the table before a drill that sits low in
    the hand does (at -0.03 in x, seeds 1070 and 1084 stalled 6 cm up and the dropped
    drill tipped over)."""
    set_down_height: float = 0.02
    """Height of the drill's battery over the table where it is levelled."""
    carry_height: float = 0.06
    """Extra height of the carry back over the set-down spot."""
    carry_s: float = 2.0
    level_position: float = 0.01
    """Distance of the drill's origin from the spot over its start that ends levelling, m."""
    level_angle: float = 0.05
    """Angle of the drill's up axis from its target that ends levelling, rad."""
    set_down_lean: float = 0.12
    """Nose-down lean of the drill as it is set down, rad: its battery's front edge
    touches first, with the hand (and the FR3's wrist, which reaches the table first
    when the drill hangs low in the grasp) higher than for a level drill; let go, it
    settles back on its base. 50 seeds: 0.2 tipped 5 drills over after the release,
    0.12 none of those 5."""
    level_timeout: float = 3.0
    loosen: float = 0.5
    """Opening of the grasp, from the contact shape toward the open hand, that lets the
    drill slide down through the fingers."""
    slide_wait: float = 0.6
    """Most time to wait for the loosened drill to reach the table, s."""
    stall: float = 0.02
    """Shortfall of the palm that counts as stalled while lowering, m."""
    withdraw: float = 0.12
    """Distance the open hand backs out along its palm's normal, m."""

    lower_speed: float = 0.05
    """Speed of the final lowering, m/s."""
    lower_past: float = 0.01
    """Depth the lowering aims the drill's base below the table, m (the stall check stops
    it earlier once the arm's wrist is on the table)."""
    pick: PickUpDrillExpertConfig = dataclasses.field(
        default_factory=lambda: PickUpDrillExpertConfig(index_pull=0.8, middle_pull=0.6)
    )
    """The drill's grasp. It drives with a lighter pull than ``PickUpDrill``'s (which
    must press the trigger however the drill has turned in the wrap): a harder pull turns
    the drill further in the hand while driving, and it no longer stands when set down
    (seeds 1000-1059 with PickUpDrill's pull: 18/60, most failing at the set-down;
    seeds 1000-1029 with this one: 29/30)."""


class UnscrewWithDrillExpert(ScriptedExpert):
    """Plays the plan of the module docstring."""

    def __init__(self, env: BimanualEnv, config: UnscrewWithDrillExpertConfig | None = None) -> None:
        super().__init__(env)
        task = env.task
        if not isinstance(task, UnscrewWithDrill):
            raise TypeError(
                f"UnscrewWithDrillExpert needs an UnscrewWithDrill task, got {type(task).__name__}"
            )
        self.task: UnscrewWithDrill = task
        self.config = config or UnscrewWithDrillExpertConfig()
        self.side = task.config.side
        self.steady_side = SIDES[1 - SIDES.index(self.side)]
        arm = env.robot.arms[self.side]
        joints = [env.model.jnt_dofadr.tolist().index(d) for d in arm.dof_idx]
        self._arm_range = env.model.jnt_range[joints].copy()
        self.pick = PickUpDrillExpert(env, self.config.pick, drill=task.drill)
        """The drill's pick-up planner (its grasp shapes and segments)."""
        self._steps: list[Step] = []
        self._servo: Servo | None = None
        self._servo_start = 0.0
        self._servo_first: np.ndarray | None = None
        self._command: _Pose | None = None
        self._drill_start: np.ndarray | None = None

    # --- plan pieces ------------------------------------------------------------------------

    def _steady_segments(self) -> list[tuple[str, float, SideTarget]]:
        """The left hand's moves to its steadying pose (raise, turn, above, press)."""
        c, task, data = self.config, self.task, self.env.data
        point, normal = task.steady_point(data)
        _, rot = task.fixture_pose(data)
        # Palm frame (+x palmar normal, +z fingers; a left hand's thumb is -y): palm down
        # on the panel's top edge, fingers pointing back over it, the wrist above the
        # panel's front, clear of the drill working lower down at the screws.
        back = rot[:, 0] - (rot[:, 0] @ normal) * normal
        x, z = -normal, back / np.linalg.norm(back)
        R = np.stack([x, np.cross(z, x), z], axis=1)
        palm = point + c.steady_inset * normal - c.steady_back * z
        start = self._start[self.steady_side].pos
        hand = np.zeros_like(self._start[self.steady_side].hand_q)
        quat = quat_from_mat(R)
        return [
            ("raise", 0.6, SideTarget(start + [0.05, 0.0, 0.15])),
            ("turn", 1.0, SideTarget(start + [0.05, 0.0, 0.15], quat, hand)),
            ("above", 1.0, SideTarget(palm + 0.06 * normal)),
            ("press", 0.6, SideTarget(palm)),
        ]

    def plan(self) -> list[Segment]:
        self._servo = None
        self._command = None
        self._drill_start = self.task.drill.drill_pose(self.env.data)[0]
        # The trigger is pulled once the drill is up and kept pulled until the last screw
        # is out: pulling turns the drill in the hand a little, and every move to a screw
        # is then planned from the drill's pose as it will be driving.
        self._steps = ([self._pull] + [step for screw in SCREWS for step in self._screw_steps(screw)]
                       + self._set_down_steps())  # fmt: skip
        # The left hand settles on the fixture before the right hand starts: moving both
        # at once makes a teleoperator reset the far-reaching left arm's workspace (pedal
        # up for both hands) in the middle of the right hand's approach to the drill.
        steady = [Segment(f"steady:{name}", duration, {self.steady_side: target})
                  for name, duration, target in self._steady_segments()]  # fmt: skip
        return steady + self.pick.pick_up()

    def _drill_in_hand(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(palm command position, palm command rotation, tip offset from the commanded
        palm in world axes, bit direction), from the current command and measured drill."""
        assert self._command is not None
        tip = self.task.drill.bit_tip(self.env.data)
        _, drill_rot = self.task.drill.drill_pose(self.env.data)
        return self._command.pos, mat_from_quat(self._command.quat), tip - self._command.pos, drill_rot[:, 0]

    def _to_screw(self, screw: str) -> list[Segment]:
        """Turn the bit onto the screw's axis and put its tip at the standoff."""
        head, axis = self.task.screw_head(self.env.data, screw)
        pos, R, tip_offset, bit = self._drill_in_hand()
        E = _rotation_between(bit, -axis)
        goal = head + self.config.standoff * axis
        target = SideTarget(goal - E @ tip_offset, quat_from_mat(E @ R))
        return [Segment(f"{screw}:to_screw", self.config.to_screw_s, {self.side: target})]

    def _pull(self) -> list[Segment]:
        return [Segment("pull_trigger", 0.5, {self.side: SideTarget(hand_q=self.pick.hand_poses()["pull"])})]

    def _back_off(self, screw: str, last: bool) -> list[Segment]:
        pos, R, tip_offset, bit = self._drill_in_hand()
        segments = [Segment(f"{screw}:back_off", 0.6, {self.side: SideTarget(pos - 0.04 * bit)})]
        if last:
            grasp = self.pick.hand_poses()["grasp"]
            segments.append(Segment("release_trigger", 0.3, {self.side: SideTarget(hand_q=grasp)}))
        return segments

    # --- closed loop ------------------------------------------------------------------------

    def _anchor(self) -> Segment:
        """A zero-length segment whose targets are the last command (the servo's), so
        planned segments continue from where the servo left the hand."""
        targets = {s: SideTarget(p.pos.copy(), p.quat.copy(), p.hand_q.copy()) for s, p in self._last.items()}
        return Segment("anchor", 0.0, targets)

    def _screw_steps(self, screw: str) -> list[Step]:
        c, task, data = self.config, self.task, self.env.data
        pull = self.pick.hand_poses()["pull"]

        def tip() -> np.ndarray:
            return task.drill.bit_tip(data)

        def bit() -> tuple[np.ndarray, np.ndarray]:
            return task.drill.drill_pose(data)[1][:, 0], -task.screw_head(data, screw)[1]

        def pressed() -> np.ndarray:
            head, axis = task.screw_head(data, screw)
            return head - c.press * axis

        def standoff() -> np.ndarray:
            head, axis = task.screw_head(data, screw)
            return head + c.standoff * axis

        def centred(elapsed: float) -> bool | None:
            if (
                task.measurements[f"{screw}_radial"] < c.centre_radius
                and task.measurements[f"{screw}_angle"] < c.centre_angle
            ):
                return True
            return None if elapsed > c.engage_timeout else False

        def engaged(elapsed: float) -> bool | None:
            if elapsed >= c.approach_s and task.measurements[f"{screw}_aligned"] > 0:
                return True
            return None if elapsed > c.approach_s + c.engage_timeout else False

        def out(elapsed: float) -> bool | None:
            if not task.thread(screw).engaged(data):
                return True
            return None if elapsed > c.drive_timeout else False

        return [
            lambda: self._to_screw(screw),
            Servo(f"{screw}:centre", tip, lambda t0, t: standoff(), bit, pull, centred),
            Servo(f"{screw}:engage", tip, self._slide(pressed), bit, pull, engaged),
            Servo(f"{screw}:drive", tip, lambda t0, t: pressed(), bit, pull, out),
            lambda: self._back_off(screw, last=screw == SCREWS[-1]),
        ]

    def _slide(self, end: Callable[[], np.ndarray]) -> Callable[[np.ndarray, float], np.ndarray]:
        """A goal sliding in ``approach_s`` from where the tracked point was when the
        phase began to ``end()``."""
        duration = self.config.approach_s

        def goal(first: np.ndarray, elapsed: float) -> np.ndarray:
            s = min(elapsed / duration, 1.0)
            return first + s * (end() - first)

        return goal

    def _set_down_steps(self) -> list[Step]:
        """Carry the drill back, level it over where it was, lower, let go, withdraw."""
        c, task, data = self.config, self.task, self.env.data
        assert self._drill_start is not None
        spot = self._drill_start + [*c.set_down_shift, c.set_down_height + c.carry_height]
        grasp = self.pick.hand_poses()["grasp"]

        def origin() -> np.ndarray:
            return task.drill.drill_pose(data)[0]

        def target_up() -> np.ndarray:
            # Upright, leaning ``set_down_lean`` toward the bit (nose down).
            rot = task.drill.drill_pose(data)[1]
            forward = np.array([rot[0, 0], rot[1, 0], 0.0])
            forward /= np.linalg.norm(forward)
            return math.cos(c.set_down_lean) * np.array([0.0, 0.0, 1.0]) + math.sin(c.set_down_lean) * forward

        def up() -> tuple[np.ndarray, np.ndarray]:
            return task.drill.drill_pose(data)[1][:, 2], target_up()

        def levelled(elapsed: float) -> bool | None:
            _, rot = task.drill.drill_pose(data)
            near = np.linalg.norm(origin() - spot) < c.level_position and rot[:, 2] @ target_up() > math.cos(
                c.level_angle
            )
            if near:
                return True
            return None if elapsed > c.level_timeout else False

        return [
            lambda: self._carry_back(spot),
            Servo("level", origin, lambda t0, t: spot, up, grasp, levelled),
            self._lower_and_let_go,
        ]

    def _carry_back(self, spot: np.ndarray) -> list[Segment]:
        pos, R, _, _ = self._drill_in_hand()
        drill_origin = self.task.drill.drill_pose(self.env.data)[0]
        return [
            Segment("carry_back", self.config.carry_s, {self.side: SideTarget(pos + spot - drill_origin)})
        ]

    def _lower_and_let_go(self) -> list[Segment]:
        c, side, task = self.config, self.side, self.task
        pos, R, _, _ = self._drill_in_hand()
        low = pos - [0.0, 0.0, c.carry_height + c.set_down_height + c.lower_past]
        lower_s = (c.carry_height + c.set_down_height) / c.lower_speed
        poses = self.pick.hand_poses()
        fingers_open = poses["open"].copy()
        thumb = [
            self.pick._names.index(n)
            for n in ("thumb_cmc_abd", "thumb_cmc_flex", "thumb_mcp_flex", "thumb_ip")
        ]
        fingers_open[thumb] = poses["grasp"][thumb]
        loose = poses["contact"] + self.config.loosen * (poses["open"] - poses["contact"])
        # Withdraw against the palm's normal (the way the hand came in), then up.
        outward = -np.array([R[0, 0], R[1, 0], 0.0])
        outward /= np.linalg.norm(outward)
        out = low + c.withdraw * outward
        return [
            # Lowered as far as it goes, the drill may still hang a few mm over the table
            # (it sits higher in the hand on some seeds): the plan goes on, and the
            # loosened fingers let it down.
            Segment(
                "lower",
                lower_s,
                {side: SideTarget(low)},
                until=self._or_after(
                    lambda e: task.measurements["drill/on_table"] > 0 or self._stalled(low), lower_s + 1.0
                ),
            ),  # fmt: skip
            # Where the wrist reaches the table before the battery does (the drill slides
            # down in the grasp while it drives), the loosened fingers let it slide down
            # to the table, guided, rather than drop.
            Segment(
                "loosen",
                0.4,
                {side: SideTarget(hand_q=loose)},
                until=self._or_after(lambda e: task.measurements["drill/on_table"] > 0, 0.4 + c.slide_wait),
            ),  # fmt: skip
            Segment("open_fingers", 0.5, {side: SideTarget(hand_q=fingers_open)}),
            Segment("open_thumb", 0.5, {side: SideTarget(hand_q=poses["open"])}),
            # The opened thumb is clear of the handle's back, so the hand withdraws as it
            # is. (Turning the thumb flat first swung its metacarpal up into the housing
            # where the drill sits high in the hand, and flung the drill: seed 1062.)
            Segment("withdraw", 0.8, {side: SideTarget(out)}),
            Segment(
                "rise",
                0.6,
                {side: SideTarget(out + [0.0, 0.0, 0.1])},
                until=lambda e: task.evaluate(e.model, e.data).success,
                timeout=1.0,
            ),  # fmt: skip
        ]

    def _or_after(self, condition: Condition, seconds: float) -> Condition:
        """``condition``, or true anyway once the segment has run ``seconds`` (a wait
        that goes on with the plan instead of abandoning it)."""
        return lambda e: condition(e) or (e.data.time - self._segment_start) / self.time_scale >= seconds

    def _stalled(self, target: np.ndarray) -> bool:
        """After the move, the palm is still short of ``target`` by more than ``stall``:
        the arm's wrist is down on the table and the hand cannot take the drill lower."""
        pos, _ = self.env.palm_pose(self.side)
        return bool(np.linalg.norm(pos - target) > self.config.stall)

    def _joint_margin(self) -> float:
        """Smallest distance of the working arm's joints from their limits, rad."""
        arm = self.env.robot.arms[self.side]
        q = self.env.data.qpos[arm.qpos_idx]
        low, high = self._arm_range[:, 0], self._arm_range[:, 1]
        return float(np.min(np.minimum(q - low, high - q)))

    def _servo_step(self, servo: Servo) -> dict[Side, _Pose]:
        """One control step of a servo: the command moves by ``gain`` of the tracked
        point's error and turns by ``turn_gain`` of the alignment's angle."""
        c = self.config
        cmd = self._command
        assert cmd is not None and self._servo_first is not None
        elapsed = (self.env.data.time - self._servo_start) / self.time_scale
        cmd.pos = cmd.pos + c.gain * (servo.goal(self._servo_first, elapsed) - servo.point())
        # Anti-windup: the command leads the palm by at most max_lead (a blocked or
        # stretched arm would otherwise wind the command far away).
        palm, _ = self.env.palm_pose(self.side)
        lead = cmd.pos - palm
        if np.linalg.norm(lead) > c.max_lead:
            cmd.pos = palm + c.max_lead * lead / np.linalg.norm(lead)
        have, want = servo.align()
        E = _rotation_between(have, want)
        angle = math.acos(min(max((np.trace(E) - 1.0) / 2.0, -1.0), 1.0))
        # Turn only while the arm's joints are clear of their limits: at a limit the IK
        # gives up position for orientation, and a few degrees of bit angle are allowed.
        if angle > 1e-9 and self._joint_margin() > c.limit_margin:
            k = np.array([E[2, 1] - E[1, 2], E[0, 2] - E[2, 0], E[1, 0] - E[0, 1]]) / (2 * math.sin(angle))
            cmd.quat = quat_from_mat(mat_from_rotvec(c.turn_gain * angle * k) @ mat_from_quat(cmd.quat))
        cmd.hand_q = servo.hand_q
        poses = dict(self._last)
        poses[self.side] = _Pose(cmd.pos.copy(), cmd.quat.copy(), cmd.hand_q.copy())
        return poses

    def _begin(self, step: Step) -> None:
        """Start a step: a servo, or planned segments appended after an anchor."""
        if isinstance(step, Servo):
            last = self._last[self.side]
            self._servo = step
            self._servo_start = self.env.data.time
            self._servo_first = step.point().copy()
            self._command = _Pose(last.pos.copy(), last.quat.copy(), last.hand_q.copy())
            return
        last = self._last[self.side]
        self._command = _Pose(last.pos.copy(), last.quat.copy(), last.hand_q.copy())
        self._segments = self._segments[: self._index] + [self._anchor()] + step()
        self._segment_start = self.env.data.time
        self._waiting_since = None
        self._keyframes = self._plan_keyframes()

    def _skip_servos(self) -> None:
        """A phase timed out: drop the servos queued after it (the rest of that screw's
        work), keep the planned steps (its back-off, the next screw)."""
        while self._steps and isinstance(self._steps[0], Servo):
            self._steps.pop(0)

    def act(self, observation: dict) -> np.ndarray:
        if self._hold is not None:
            return super().act(observation)
        if self._servo is not None:
            done = self._servo.done((self.env.data.time - self._servo_start) / self.time_scale)
            if done is False:
                self._last = self._servo_step(self._servo)
                return self._action(self._last)
            self._servo = None
            if done is None:
                self._skip_servos()
        elif self.failed or self._index < len(self._segments):
            return super().act(observation)
        if self._steps:
            self._begin(self._steps.pop(0))
            return self.act(observation)
        return super().act(observation)

    @property
    def done(self) -> bool:
        """The whole plan, closed-loop phases included, has been played (or abandoned)."""
        return self.failed or (self._servo is None and not self._steps and self._index >= len(self._segments))

    @property
    def segment_name(self) -> str:
        if self._servo is not None and self._hold is None:
            return self._servo.name
        return super().segment_name
