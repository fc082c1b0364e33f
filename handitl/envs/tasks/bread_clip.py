"""``HandITL/BreadClip-v0``: pinch a sprung bread clip open and clip it onto a bag's neck.

The right hand pinches the clip's two levers between the thumb and index pads, squeezes
them against the hinge spring until the jaws open, carries the open clip over the bag's
neck (a vertical 1.5 cm capsule standing on the table), lowers it so the neck enters the
mouth, and lets go: the spring closes the jaws on the neck and holds the clip there. The
clip is held only by contact forces (no welds), opens only because the pads squeeze its
levers, and stays on the neck only by its spring (see
:mod:`handitl.assets.props.bread_clip`).

* Action: any :class:`~handitl.envs.actions.ActionMode`; the left arm is not needed.
* Task state (11): clip pose (position m, quaternion w, x, y, z; world frame, 7), jaw
  opening angle (rad, 1), neck position (world frame, m, 3: on the table top).
* Reward terms (each a kernel in [0, 1] times its weight; the reward is their sum):
  ``reach`` (0.1, right thumb/index pads to the levers), ``pinch`` (0.2, both pads on the
  levers, other fingers off the clip), ``open`` (0.2, jaw angle toward ``open_angle``
  while pinched), ``place`` (0.2, clip mouth to the neck axis), ``clip`` (0.3, released
  and clamped on the neck).
* Stages (one sub-task, latched, in order): ``pinched`` (thumb and index touch different
  levers, no other finger touches the clip), ``opened`` (jaw angle >= ``open_angle``
  while pinched), ``placed`` (the neck is between the jaws: both jaws within
  ``placed_tolerance`` of the neck surface on opposite sides, axis inside the mouth),
  ``clipped`` (after ``placed``: no robot contact with the clip, both jaws touch the neck,
  the clip is off the table, for ``clipped_s`` without a break). Success = ``clipped``.
* Failure: the clip fell off the table (below ``fall_z``), or after ``placed`` was reached
  the clip is released (no robot contact) and its mouth is farther than ``far_distance``
  from the neck axis.
* Version history: v0, first release.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from handitl.assets import contact_constants as cc
from handitl.assets.hand_description import Side
from handitl.assets.props import bread_clip as bc
from handitl.assets.scene import SceneDescription, side_prefix
from handitl.envs.rewards import tolerance
from handitl.envs.robot import RobotBindings
from handitl.envs.tasks.base import Task, TaskStatus

STAGES = ("pinched", "opened", "placed", "clipped")

# Contact classes of geoms (one lookup per contact).
_OTHER, _LEVER_A, _LEVER_B, _JAW_A, _JAW_B, _CLIP, _NECK, _THUMB, _INDEX, _FINGER, _ROBOT, _TABLE = range(12)


@dataclasses.dataclass(frozen=True)
class BreadClipConfig:
    """Initial-state sampling and scoring (world frame, m, rad, s)."""

    clip_xy_low: tuple[float, float] = (0.46, -0.35)
    """Lower corner of the clip's hinge position on the table. The palm-down pad pinch
    puts the palm ~13 cm above and ~8 cm behind the pinch point; closer to the robot than
    x ~ 0.45 the right arm's wrist (joint 6) reaches its limit."""
    clip_xy_high: tuple[float, float] = (0.58, -0.15)
    clip_yaw: float = math.pi / 2
    """Nominal yaw of the clip's jaw axis (pi/2: jaws toward +y, the table's centre line),
    so the right hand pinches the levers palm down with its thumb toward the robot."""
    clip_yaw_range: float = 0.3
    """The yaw is sampled uniformly in nominal +- this."""
    neck_xy_low: tuple[float, float] = (0.46, -0.35)
    """Lower corner of the neck's position on the table (same reach limit as the clip)."""
    neck_xy_high: tuple[float, float] = (0.58, -0.15)
    min_separation: float = 0.10
    """Smallest horizontal distance between the clip's hinge and the neck, m (the clip
    never starts on or under the neck)."""
    open_angle: float = 0.4
    """Jaw angle counted as open, rad (gap at the mouth then exceeds the neck diameter)."""
    placed_tolerance: float = 0.006
    """Largest distance from each jaw to the neck surface for ``placed``, m."""
    clipped_s: float = 0.5
    """Time the released clip must stay clamped on the neck, s."""
    fall_z: float = -0.05
    """Clip height below which it fell off the table, m."""
    far_distance: float = 0.05
    """Mouth-to-neck-axis distance of a released clip that counts as failure, m."""
    side: Side = Side.RIGHT
    """The hand that does the task."""


