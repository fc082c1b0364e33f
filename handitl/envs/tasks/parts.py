"""``HandITL/PickAndPlaceParts-v0``: sort four small parts into their matching bins.

A hex coupling nut, a hex bolt (standing on its head), a compression spring and a spur
gear (:mod:`handitl.assets.props.parts`) stand on the table, two on each side of the
centre line; four open bins of low walls, one per kind and in its part's colour, stand
in a 2 x 2 grid on the centre line between them. Each part must be picked up and put in
its own bin. Parts are held only by contact forces (no welds): a pinch between the
thumb and a finger, the usual grasp for parts this size. Either hand may take any part;
a part on the left of the centre line is in easy reach of the left arm, one on the
right of the right arm, and every bin of both.

* Action: any :class:`~handitl.envs.actions.ActionMode`; both arms may be used.
* Task state (28): the pose of each part in :data:`~handitl.assets.props.parts.KINDS`
  order (nut, bolt, spring, gear): base-centre position (m) and quaternion (w, x, y, z),
  world frame, 7 each. The bins are fixed (``BIN_CENTRES``).
* Reward terms (each a kernel in [0, 1] times its weight; the reward is their sum):
  ``reach`` (0.1, the nearer hand's thumb-index pad midpoint to the nearest unsorted
  part's grip point), ``grasp`` (0.2, an unsorted part is grasped), ``place`` (0.2, a
  grasped part's horizontal distance to its bin's centre), ``sorted`` (0.5, the fraction
  of parts sorted). Once every part is sorted each term is at its weight (reward 1).
* Stages (one sub-task per part, in ``KINDS`` order, each with two latched stages in
  order): ``<kind>_grasped`` (the thumb and at least one finger of one hand touch the
  part, it touches neither the table nor a bin, and its base is >= ``lift_height`` above
  the table), ``<kind>_sorted`` (after ``<kind>_grasped``: the part's centre of mass is
  inside its own bin - within the inner walls, below their top - it touches that bin and
  no robot geom). Score: one point per part, half per stage; normalised score = score /
  4. Success = every part sorted.
* Failure (before success): a part fell off the table (its base below ``fall_z``), or a
  part lies in another kind's bin (centre of mass within that bin's walls and below
  their top, no robot contact): a mis-sorted part counts as a sorting error, like on a
  real line, even though a hand could still fish it out.
* The parts have no actuators, so the task does nothing in ``before_step``.
* Version history: v0, first release.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from handitl.assets import contact_constants as cc
from handitl.assets.hand_description import SIDES
from handitl.assets.props import parts as pp
from handitl.assets.scene import SceneDescription, side_prefix
from handitl.envs.rewards import tolerance
from handitl.envs.robot import RobotBindings
from handitl.envs.tasks.base import Task, TaskStatus

KINDS = pp.KINDS
STAGES = tuple(f"{kind}_{stage}" for kind in KINDS for stage in ("grasped", "sorted"))
SUBTASKS = tuple((f"{kind}_grasped", f"{kind}_sorted") for kind in KINDS)
WEIGHTS = {"reach": 0.1, "grasp": 0.2, "place": 0.2, "sorted": 0.5}
"""Reward term weights (their sum is 1)."""

_DIGITS = ("thumb", "index", "middle", "ring", "little", "palm")


@dataclasses.dataclass(frozen=True)
class PickAndPlacePartsConfig:
    """Initial-state sampling and scoring (world frame, m, rad, s)."""

    right_xy_low: tuple[float, float] = (0.48, -0.36)
    """Lower corner of the right-side parts' base centres. The right arm pinches palm down
    (palm ~12 cm above and ~7 cm behind the pads): nearer than x = 0.48 its joint 6
    reaches its limit for some pinch directions (measured: palm errors up to 18 mm at
    x = 0.44); y <= -0.19 keeps the fingers 5 cm off the bins' outer walls (y = -0.11)."""
    right_xy_high: tuple[float, float] = (0.60, -0.19)
    """Upper corner; the left side's box is the mirror image (y negated)."""
    min_separation: float = 0.075
    """Smallest distance between two parts' base centres, m: an open pinch around one
    part keeps its fingers off the other."""
    lift_height: float = 0.02
    """Height of a part's base above the table that counts as lifted (grasped), m."""
    fall_z: float = -0.05
    """Height of a part's base below which it fell off the table, m."""
    place_margin: float = 0.3
    """Distance at which the ``place`` kernel has dropped to 0.1, m."""


