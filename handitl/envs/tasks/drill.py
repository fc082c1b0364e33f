"""``HandITL/PickUpDrill-v0``: grasp a cordless drill by its handle, lift it, pull the trigger.

The drill (:mod:`handitl.assets.props.drill`) stands upright on its battery on the table
in front of the right arm, its bit pointing away from the robot (yaw randomised). The
right hand wraps the pistol handle (a power grasp held only by contact friction), lifts
the drill at least ``lift_height`` and presses the spring-loaded trigger with the index
finger to at least ``trigger_fraction`` of its travel for ``trigger_s`` while holding it
up. The trigger is a variable-speed switch: the chuck's motor speed rises linearly from
zero at ``TRIGGER_DEAD_FRACTION`` to full at ``PRESSED_FRACTION`` of the travel.

* Action: any :class:`~handitl.envs.actions.ActionMode`; the left arm is not needed.
* Task state (9): drill pose (battery-underside origin, position m and quaternion w, x,
  y, z, world frame, 7), trigger pressed fraction (0-1, 1), chuck speed (rad/s, 1).
* Reward terms (each a kernel in [0, 1] times its weight; the reward is their sum):
  ``reach`` (0.1, palm to the handle's grip point), ``grasp`` (0.2, the thumb or the
  palm and at least two fingers on the handle), ``lift`` (0.3, height gained toward
  ``lift_height`` while grasped), ``trigger`` (0.4, pressed fraction toward
  ``trigger_fraction`` while lifted).
* Stages (one sub-task, latched, in order): ``grasped`` (the right hand's thumb or palm
  and at least two of its fingers touch the handle: an opposition grasp), ``lifted``
  (grasped, off the table and raised >= ``lift_height``), ``triggered`` (lifted and the trigger held >=
  ``trigger_fraction`` for ``trigger_s`` without a break). Success = ``triggered``.
* Failure: the drill fell off the table (below ``fall_z``), or it tipped over (its up
  axis more than ``tipped_angle`` from vertical) with no hand on it.
* Version history: v0, first release.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from handitl.assets import contact_constants as cc
from handitl.assets.hand_description import Side
from handitl.assets.props import drill as dp
from handitl.assets.scene import SceneDescription, side_prefix
from handitl.envs.rewards import tolerance
from handitl.envs.robot import RobotBindings
from handitl.envs.tasks.base import Task, TaskStatus

STAGES = ("grasped", "lifted", "triggered")

TRIGGER_DEAD_FRACTION = 0.2
"""Pressed fraction below which the motor stays off (the switch's dead travel)."""

_FINGER_NAMES = ("thumb", "index", "middle", "ring", "little", "palm")
# Contact classes of geoms: 0 other, 1 drill, 2 table/floor, 3 other robot geoms,
# 4 + part index for the task hand's digits and palm.
_OTHER, _DRILL, _TABLE, _ROBOT = range(4)
_FINGER0 = 4


@dataclasses.dataclass(frozen=True)
class PickUpDrillConfig:
    """Initial-state sampling and scoring (world frame, m, rad, s)."""

    drill_xy_low: tuple[float, float] = (0.55, -0.20)
    """Lower corner of the battery's centre on the table. Closer to the right arm's base
    than x ~ 0.5 the FR3 cannot reach the wrapped grasp (joint 6's limit); the turning
    hand's fingers sweep near a drill closer to the arm than y ~ -0.22."""
    drill_xy_high: tuple[float, float] = (0.62, -0.13)
    yaw_range: float = 0.25
    """The drill's yaw (0: bit along +x, away from the robot) is uniform in +- this."""
    lift_height: float = 0.10
    """Height the drill must gain over its resting height, m."""
    trigger_fraction: float = 0.7
    """Pressed fraction of the trigger's travel that counts as pulled."""
    trigger_s: float = 0.5
    """Time the trigger must stay pulled while the drill is lifted, s."""
    fall_z: float = -0.05
    """Drill height below which it fell off the table, m."""
    tipped_angle: float = 1.0
    """Tilt of the drill's up axis from vertical counted as tipped over, rad."""
    side: Side = Side.RIGHT
    """The hand that does the task."""


class PickUpDrill(Task):
    name = "PickUpDrill"

    def __init__(self, config: PickUpDrillConfig | None = None) -> None:
        self.config = config or PickUpDrillConfig()
        self._latched = dict.fromkeys(STAGES, False)
        self._pulled_since: float | None = None
        self._rest_z = 0.0
        self._m: dict[str, float] = {}

    # --- model ------------------------------------------------------------------------------

    def build(self, spec: mujoco.MjSpec, scene: SceneDescription) -> None:
        dp.add_drill(spec)
        # A close-up of the grasp from the far side of the table, looking down at the handle
        # from the drill's left (the hand wraps its front from the right).
        eye, target = np.array([1.08, 0.08, 0.45]), np.array([0.58, -0.17, 0.17])
        forward = (target - eye) / np.linalg.norm(target - eye)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        spec.worldbody.add_camera(name="drill_closeup", pos=list(eye), fovy=50.0,
                                  xyaxes=[*right, *up])  # fmt: skip

    def bind(self, model: mujoco.MjModel, robot: RobotBindings) -> None:
        names = dp.NAMES
        self._hand = robot.hands[self.config.side]
        joint = model.joint(names.freejoint)
        self._drill_qpos = int(joint.qposadr[0])
        self._drill_dof = int(joint.dofadr[0])
        self._drill_body = model.body(names.body).id
        self._trigger_qpos = int(model.joint(names.trigger_joint).qposadr[0])
        self._trigger_dof = int(model.joint(names.trigger_joint).dofadr[0])
        self._chuck_qpos = int(model.joint(names.chuck_joint).qposadr[0])
        self._chuck_dof = int(model.joint(names.chuck_joint).dofadr[0])
        self._motor = model.actuator(names.motor).id
        self._grip_site = model.site(names.grip_site).id
        self._bit_tip_site = model.site(names.bit_tip_site).id
        self._handle_geoms = {model.geom(names.handle_geom).id, model.geom(names.trigger_geom).id}
        drill_bodies = {b for b in range(model.nbody)
                        if b == self._drill_body or model.body_parentid[b] == self._drill_body}  # fmt: skip
        prefix = side_prefix(self.config.side)
        classes = np.full(model.ngeom, _OTHER, dtype=np.intp)
        robot_bit = (model.geom_contype & cc.CONTYPE_ROBOT) != 0
        classes[robot_bit] = _ROBOT
        for g in range(model.ngeom):
            name = model.geom(g).name
            if model.geom_bodyid[g] in drill_bodies:
                classes[g] = _DRILL
            elif name in ("table", "floor"):
                classes[g] = _TABLE
            elif name.startswith(prefix) and robot_bit[g]:
                finger = name[len(prefix) :].split("_")[0]
                if finger in _FINGER_NAMES:
                    classes[g] = _FINGER0 + _FINGER_NAMES.index(finger)
        self._classes = classes
        self._handle = np.zeros(model.ngeom, dtype=bool)
        self._handle[list(self._handle_geoms)] = True

    # --- episode ----------------------------------------------------------------------------

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        c = self.config
        xy = rng.uniform(c.drill_xy_low, c.drill_xy_high)
        yaw = rng.uniform(-c.yaw_range, c.yaw_range)
        q = self._drill_qpos
        data.qpos[q : q + 3] = [xy[0], xy[1], 0.0]
        data.qpos[q + 3 : q + 7] = [math.cos(0.5 * yaw), 0.0, 0.0, math.sin(0.5 * yaw)]
        data.qvel[self._drill_dof : self._drill_dof + 6] = 0.0
        data.qpos[self._trigger_qpos] = 0.0
        data.qvel[self._trigger_dof] = 0.0
        data.qpos[self._chuck_qpos] = 0.0
        data.qvel[self._chuck_dof] = 0.0
        data.ctrl[self._motor] = 0.0
        self._initial_conditions = {"drill_x_m": float(xy[0]), "drill_y_m": float(xy[1]),
                                    "drill_yaw_rad": float(yaw)}  # fmt: skip
        self._rest_z = 0.0
        self._latched = dict.fromkeys(STAGES, False)
        self._pulled_since = None

    def before_step(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        # The motor's speed follows the trigger like a variable-speed switch.
        span = dp.PRESSED_FRACTION - TRIGGER_DEAD_FRACTION
        drive = min(max((self.trigger_fraction(data) - TRIGGER_DEAD_FRACTION) / span, 0.0), 1.0)
        data.ctrl[self._motor] = dp.MOTOR_SPEED * drive

    # --- measurements -----------------------------------------------------------------------

    def update(self, model: mujoco.MjModel, data: mujoco.MjData, *, reset: bool = False) -> None:
        c = self.config
        fingers, on_table, robot_on_drill = self._contacts(data)
        # Opposition: the thumb or the palm on one side, two fingers wrapping the other.
        grasped = (fingers[0] or fingers[5]) and sum(fingers[1:5]) >= 2
        height = float(data.xpos[self._drill_body][2]) - self._rest_z
        lifted = grasped and not on_table and height >= c.lift_height
        fraction = self.trigger_fraction(data)
        pulled = lifted and fraction >= c.trigger_fraction
        latched = self._latched
        if not reset:
            latched["grasped"] |= grasped
            latched["lifted"] |= latched["grasped"] and lifted
            if latched["lifted"] and pulled:
                if self._pulled_since is None:
                    self._pulled_since = float(data.time)
                # Half a physics step of slack absorbs the clock's rounding.
                held = data.time - self._pulled_since + 0.5 * model.opt.timestep
                latched["triggered"] |= held >= c.trigger_s
            else:
                self._pulled_since = None
        up = data.xmat[self._drill_body].reshape(3, 3)[:, 2]
        tilt = math.acos(min(max(float(up[2]), -1.0), 1.0))
        palm = data.site_xpos[self._hand.palm_site]
        self._m = {
            "reach": float(np.linalg.norm(palm - data.site_xpos[self._grip_site])),
            "fingers_on_handle": float(sum(fingers[:5])),
            "thumb_on_handle": float(fingers[0]),
            "palm_on_handle": float(fingers[5]),
            "grasped": float(grasped),
            "height": height,
            "lifted": float(lifted),
            "trigger": fraction,
            "pulled": float(pulled),
            "touched": float(robot_on_drill),
            "on_table": float(on_table),
            "tilt": tilt,
            "fell": float(data.xpos[self._drill_body][2] < c.fall_z),
            "tipped": float(tilt > c.tipped_angle and not robot_on_drill),
        }

    def _contacts(self, data: mujoco.MjData) -> tuple[list[bool], bool, bool]:
        """(per finger: touches the handle or trigger; the drill touches the table; any
        robot geom touches the drill)."""
        n = data.ncon
        geom1, geom2 = data.contact.geom1[:n], data.contact.geom2[:n]
        c1, c2 = self._classes[geom1], self._classes[geom2]
        fingers = [False] * len(_FINGER_NAMES)
        on_table = robot_on_drill = False
        for a, b, ga, gb in zip(c1.tolist(), c2.tolist(), geom1.tolist(), geom2.tolist()):
            if b == _DRILL:
                a, b, ga, gb = b, a, gb, ga
            if a != _DRILL:
                continue
            if b == _TABLE:
                on_table = True
            elif b >= _ROBOT:
                robot_on_drill = True
                if b >= _FINGER0 and self._handle[ga]:
                    fingers[b - _FINGER0] = True
        return fingers, on_table, robot_on_drill

    # --- observation, reward, evaluation ----------------------------------------------------

    @property
    def state_size(self) -> int:
        return 9

    def state(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        q = self._drill_qpos
        return np.concatenate([data.qpos[q : q + 7], [self.trigger_fraction(data)],
                               [data.qvel[self._chuck_dof]]])  # fmt: skip

    def trigger_fraction(self, data: mujoco.MjData) -> float:
        """Pressed fraction of the trigger's travel, clipped to [0, 1]."""
        return min(max(float(data.qpos[self._trigger_qpos]) / dp.TRIGGER_TRAVEL, 0.0), 1.0)

    def drill_pose(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """(position m, rotation 3x3) of the drill frame (battery underside), world frame."""
        return data.xpos[self._drill_body].copy(), data.xmat[self._drill_body].reshape(3, 3).copy()

    def set_drill_pose(self, data: mujoco.MjData, pos: np.ndarray, rot: np.ndarray) -> None:
        """Place the drill frame at ``pos`` (m) with rotation ``rot`` (3x3), world frame
        (velocities untouched; call ``mj_forward`` or a kinematics pass after)."""
        q = self._drill_qpos
        data.qpos[q : q + 3] = pos
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, np.ascontiguousarray(rot, dtype=float).ravel())
        data.qpos[q + 3 : q + 7] = quat

    @property
    def handle_geoms(self) -> frozenset[int]:
        """Ids of the geoms a hand holds the drill by: the handle and the trigger."""
        return frozenset(self._handle_geoms)

    def drill_speed(self, data: mujoco.MjData) -> tuple[float, float]:
        """(linear m/s, angular rad/s) speed of the drill body."""
        v = data.qvel[self._drill_dof : self._drill_dof + 6]
        return float(np.linalg.norm(v[:3])), float(np.linalg.norm(v[3:]))

    @property
    def motor_actuator(self) -> int:
        """Id of the chuck's motor (velocity servo) actuator."""
        return self._motor

    def chuck_speed(self, data: mujoco.MjData) -> float:
        """Angular speed of the chuck about the bit axis, rad/s."""
        return float(data.qvel[self._chuck_dof])

    def bit_tip(self, data: mujoco.MjData) -> np.ndarray:
        """(3,) the bit's tip, world frame, m."""
        return data.site_xpos[self._bit_tip_site].copy()

    @property
    def measurements(self) -> dict[str, float]:
        """The latest :meth:`update` measurements (contacts, height, trigger, tilt)."""
        return dict(self._m)

    def reward(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        c, m = self.config, self._m
        grasped, lifted = m["grasped"], m["lifted"]
        return {
            "reach": 0.1 * tolerance(m["reach"], 0.0, 0.03, margin=0.3, sigmoid="long_tail"),
            "grasp": 0.2 * grasped,
            "lift": 0.3 * grasped * min(max(m["height"], 0.0) / c.lift_height, 1.0),
            "trigger": 0.4 * lifted * min(m["trigger"] / c.trigger_fraction, 1.0),
        }

    def evaluate(self, model: mujoco.MjModel, data: mujoco.MjData) -> TaskStatus:
        m = self._m
        stages = dict(self._latched)
        failure = bool(m["fell"] or m["tipped"]) and not stages["triggered"]
        return TaskStatus(stages=stages, success=stages["triggered"], failure=failure)