class BreadClip(Task):
    name = "BreadClip"

    def __init__(self, config: BreadClipConfig | None = None) -> None:
        self.config = config or BreadClipConfig()
        self._latched = dict.fromkeys(STAGES, False)
        self._clamped_since: float | None = None
        self._m: dict[str, float] = {}

    # --- model ------------------------------------------------------------------------------

    def build(self, spec: mujoco.MjSpec, scene: SceneDescription) -> None:
        bc.add_bread_clip(spec)
        bc.add_bag_neck(spec)
        # A close-up of the task area from the far side of the table, looking down.
        eye, target = np.array([0.85, -0.05, 0.30]), np.array([0.50, -0.25, 0.03])
        forward = (target - eye) / np.linalg.norm(target - eye)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        spec.worldbody.add_camera(name="clip_closeup", pos=list(eye), fovy=50.0,
                                  xyaxes=[*right, *up])  # fmt: skip

    def bind(self, model: mujoco.MjModel, robot: RobotBindings) -> None:
        hand = robot.hands[self.config.side]
        self._hand = hand
        prefix = side_prefix(self.config.side)
        joint = model.joint(bc.CLIP_JOINT)
        self._clip_qpos = int(joint.qposadr[0])
        self._clip_dof = int(joint.dofadr[0])
        self._hinge_qpos = int(model.joint(bc.CLIP_HINGE).qposadr[0])
        self._clip_body = model.body(bc.CLIP_BODY).id
        self._arm_a_body = model.body(bc.CLIP_ARM_A_BODY).id
        self._neck_mocap = int(model.body(bc.NECK_BODY).mocapid[0])
        self._neck_body = model.body(bc.NECK_BODY).id
        self._jaw_geoms = [model.geom(n).id for n in bc.CLIP_JAW_GEOMS]
        self._lever_geoms = [model.geom(n).id for n in bc.CLIP_LEVER_GEOMS]
        self._tip_sites = hand.fingertip_sites[:2]  # thumb, index
        classes = np.full(model.ngeom, _OTHER, dtype=np.intp)
        robot_bit = (model.geom_contype & cc.CONTYPE_ROBOT) != 0
        classes[robot_bit] = _ROBOT
        for g in range(model.ngeom):
            name = model.geom(g).name
            body = model.geom_bodyid[g]
            if body in (self._clip_body, self._arm_a_body):
                classes[g] = _CLIP
            elif name.startswith(prefix) and robot_bit[g]:
                finger = name[len(prefix) :].split("_")[0]
                if finger == "thumb" and name.endswith(("_pad", "_distal")):
                    classes[g] = _THUMB
                elif finger == "index" and name.endswith(("_pad", "_distal")):
                    classes[g] = _INDEX
                elif finger in ("middle", "ring", "little"):
                    classes[g] = _FINGER
            elif name in ("table", "floor"):
                classes[g] = _TABLE
        classes[self._lever_geoms] = [_LEVER_A, _LEVER_B]
        classes[self._jaw_geoms] = [_JAW_A, _JAW_B]
        classes[model.geom(bc.NECK_GEOM).id] = _NECK
        self._classes = classes

    # --- episode ----------------------------------------------------------------------------

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        c = self.config
        clip_xy = rng.uniform(c.clip_xy_low, c.clip_xy_high)
        yaw = c.clip_yaw + rng.uniform(-c.clip_yaw_range, c.clip_yaw_range)
        for _ in range(100):  # rejection sampling; 100 tries never all fail in this box
            neck_xy = rng.uniform(c.neck_xy_low, c.neck_xy_high)
            if np.linalg.norm(neck_xy - clip_xy) >= c.min_separation:
                break
        q = self._clip_qpos
        data.qpos[q : q + 3] = [clip_xy[0], clip_xy[1], bc.CLIP_REST_Z]
        data.qpos[q + 3 : q + 7] = [math.cos(0.5 * yaw), 0.0, 0.0, math.sin(0.5 * yaw)]
        data.qvel[self._clip_dof : self._clip_dof + 6] = 0.0
        data.qpos[self._hinge_qpos] = 0.0
        data.mocap_pos[self._neck_mocap] = [neck_xy[0], neck_xy[1], 0.0]
        data.mocap_quat[self._neck_mocap] = [1.0, 0.0, 0.0, 0.0]
        self._initial_conditions = {"clip_x_m": float(clip_xy[0]), "clip_y_m": float(clip_xy[1]),
                                    "clip_yaw_rad": float(yaw), "neck_x_m": float(neck_xy[0]),
                                    "neck_y_m": float(neck_xy[1])}  # fmt: skip
        self._latched = dict.fromkeys(STAGES, False)
        self._clamped_since = None

    # --- measurements -----------------------------------------------------------------------

    def update(self, model: mujoco.MjModel, data: mujoco.MjData, *, reset: bool = False) -> None:
        c = self.config
        touching = self._contacts(data)
        angle = float(data.qpos[self._hinge_qpos])
        mouth = self.mouth_position(data)
        neck = data.mocap_pos[self._neck_mocap]
        mouth_to_axis = float(np.linalg.norm(mouth[:2] - neck[:2]))
        in_mouth = self._neck_in_mouth(data)
        pinched = ((touching["thumb_a"] and touching["index_b"])
                   or (touching["thumb_b"] and touching["index_a"])) and not touching["finger"]  # fmt: skip
        released = not touching["robot"]
        clamped = (released and touching["jaw_a_neck"] and touching["jaw_b_neck"]
                   and not touching["table"])  # fmt: skip
        latched = self._latched
        if not reset:
            latched["pinched"] |= pinched
            latched["opened"] |= latched["pinched"] and pinched and angle >= c.open_angle
            latched["placed"] |= latched["opened"] and in_mouth
            if latched["placed"] and clamped:
                if self._clamped_since is None:
                    self._clamped_since = float(data.time)
                # Half a physics step of slack absorbs the clock's rounding.
                held = data.time - self._clamped_since + 0.5 * model.opt.timestep
                latched["clipped"] |= held >= c.clipped_s
            else:
                self._clamped_since = None
        clip_z = float(data.xpos[self._clip_body][2])
        tips = data.site_xpos[self._tip_sites]
        lever_a = data.geom_xpos[self._lever_geoms[0]]
        lever_b = data.geom_xpos[self._lever_geoms[1]]
        # Mean distance of the thumb and index pads to their nearest lever centre, m.
        reach = 0.5 * sum(min(np.linalg.norm(t - lever_a), np.linalg.norm(t - lever_b)) for t in tips)
        self._m = {
            "angle": angle,
            "mouth_to_axis": mouth_to_axis,
            "reach": float(reach),
            "pinched": float(pinched),
            "clamped": float(clamped),
            "released": float(released),
            "fell": float(clip_z < c.fall_z),
            "lost": float(latched["placed"] and released and mouth_to_axis > c.far_distance),
        }

    def _contacts(self, data: mujoco.MjData) -> dict[str, bool]:
        n = data.ncon
        g1 = self._classes[data.contact.geom1[:n]]
        g2 = self._classes[data.contact.geom2[:n]]
        pairs = set(zip(g1.tolist(), g2.tolist()))
        pairs |= {(b, a) for a, b in pairs}
        clip = (_LEVER_A, _LEVER_B, _JAW_A, _JAW_B, _CLIP)
        robot = (_THUMB, _INDEX, _FINGER, _ROBOT)
        return {
            "thumb_a": (_THUMB, _LEVER_A) in pairs,
            "thumb_b": (_THUMB, _LEVER_B) in pairs,
            "index_a": (_INDEX, _LEVER_A) in pairs,
            "index_b": (_INDEX, _LEVER_B) in pairs,
            "finger": any((_FINGER, k) in pairs for k in clip),
            "robot": any((r, k) in pairs for r in robot for k in clip),
            "jaw_a_neck": (_JAW_A, _NECK) in pairs,
            "jaw_b_neck": (_JAW_B, _NECK) in pairs,
            "table": any((_TABLE, k) in pairs for k in clip),
        }

    def _neck_in_mouth(self, data: mujoco.MjData) -> bool:
        """The neck's axis lies between the jaws' inner faces, inside the jaws' length and
        height, and both jaws are within ``placed_tolerance`` of the neck's surface."""
        tol = self.config.placed_tolerance
        # The neck's axis point at the clip's height (the clip may tilt in the hand).
        neck = data.mocap_pos[self._neck_mocap].copy()
        neck[2] = data.xpos[self._clip_body][2]
        half_t = bc.CLIP_PLATE_HALF_THICKNESS
        signed = []
        for g, sign in zip(self._jaw_geoms, (1.0, -1.0)):
            rot = data.geom_xmat[g].reshape(3, 3)
            local = rot.T @ (neck - data.geom_xpos[g])
            local[2] = 0.0  # the neck is vertical: compare in the jaw's plane
            if abs(local[0]) > 0.5 * bc.CLIP_JAW_LENGTH:
                return False
            # Inner face at local y = -sign * half_t; the neck must be on the inner side.
            depth = -sign * local[1] - half_t
            signed.append(depth)
        top = bc.NECK_HEIGHT
        clip_bottom = float(data.xpos[self._clip_body][2]) - 0.5 * bc.CLIP_HEIGHT
        if clip_bottom > top - 0.005:
            return False
        return all(bc.NECK_RADIUS - 0.002 <= d <= bc.NECK_RADIUS + tol for d in signed)

    # --- observation, reward, evaluation ----------------------------------------------------

    @property
    def state_size(self) -> int:
        return 11

    def state(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        q = self._clip_qpos
        return np.concatenate([data.qpos[q:q + 7], [data.qpos[self._hinge_qpos]],
                               data.mocap_pos[self._neck_mocap]])  # fmt: skip

    def clip_pose(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """(position m, rotation 3x3) of the clip frame (hinge, arm ``b``), world frame."""
        return data.xpos[self._clip_body].copy(), data.xmat[self._clip_body].reshape(3, 3).copy()

    def neck_position(self, data: mujoco.MjData) -> np.ndarray:
        """(3,) neck base (on the table), world frame, m."""
        return data.mocap_pos[self._neck_mocap].copy()

    def jaw_angle(self, data: mujoco.MjData) -> float:
        return float(data.qpos[self._hinge_qpos])

    def mouth_position(self, data: mujoco.MjData) -> np.ndarray:
        """(3,) the clamping point in the mouth, world frame, m: midway between the jaws'
        inner faces ``CLIP_MOUTH_X`` in front of the hinge (it follows the opening)."""
        inner = np.array([bc.CLIP_MOUTH_X, 0.5 * bc.CLIP_CLOSED_GAP, 0.0])
        on_b = data.xpos[self._clip_body] + data.xmat[self._clip_body].reshape(3, 3) @ (inner * [1, -1, 1])
        on_a = data.xpos[self._arm_a_body] + data.xmat[self._arm_a_body].reshape(3, 3) @ inner
        return 0.5 * (on_a + on_b)

    @property
    def measurements(self) -> dict[str, float]:
        """The latest :meth:`update` measurements (angle, distances, contact flags)."""
        return dict(self._m)

    def reward(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        c, m = self.config, self._m
        pinched = m["pinched"]
        return {
            "reach": 0.1 * tolerance(m["reach"], 0.0, 0.015, margin=0.2, sigmoid="long_tail"),
            "pinch": 0.2 * pinched,
            "open": 0.2 * pinched * min(max(m["angle"], 0.0) / c.open_angle, 1.0),
            "place": 0.2
            * tolerance(m["mouth_to_axis"], 0.0, 0.005, margin=0.15, sigmoid="long_tail"),  # fmt: skip
            "clip": 0.3 * float(self._latched["placed"]) * m["clamped"],
        }

    def evaluate(self, model: mujoco.MjModel, data: mujoco.MjData) -> TaskStatus:
        m = self._m
        stages = dict(self._latched)
        failure = bool(m["fell"] or m["lost"]) and not stages["clipped"]
        return TaskStatus(stages=stages, success=stages["clipped"], failure=failure)
