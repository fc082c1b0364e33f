"""``HandITL/UnscrewWithDrill-v0``: pick up the drill, drive two screws out, put the drill down.

The cordless drill of ``PickUpDrill`` (:mod:`handitl.assets.props.drill`) stands on its
battery on the right of the table; to its left a screw fixture
(:func:`~handitl.assets.props.assembly.add_screw_fixture`: a foot plate and a panel
leaning back 15 degrees, fixed to the table) carries two slotted screws in its front face,
``screw_a`` (right) and ``screw_b``, each on a 1.5 mm-pitch thread 5 turns deep. The left
hand steadies the fixture; the right hand picks the drill up, brings the bit's tip onto
each screw's head, pulls the trigger until the screw comes out of its thread (it then
drops), and finally stands the drill back on the table and lets go.

Driving: the drill is set to reverse. A screw turns only while the bit is *aligned* with
it: the bit's tip within ``align_radius`` of the screw's axis and no further than
``align_gap`` off its head (it touches the head, the bit is modelled round) and the bit's
axis within ``align_angle`` of the screw's. While aligned,
the screw's drive (a torque on its thread hinge) follows the chuck: torque =
``DRIVE_KV`` * (chuck speed - screw speed), clipped to [0, ``DRIVE_TORQUE_LIMIT``]; the
thread's coupling turns that into the screw backing out toward the bit (the hand must
give way). The prop releases a screw at the top of its thread; it is then a free body
that falls out of the face.

* Action: any :class:`~handitl.envs.actions.ActionMode`; both arms are used.
* Task state (36): the drill's pose (battery-underside origin, position m and quaternion
  w, x, y, z, 7), trigger pressed fraction (1), chuck speed (rad/s, 1); the fixture's pose
  (foot-underside centre, 7); per screw, in order ``screw_a``, ``screw_b``: its pose (head
  underside centre on its axis, +z out of the face, 7), thread angle (rad, + unscrewing),
  thread rise (m), engaged (1 while on its thread, else 0). World frame.
* Reward terms (each a kernel in [0, 1] times its weight; the reward is their sum):
  ``reach`` (0.05, the right palm to the drill's grip point until grasped), ``grasp``
  (0.05, the drill held), ``align`` (0.1, the bit's tip to the current screw's head while
  held), ``turn`` (0.2, the current screw's rise over its travel, 1 once out), ``place``
  (0.1, once both screws are out: the drill's battery toward the table, standing),
  ``progress`` (0.5, the normalised score). Once the task succeeds each term is at its
  weight (reward 1).
* Stages (four sub-tasks, each latched and in order within its sub-task):
  ``drill_grasped``, ``drill_lifted`` (grasped, off the table, raised >=
  ``lift_height``); per screw ``<screw>_aligned`` (the bit aligned with it, the drill
  held), ``<screw>_loosened`` (turned at least ``loosen_turns`` while the left hand touched
  the fixture), ``<screw>_out`` (off its thread); ``drill_set_down`` (after both screws are
  out: the drill's battery on the table, standing within ``upright_angle``) and
  ``drill_released`` (then: standing on the table at rest, touched by no robot geom). Score: one
  point per sub-task split over its stages; normalised score = score / 4. Success = every
  stage.
* Failure (before success): the drill fell off the table or tipped over with no hand on it
  (``PickUpDrill``'s rules).
* Version history: v0, first release.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from handitl.assets import contact_constants as cc
from handitl.assets.hand_description import SIDES, Side
from handitl.assets.props import assembly as ap
from handitl.assets.props import drill as dp
from handitl.assets.scene import SceneDescription, side_prefix
from handitl.envs.rewards import tolerance
from handitl.envs.robot import RobotBindings
from handitl.envs.tasks.base import Task, TaskStatus
from handitl.envs.tasks.drill import PickUpDrill, PickUpDrillConfig

SCREWS = ("screw_a", "screw_b")
SUBTASKS = (
    ("drill_grasped", "drill_lifted"),
    *((f"{s}_aligned", f"{s}_loosened", f"{s}_out") for s in SCREWS),
    ("drill_set_down", "drill_released"),
)
STAGES = tuple(stage for group in SUBTASKS for stage in group)
WEIGHTS = {"reach": 0.05, "grasp": 0.05, "align": 0.1, "turn": 0.2, "place": 0.1, "progress": 0.5}
"""Reward term weights (their sum is 1)."""

DRIVE_KV = 0.2
"""Screw drive gain, N m per rad/s of slip between the chuck and the screw: a bit in a
slot is a stiff coupling (against the thread's 0.2 N m friction the screw lags the chuck
by ~1 rad/s)."""
DRIVE_TORQUE_LIMIT = 1.0
"""Most torque the bit puts on a screw, N m (a compact drill-driver's low gear gives tens
of N m; this is enough to beat the thread's friction at full speed)."""


@dataclasses.dataclass(frozen=True)
class UnscrewWithDrillConfig:
    """Initial-state sampling and scoring (world frame, m, rad)."""

    drill: PickUpDrillConfig = PickUpDrillConfig(lift_height=0.05)
    """The drill's sampling range and grasp/lift rules (its trigger rules are unused)."""
    fixture_xy_low: tuple[float, float] = (0.75, 0.04)
    """Lower corner of the fixture's centre on the table."""
    fixture_xy_high: tuple[float, float] = (0.79, 0.08)
    fixture_yaw: float = 0.3
    """Mean yaw of the fixture (0: its face looks at the robot along -x); turned toward
    the right arm, which brings the drill from the right."""
    fixture_yaw_range: float = 0.08
    """The yaw is uniform in fixture_yaw +- this."""
    align_radius: float = 0.003
    """Most distance of the bit's tip from a screw's axis for the bit to drive it, m."""
    align_gap: float = 0.003
    """Most distance of the bit's tip off the screw head's face for it to drive it, m."""
    align_angle: float = 0.2
    """Most angle between the bit's axis and the screw's for the bit to drive it, rad."""
    loosen_turns: float = 1.0
    """Steadied turns that count as loosened."""
    upright_angle: float = 0.3
    """Most tilt of a drill set down, rad."""
    still_speed: float = 0.02
    """Most speed of a released drill that counts as at rest, m/s."""
    still_spin: float = 0.2
    """Most angular speed of a released drill that counts as at rest, rad/s."""
    place_margin: float = 0.25
    """Height of the drill over the table at which the ``place`` kernel has dropped to
    0.1, m."""
    side: Side = Side.RIGHT
    """The hand that drives; the other steadies."""


class UnscrewWithDrill(Task):
    name = "UnscrewWithDrill"

    def __init__(self, config: UnscrewWithDrillConfig | None = None) -> None:
        self.config = config or UnscrewWithDrillConfig()
        if self.config.drill.side is not self.config.side:
            raise ValueError("UnscrewWithDrillConfig: drill.side must equal side")
        self.drill = PickUpDrill(self.config.drill)
        """The drill's own rules (grasp, lift, trigger, motor), shared with PickUpDrill."""
        self._latched = dict.fromkeys(STAGES, False)
        self._steady_turn = dict.fromkeys(SCREWS, 0.0)
        self._last_turn = dict.fromkeys(SCREWS, 0.0)
        self._aligned = dict.fromkeys(SCREWS, False)
        self._m: dict[str, float] = {}

    # --- model ------------------------------------------------------------------------------

    def build(self, spec: mujoco.MjSpec, scene: SceneDescription) -> None:
        dp.add_drill(spec)  # the drill alone: PickUpDrill's close-up camera is not ours
        names = ap.add_screw_fixture(spec, SCREWS)
        for n in names.values():
            spec.add_actuator(name=f"{n.name}_drive", target=n.turn_joint,
                              trntype=mujoco.mjtTrn.mjTRN_JOINT, ctrlrange=[0.0, DRIVE_TORQUE_LIMIT],
                              ctrllimited=1)  # fmt: skip
        # A close-up from the table's far right: the drill, its bit on the screws, the
        # fixture's face and the steadying hand on its top.
        eye, target = np.array([1.05, -0.45, 0.50]), np.array([0.70, -0.02, 0.20])
        forward = (target - eye) / np.linalg.norm(target - eye)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        spec.worldbody.add_camera(name="unscrew_drill_closeup", pos=list(eye), fovy=55.0,
                                  xyaxes=[*right, *up])  # fmt: skip

    def bind(self, model: mujoco.MjModel, robot: RobotBindings) -> None:
        self.drill.bind(model, robot)
        self._threads = [ap.ThreadBinding.bind(model, ap.FastenerNames(s)) for s in SCREWS]
        self._drives = [model.actuator(f"{s}_drive").id for s in SCREWS]
        base = model.body(ap.ASSEMBLY_BODY)
        self._base_body = base.id
        self._base_mocap = int(base.mocapid[0])
        self._fixture = model.geom_bodyid == base.id
        self._robot = (model.geom_contype & cc.CONTYPE_ROBOT) != 0
        steady_prefix = side_prefix(SIDES[1 - SIDES.index(self.config.side)])
        self._steady_hand = np.array([self._robot[g] and model.geom(g).name.startswith(steady_prefix)
                                      for g in range(model.ngeom)])  # fmt: skip
        self._head_offset = ap.SCREW_SLOT_DEPTH
        self._drill_body = model.body("drill").id

    # --- episode ----------------------------------------------------------------------------

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        c = self.config
        self.drill.reset(model, data, rng)
        xy = rng.uniform(c.fixture_xy_low, c.fixture_xy_high)
        yaw = c.fixture_yaw + rng.uniform(-c.fixture_yaw_range, c.fixture_yaw_range)
        data.mocap_pos[self._base_mocap] = [xy[0], xy[1], 0.0]
        data.mocap_quat[self._base_mocap] = [math.cos(0.5 * yaw), 0.0, 0.0, math.sin(0.5 * yaw)]
        for t, drive in zip(self._threads, self._drives):
            t.seat(model, data, 0.0)
            data.ctrl[drive] = 0.0
        self._initial_conditions = {**self.drill.initial_conditions, "fixture_x_m": float(xy[0]),
                                    "fixture_y_m": float(xy[1]), "fixture_yaw_rad": float(yaw)}  # fmt: skip
        self._latched = dict.fromkeys(STAGES, False)
        self._steady_turn = dict.fromkeys(SCREWS, 0.0)
        self._last_turn = {s: t.turn(data) for s, t in zip(SCREWS, self._threads)}
        self._aligned = dict.fromkeys(SCREWS, False)

    def before_step(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        self.drill.before_step(model, data)
        # The drill is switched to reverse: the chuck turns the way that unscrews.
        motor = self.drill.motor_actuator
        data.ctrl[motor] = -data.ctrl[motor]
        speed = -self.drill.chuck_speed(data)
        for s, t, drive in zip(SCREWS, self._threads, self._drives):
            t.release_if_unscrewed(data)
            torque = 0.0
            if self._aligned[s] and t.engaged(data):
                slip = speed - float(data.qvel[t.turn_dof])
                torque = min(max(DRIVE_KV * slip, 0.0), DRIVE_TORQUE_LIMIT)
            data.ctrl[drive] = torque

    # --- measurements -----------------------------------------------------------------------

    def alignment(self, data: mujoco.MjData, screw: str) -> tuple[float, float, float]:
        """(radial m, gap m, angle rad) of the bit's tip and axis to a screw: the tip's
        distance from the screw's axis, its distance off the head's face along the axis
        (negative: inside the head's outline), and the angle between the bit's axis
        (pointing out of the chuck) and the screw's axis pointing into the face."""
        t = self._threads[SCREWS.index(screw)]
        axis = data.xmat[t.body].reshape(3, 3)[:, 2]
        head = data.site_xpos[t.grip_site] + self._head_offset * axis
        e = self.drill.bit_tip(data) - head
        gap = float(e @ axis)
        radial = float(np.linalg.norm(e - gap * axis))
        bit = data.xmat[self._drill_body].reshape(3, 3)[:, 0]
        angle = math.acos(min(max(float(-bit @ axis), -1.0), 1.0))
        return radial, gap, angle

    def update(self, model: mujoco.MjModel, data: mujoco.MjData, *, reset: bool = False) -> None:
        c = self.config
        self.drill.update(model, data, reset=reset)
        dm = self.drill.measurements
        held = dm["grasped"] > 0
        steadied = self._steadied(data)
        latched = self._latched
        m: dict[str, float] = {"steadied": float(steadied), "held": float(held)}
        if not reset:
            latched["drill_grasped"] |= held
            latched["drill_lifted"] |= latched["drill_grasped"] and dm["lifted"] > 0
        current = None
        for s, t in zip(SCREWS, self._threads):
            radial, gap, angle = self.alignment(data, s)
            engaged = t.engaged(data)
            aligned = (engaged and radial <= c.align_radius and gap <= c.align_gap
                       and gap >= -ap.SCREW_SLOT_DEPTH and angle <= c.align_angle)  # fmt: skip
            self._aligned[s] = aligned
            turn = t.turn(data)
            if not reset and steadied and engaged:
                self._steady_turn[s] += max(turn - self._last_turn[s], 0.0)
            self._last_turn[s] = turn
            if not reset:
                latched[f"{s}_aligned"] |= aligned and held
                latched[f"{s}_loosened"] |= (latched[f"{s}_aligned"]
                                             and self._steady_turn[s] >= 2 * math.pi * c.loosen_turns)  # fmt: skip
                latched[f"{s}_out"] |= latched[f"{s}_loosened"] and not engaged
            if current is None and not latched[f"{s}_out"]:
                current = s
                m["align"] = float(math.hypot(radial, max(gap, 0.0)))
                m["turn"] = t.rise(data) / t.travel if engaged else 1.0
            m[f"{s}_radial"], m[f"{s}_gap"], m[f"{s}_angle"] = radial, gap, angle
            m[f"{s}_aligned"] = float(aligned)
            m[f"{s}_turns"] = turn / (2 * math.pi)
            m[f"{s}_steady_turns"] = self._steady_turn[s] / (2 * math.pi)
            m[f"{s}_engaged"] = float(engaged)
        if current is None:
            m.update(align=0.0, turn=1.0)
        screws_out = all(latched[f"{s}_out"] for s in SCREWS)
        standing = dm["on_table"] > 0 and dm["tilt"] <= c.upright_angle
        linear, angular = self.drill.drill_speed(data)
        still = linear <= c.still_speed and angular <= c.still_spin
        if not reset and screws_out:
            latched["drill_set_down"] |= standing
            latched["drill_released"] |= (latched["drill_set_down"] and standing and still
                                          and dm["touched"] == 0)  # fmt: skip
        m["standing"] = float(standing)
        m["still"] = float(still)
        m["drill_height"] = float(data.xpos[self._drill_body][2])
        m["current"] = float(-1 if current is None else SCREWS.index(current))
        self._m = m

    def _steadied(self, data: mujoco.MjData) -> bool:
        """The steadying hand touches the fixture."""
        n = data.ncon
        g1, g2 = data.contact.geom1[:n], data.contact.geom2[:n]
        return bool(np.any((self._fixture[g1] & self._steady_hand[g2])
                           | (self._fixture[g2] & self._steady_hand[g1])))  # fmt: skip

    # --- observation, reward, evaluation ----------------------------------------------------

    @property
    def state_size(self) -> int:
        return self.drill.state_size + 7 + 10 * len(SCREWS)

    def state(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        parts = [self.drill.state(model, data), data.mocap_pos[self._base_mocap],
                 data.mocap_quat[self._base_mocap]]  # fmt: skip
        for t in self._threads:
            parts += [data.qpos[t.qpos : t.qpos + 7], [t.turn(data), t.rise(data), float(t.engaged(data))]]
        return np.concatenate(parts).astype(np.float64)

    def fixture_pose(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """(position m, rotation 3x3) of the fixture frame, world frame."""
        b = self._base_body
        return data.xpos[b].copy(), data.xmat[b].reshape(3, 3).copy()

    def screw_head(self, data: mujoco.MjData, screw: str) -> tuple[np.ndarray, np.ndarray]:
        """(centre of the head's face m, unit axis pointing out of the fixture's face),
        world frame."""
        t = self._threads[SCREWS.index(screw)]
        axis = data.xmat[t.body].reshape(3, 3)[:, 2].copy()
        return data.site_xpos[t.grip_site] + self._head_offset * axis, axis

    def thread(self, screw: str) -> ap.ThreadBinding:
        """The screw's thread binding (angle, rise, engaged)."""
        return self._threads[SCREWS.index(screw)]

    def steady_point(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """(point, outward unit normal) of the steadying point on the panel's top edge
        near its free (+y) end, world frame, m."""
        pos, rot = self.fixture_pose(data)
        point, normal = ap.fixture_steady_point()
        return pos + rot @ point, rot @ normal

    @property
    def measurements(self) -> dict[str, float]:
        """The latest :meth:`update` measurements (``steadied``, ``held``, ``align``,
        ``turn``, ``standing``, ``drill_height``, ``current`` (index of the current screw,
        -1 none); per screw ``<screw>_radial``, ``_gap``, ``_angle``, ``_aligned``,
        ``_turns``, ``_steady_turns``, ``_engaged``), plus the drill's own
        (:attr:`PickUpDrill.measurements`) under ``drill/``."""
        out = dict(self._m)
        out.update({f"drill/{k}": v for k, v in self.drill.measurements.items()})
        return out

    def reward(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        c, m, w = self.config, self._m, WEIGHTS
        dm = self.drill.measurements
        status = self.evaluate(model, data)
        if status.success:
            return dict(w)
        screws_out = all(self._latched[f"{s}_out"] for s in SCREWS)
        place = 0.0
        if screws_out:
            height = max(m["drill_height"], 0.0)
            place = tolerance(height, 0.0, 0.005, margin=c.place_margin, sigmoid="long_tail")
            place *= float(dm["tilt"] <= c.upright_angle)
        held = m["held"] > 0 or self._latched["drill_set_down"]
        return {
            "reach": w["reach"] * (1.0 if held else tolerance(dm["reach"], 0.0, 0.03, margin=0.3,
                                                               sigmoid="long_tail")),
            "grasp": w["grasp"] * float(held),
            "align": w["align"] * float(m["held"] > 0)
            * tolerance(m["align"], 0.0, c.align_radius, margin=0.2, sigmoid="long_tail"),
            "turn": w["turn"] * min(max(m["turn"], 0.0), 1.0),
            "place": w["place"] * place,
            "progress": w["progress"] * status.normalized_score,
        }  # fmt: skip

    def evaluate(self, model: mujoco.MjModel, data: mujoco.MjData) -> TaskStatus:
        dm = self.drill.measurements
        stages = dict(self._latched)
        success = all(stages.values())
        failure = not success and bool(dm["fell"] or dm["tipped"])
        return TaskStatus(stages=stages, success=success, failure=failure, subtasks=SUBTASKS)