class PickAndPlaceParts(Task):
    name = "PickAndPlaceParts"

    def __init__(self, config: PickAndPlacePartsConfig | None = None) -> None:
        self.config = config or PickAndPlacePartsConfig()
        self._latched = dict.fromkeys(STAGES, False)
        self._m: dict[str, float] = {}
        self._sides: dict[str, int] = {}

    # --- model ------------------------------------------------------------------------------

    def build(self, spec: mujoco.MjSpec, scene: SceneDescription) -> None:
        pp.add_parts_and_bins(spec)
        # A view of the bins and both sides' parts from the far side of the table.
        eye, target = np.array([0.98, 0.0, 0.42]), np.array([0.52, 0.0, 0.02])
        forward = (target - eye) / np.linalg.norm(target - eye)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        spec.worldbody.add_camera(name="parts_closeup", pos=list(eye), fovy=60.0,
                                  xyaxes=[*right, *up])  # fmt: skip

    def bind(self, model: mujoco.MjModel, robot: RobotBindings) -> None:
        self._qpos, self._dof, self._body, self._grip = [], [], [], []
        self._bin_body, self._bin_centre = [], []
        # Per geom: the part (0..3) or bin (0..3) it belongs to, else -1; the digit code
        # side * 6 + digit of a hand geom, else -1; robot and table flags.
        part_of = np.full(model.ngeom, -1, dtype=np.intp)
        bin_of = np.full(model.ngeom, -1, dtype=np.intp)
        for k, kind in enumerate(KINDS):
            names = pp.NAMES[kind]
            joint = model.joint(names.freejoint)
            self._qpos.append(int(joint.qposadr[0]))
            self._dof.append(int(joint.dofadr[0]))
            body = model.body(names.body).id
            self._body.append(body)
            self._grip.append(model.site(names.grip_site).id)
            bin_body = model.body(names.bin_body).id
            self._bin_body.append(bin_body)
            part_of[model.geom_bodyid == body] = k
            bin_of[model.geom_bodyid == bin_body] = k
        self._part_of, self._bin_of = part_of, bin_of
        self._robot = (model.geom_contype & cc.CONTYPE_ROBOT) != 0
        digit = np.full(model.ngeom, -1, dtype=np.intp)
        for s, side in enumerate(SIDES):
            prefix = side_prefix(side)
            for g in range(model.ngeom):
                name = model.geom(g).name
                if self._robot[g] and name.startswith(prefix):
                    head = name[len(prefix) :].split("_")[0]
                    if head in _DIGITS:
                        digit[g] = s * len(_DIGITS) + _DIGITS.index(head)
        self._digit = digit
        self._table = np.zeros(model.ngeom, dtype=bool)
        self._table[[model.geom("table").id, model.geom("floor").id]] = True
        self._tip_sites = [robot.hands[s].fingertip_sites[:2] for s in SIDES]  # thumb, index
        self._bin_xy = np.array([pp.BIN_CENTRES[kind] for kind in KINDS])

    # --- episode ----------------------------------------------------------------------------

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        c = self.config
        order = rng.permutation(len(KINDS))  # slots 0, 1 right; 2, 3 left
        low, high = np.array(c.right_xy_low), np.array(c.right_xy_high)
        mirror = np.array([1.0, -1.0])
        placed: list[np.ndarray] = []
        initial: dict[str, float] = {}
        for slot, k in enumerate(order.tolist()):
            left = slot >= 2
            for _ in range(200):  # rejection sampling; 200 tries never all fail in this box
                xy = rng.uniform(low, high)
                if left:
                    xy = xy * mirror
                if all(np.linalg.norm(xy - p) >= c.min_separation for p in placed):
                    break
            placed.append(xy)
            yaw = rng.uniform(-math.pi, math.pi)
            initial |= {f"{KINDS[k]}_x_m": float(xy[0]), f"{KINDS[k]}_y_m": float(xy[1]),
                        f"{KINDS[k]}_yaw_rad": float(yaw)}  # fmt: skip
            q = self._qpos[k]
            data.qpos[q : q + 3] = [xy[0], xy[1], 0.0]
            data.qpos[q + 3 : q + 7] = [math.cos(0.5 * yaw), 0.0, 0.0, math.sin(0.5 * yaw)]
            data.qvel[self._dof[k] : self._dof[k] + 6] = 0.0
        self._initial_conditions = initial
        self._latched = dict.fromkeys(STAGES, False)

    # --- measurements -----------------------------------------------------------------------

    def update(self, model: mujoco.MjModel, data: mujoco.MjData, *, reset: bool = False) -> None:
        c = self.config
        touch = self._contacts(data)
        m: dict[str, float] = {}
        latched = self._latched
        held_any, reach, place = False, math.inf, 0.0
        pads = [data.site_xpos[tips].mean(axis=0) for tips in self._tip_sites]
        wall_top = pp.BIN_WALL_HEIGHT
        for k, kind in enumerate(KINDS):
            body = self._body[k]
            base_z = float(data.xpos[body][2])
            com = data.xipos[body]
            inside = np.all(np.abs(com[:2] - self._bin_xy) <= pp.BIN_INNER_HALF, axis=1)
            inside &= com[2] < wall_top
            t = touch[k]
            robot = t["robot"]
            # Opposition by one hand: its thumb and at least one finger (not the palm).
            holders = [s for s in range(len(SIDES)) if t["digits"][s][0] and any(t["digits"][s][1:5])]
            grasped = bool(holders) and not t["table"] and not t["bins"] and base_z >= c.lift_height
            own = bool(inside[k]) and k in t["bins"] and not robot
            wrong = any(inside[b] for b in range(len(KINDS)) if b != k) and not robot
            if not reset:
                latched[f"{kind}_grasped"] |= grasped
                latched[f"{kind}_sorted"] |= latched[f"{kind}_grasped"] and own
            sorted_k = latched[f"{kind}_sorted"]
            if not sorted_k:
                grip = data.site_xpos[self._grip[k]]
                reach = min(reach, *(float(np.linalg.norm(p - grip)) for p in pads))
                if grasped:
                    held_any = True
                    to_bin = float(np.linalg.norm(com[:2] - self._bin_xy[k]))
                    place = max(place, tolerance(to_bin, 0.0, 0.01, margin=c.place_margin,
                                                 sigmoid="long_tail"))  # fmt: skip
            m[f"{kind}_height"] = base_z
            m[f"{kind}_pinched"] = float(bool(holders))
            m[f"{kind}_grasped"] = float(grasped)
            m[f"{kind}_held_by"] = float(holders[0] if holders else -1)
            m[f"{kind}_touched"] = float(robot)
            m[f"{kind}_in_own_bin"] = float(own)
            m[f"{kind}_in_wrong_bin"] = float(wrong)
            m[f"{kind}_fell"] = float(base_z < c.fall_z)
        m["reach"] = reach
        m["grasp"] = float(held_any)
        m["place"] = place
        m["sorted_fraction"] = sum(latched[f"{k}_sorted"] for k in KINDS) / len(KINDS)
        self._m = m

    def _contacts(self, data: mujoco.MjData) -> list[dict]:
        """Per part: which digits of each hand touch it (``digits[side][digit]``), whether
        any robot geom, the table, or which bins (a set of bin indices) touch it."""
        out = [{"digits": [[False] * len(_DIGITS) for _ in SIDES], "robot": False,
                "table": False, "bins": set()} for _ in KINDS]  # fmt: skip
        n = data.ncon
        g1, g2 = data.contact.geom1[:n], data.contact.geom2[:n]
        p1, p2 = self._part_of[g1], self._part_of[g2]
        for i in np.flatnonzero((p1 >= 0) | (p2 >= 0)).tolist():
            for part, other in ((p1[i], g2[i]), (p2[i], g1[i])):
                if part < 0:
                    continue
                t = out[part]
                if self._robot[other]:
                    t["robot"] = True
                    code = self._digit[other]
                    if code >= 0:
                        t["digits"][code // len(_DIGITS)][code % len(_DIGITS)] = True
                elif self._table[other]:
                    t["table"] = True
                elif self._bin_of[other] >= 0:
                    t["bins"].add(int(self._bin_of[other]))
        return out

    # --- observation, reward, evaluation ----------------------------------------------------

    @property
    def state_size(self) -> int:
        return 7 * len(KINDS)

    def state(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        return np.concatenate([data.qpos[q : q + 7] for q in self._qpos])

    def part_pose(self, data: mujoco.MjData, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """(position m, rotation 3x3) of a part's frame (base centre), world frame."""
        body = self._body[KINDS.index(kind)]
        return data.xpos[body].copy(), data.xmat[body].reshape(3, 3).copy()

    def part_com(self, data: mujoco.MjData, kind: str) -> np.ndarray:
        """(3,) a part's centre of mass, world frame, m."""
        return data.xipos[self._body[KINDS.index(kind)]].copy()

    def set_part_pose(self, data: mujoco.MjData, kind: str, pos: np.ndarray,
                      quat: np.ndarray) -> None:  # fmt: skip
        """Place a part's frame at ``pos`` (m) with orientation ``quat`` (w, x, y, z), world
        frame, at rest (call ``mj_forward`` after)."""
        k = KINDS.index(kind)
        q = self._qpos[k]
        data.qpos[q : q + 3] = pos
        data.qpos[q + 3 : q + 7] = quat
        data.qvel[self._dof[k] : self._dof[k] + 6] = 0.0

    @staticmethod
    def bin_centre(kind: str) -> np.ndarray:
        """(3,) centre of a bin's floor top, world frame, m."""
        x, y = pp.BIN_CENTRES[kind]
        return np.array([x, y, 2 * pp.BIN_FLOOR_HALF_THICKNESS])

    @property
    def part_geoms(self) -> dict[str, frozenset[int]]:
        """Ids of each part's collision geoms, by kind."""
        return {kind: frozenset(np.flatnonzero(self._part_of == k).tolist())
                for k, kind in enumerate(KINDS)}  # fmt: skip

    @property
    def measurements(self) -> dict[str, float]:
        """The latest :meth:`update` measurements (per part: ``<kind>_height``, ``_pinched``
        (a thumb and a finger of one hand touch it), ``_grasped``,
        ``_held_by`` (side index in ``SIDES``, -1 none), ``_touched``, ``_in_own_bin``,
        ``_in_wrong_bin``, ``_fell``; and ``reach``, ``grasp``, ``place``,
        ``sorted_fraction``)."""
        return dict(self._m)

    def reward(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        m, w = self._m, WEIGHTS
        if m["sorted_fraction"] >= 1.0:
            return dict(w)
        return {
            "reach": w["reach"] * tolerance(m["reach"], 0.0, 0.01, margin=0.2, sigmoid="long_tail"),
            "grasp": w["grasp"] * m["grasp"],
            "place": w["place"] * m["place"],
            "sorted": w["sorted"] * m["sorted_fraction"],
        }

    def evaluate(self, model: mujoco.MjModel, data: mujoco.MjData) -> TaskStatus:
        m = self._m
        stages = dict(self._latched)
        success = all(stages[f"{kind}_sorted"] for kind in KINDS)
        failure = not success and any(m[f"{k}_fell"] or m[f"{k}_in_wrong_bin"] for k in KINDS)
        return TaskStatus(stages=stages, success=success, failure=failure, subtasks=SUBTASKS)
