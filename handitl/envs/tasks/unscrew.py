"""``HandITL/UnscrewByHand-v0``: steady an assembly, unscrew its two knobs, tray them.

A base block fixed to the table (:mod:`handitl.assets.props.assembly`) carries two
knurled thumb knobs (kind ``knob``: 32 mm across, 22 mm tall, round, so a pinch across
the diameter grips them at any yaw) on studs, ``nut_a`` (outer, -y) and ``nut_b``; each
sits 0.5 to 0.75 turn from the top of a quick-action thread (two-start, 5 mm of rise
per turn, 3.75 mm of travel). The left hand steadies the
block by its free +y end; the right hand turns each knob counter-clockwise (seen from
above) until it comes off the thread, lifts it off its stud and puts it in the tray to
the right of the block. A hand turns a knob by ratcheting (pinch, turn the wrist, let go,
turn back), as a person does with a stiff knob. Knobs are turned and held only by contact
(the thread is a coupled hinge + slide; a knob's weld to its thread is released by the
prop at the top of the thread, never by a hand).

Steadying: the block is fixed (a real fixture would be clamped, and a loose block would
make the benchmark test pushing, not unscrewing), so steadying is scored instead: a knob's
turning counts toward ``<nut>_loosened`` only while a left-hand geom touches the block.

* Action: any :class:`~handitl.envs.actions.ActionMode`; both arms are used.
* Task state (27): the assembly's pose (block-underside centre, position m and
  quaternion w, x, y, z, world frame, 7); per knob, in order ``nut_a``, ``nut_b``: its
  pose (underside centre on its axis, 7), thread angle (rad, + unscrewing), thread rise
  (m), engaged (1 while on its thread, else 0).
* Reward terms (each a kernel in [0, 1] times its weight; the reward is their sum):
  ``reach`` (0.1, the right thumb-index pad midpoint to the current knob's grip point, on
  its axis at the pinch height), ``steady`` (0.1, a left-hand geom touches the block),
  ``turn`` (0.2, the current knob's
  rise over the thread's travel, 1 once released), ``place`` (0.1, a removed knob's
  horizontal distance to the tray's centre while held), ``progress`` (0.5, the
  normalised score). The current knob is the first not yet in the tray. Once both are in
  the tray each term is at its weight (reward 1).
* Stages (one sub-task per knob, latched, in order): ``<nut>_loosened`` (turned by at
  least ``loosen_turns`` while the left hand touched the block), ``<nut>_removed`` (after
  loosened: off its thread, pinched by the right thumb and a finger, its underside at least
  ``lift_clearance`` above the stud's top and touching neither block nor table),
  ``<nut>_in_tray`` (after removed: its centre of mass inside the tray's walls and below
  their top, touching the tray and no robot geom). Score: one point per knob, a third per
  stage; normalised score = score / 2. Success = both knobs in the tray.
* Failure (before success): a knob fell off the table (underside below ``fall_z``).
* ``before_step`` releases a knob from its thread once it reaches the top
  (:meth:`~handitl.assets.props.assembly.ThreadBinding.release_if_unscrewed`).
* Version history: v0, first release (knobs; a draft with wing nuts was never released:
  the palm-down pad pinch of a wing is reachable only over ~1.7 rad of pinch-axis yaw,
  less than a wing nut's half-turn symmetry, so some seeds offered no reachable grip).
  Before release the knob draft was changed so that a scripted expert unscrews both
  knobs within an episode: a wrist stroke turns a knob ~0.22 turn in ~6.6 s (the FR3's
  joints move ~0.5 rad/s under the ``ee_pose`` mode's differential IK), and a knob 1 to
  1.5 turns from the top of a 2.5 mm single-start thread took 5 to 7 strokes, so only
  one knob fitted in 50 s. Now the thread is a two-start quick-action thread (5 mm per
  turn, same 3.75 mm travel; :data:`~handitl.assets.props.assembly.THREAD_PITCH`), each
  knob is seated 0.5 to 0.75 turn from the top (3 to 4 strokes), ``loosen_turns`` is
  0.4 (it must stay below the 0.46 turn a knob 0.5 turn from the top turns before its
  release) and the episode is 5000 steps (100 s, was 2500: two knobs of 3 to 4 strokes
  each, lifted off and trayed, take 45 to 75 s).
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from handitl.assets import contact_constants as cc
from handitl.assets.hand_description import SIDES, Side
from handitl.assets.props import assembly as ap
from handitl.assets.scene import SceneDescription, side_prefix
from handitl.envs.rewards import tolerance
from handitl.envs.robot import RobotBindings
from handitl.envs.tasks.base import Task, TaskStatus

NUTS = ("nut_a", "nut_b")
STAGES = tuple(f"{nut}_{stage}" for nut in NUTS for stage in ("loosened", "removed", "in_tray"))
SUBTASKS = tuple((f"{nut}_loosened", f"{nut}_removed", f"{nut}_in_tray") for nut in NUTS)
WEIGHTS = {"reach": 0.1, "steady": 0.1, "turn": 0.2, "place": 0.1, "progress": 0.5}
"""Reward term weights (their sum is 1)."""

_DIGITS = ("thumb", "index", "middle", "ring", "little", "palm")


@dataclasses.dataclass(frozen=True)
class UnscrewByHandConfig:
    """Initial-state sampling and scoring (world frame, m, rad)."""

    base_xy_low: tuple[float, float] = (0.52, -0.03)
    """Lower corner of the block's centre on the table."""
    base_xy_high: tuple[float, float] = (0.58, 0.01)
    base_yaw_range: float = 0.15
    """The block's yaw (0: long axis along y) is uniform in +- this."""
    loosen_turns: float = 0.4
    """Steadied turns that count as loosened (was 0.5: a knob seated 0.5 turn from the
    top is released after 0.46 turn, ``RELEASE_MARGIN`` before the top, so 0.5 could
    not be reached)."""
    lift_clearance: float = 0.005
    """Height of a removed nut's underside above its stud's top, m."""
    fall_z: float = -0.05
    """Height of a nut's underside below which it fell off the table, m."""
    place_margin: float = 0.3
    """Distance at which the ``place`` kernel has dropped to 0.1, m."""
    side: Side = Side.RIGHT
    """The hand that unscrews; the other steadies."""


class UnscrewByHand(Task):
    name = "UnscrewByHand"

    def __init__(self, config: UnscrewByHandConfig | None = None) -> None:
        self.config = config or UnscrewByHandConfig()
        self._latched = dict.fromkeys(STAGES, False)
        self._steady_turn = dict.fromkeys(NUTS, 0.0)
        self._last_turn = dict.fromkeys(NUTS, 0.0)
        self._m: dict[str, float] = {}

    # --- model ------------------------------------------------------------------------------

    def build(self, spec: mujoco.MjSpec, scene: SceneDescription) -> None:
        ap.add_assembly(spec, ap.KNOB, NUTS)
        ap.add_tray(spec)
        # A close-up of the block, knobs and tray from the far side of the table.
        eye, target = np.array([0.95, -0.12, 0.38]), np.array([0.54, -0.12, 0.03])
        forward = (target - eye) / np.linalg.norm(target - eye)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        spec.worldbody.add_camera(name="unscrew_closeup", pos=list(eye), fovy=55.0,
                                  xyaxes=[*right, *up])  # fmt: skip

    def bind(self, model: mujoco.MjModel, robot: RobotBindings) -> None:
        self._threads = [ap.ThreadBinding.bind(model, ap.FastenerNames(n)) for n in NUTS]
        base = model.body(ap.ASSEMBLY_BODY)
        self._base_body = base.id
        self._base_mocap = int(base.mocapid[0])
        self._base_geom = model.geom(ap.BASE_GEOM).id
        tray = model.body(ap.TRAY_BODY).id
        nut_of = np.full(model.ngeom, -1, dtype=np.intp)
        for k, t in enumerate(self._threads):
            nut_of[model.geom_bodyid == t.body] = k
        self._nut_of = nut_of
        self._tray = model.geom_bodyid == tray
        self._robot = (model.geom_contype & cc.CONTYPE_ROBOT) != 0
        # Digit code side * 6 + digit of a hand geom, else -1.
        digit = np.full(model.ngeom, -1, dtype=np.intp)
        side_of = np.full(model.ngeom, -1, dtype=np.intp)
        for s, side in enumerate(SIDES):
            prefix = side_prefix(side)
            for g in range(model.ngeom):
                name = model.geom(g).name
                if self._robot[g] and name.startswith(prefix):
                    side_of[g] = s
                    head = name[len(prefix) :].split("_")[0]
                    if head in _DIGITS:
                        digit[g] = s * len(_DIGITS) + _DIGITS.index(head)
        self._digit, self._side_of = digit, side_of
        self._table = np.zeros(model.ngeom, dtype=bool)
        self._table[[model.geom("table").id, model.geom("floor").id]] = True
        self._work = SIDES.index(self.config.side)
        self._steady = 1 - self._work
        self._tip_sites = robot.hands[self.config.side].fingertip_sites[:2]  # thumb, index
        self._stud_top = 2 * ap.BASE_HALF_SIZE[2] + ap.STUD_HEIGHT

    # --- episode ----------------------------------------------------------------------------

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        c = self.config
        xy = rng.uniform(c.base_xy_low, c.base_xy_high)
        yaw = rng.uniform(-c.base_yaw_range, c.base_yaw_range)
        data.mocap_pos[self._base_mocap] = [xy[0], xy[1], 0.0]
        data.mocap_quat[self._base_mocap] = [math.cos(0.5 * yaw), 0.0, 0.0, math.sin(0.5 * yaw)]
        # Each knob 0.5 to 0.75 turn from the top (a round knob looks the same at any angle).
        seats = rng.uniform(0.0, 0.5 * math.pi, size=len(self._threads))
        for t, seat in zip(self._threads, seats):
            t.seat(model, data, float(seat))
        self._initial_conditions = {"base_x_m": float(xy[0]), "base_y_m": float(xy[1]),
                                    "base_yaw_rad": float(yaw),
                                    **{f"{n}_seat_rad": float(a) for n, a in zip(NUTS, seats)}}  # fmt: skip
        self._latched = dict.fromkeys(STAGES, False)
        self._steady_turn = dict.fromkeys(NUTS, 0.0)
        self._last_turn = {n: t.turn(data) for n, t in zip(NUTS, self._threads)}

    def before_step(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        for t in self._threads:
            t.release_if_unscrewed(data)

    # --- measurements -----------------------------------------------------------------------

    def update(self, model: mujoco.MjModel, data: mujoco.MjData, *, reset: bool = False) -> None:
        c = self.config
        touch, steadied = self._contacts(data)
        latched = self._latched
        m: dict[str, float] = {"steadied": float(steadied)}
        tray_xy = np.array(ap.TRAY_CENTRE)
        pads = data.site_xpos[self._tip_sites].mean(axis=0)
        current = None
        for k, (nut, t) in enumerate(zip(NUTS, self._threads)):
            turn = t.turn(data)
            if not reset and steadied and t.engaged(data):
                self._steady_turn[nut] += max(turn - self._last_turn[nut], 0.0)
            self._last_turn[nut] = turn
            base_z = float(data.xpos[t.body][2])
            com = data.xipos[t.body]
            tt = touch[k]
            digits = tt["digits"]
            pinched = digits[0] and any(digits[1:5])
            engaged = t.engaged(data)
            clear = base_z >= self._stud_top + c.lift_clearance
            held_off = not engaged and pinched and clear and not tt["base"] and not tt["table"]
            inside = bool(np.all(np.abs(com[:2] - tray_xy) <= ap.TRAY_INNER_HALF))
            inside &= com[2] < ap.TRAY_WALL_HEIGHT
            in_tray = inside and tt["tray"] and not tt["robot"]
            if not reset:
                latched[f"{nut}_loosened"] |= self._steady_turn[nut] >= 2 * math.pi * c.loosen_turns
                latched[f"{nut}_removed"] |= latched[f"{nut}_loosened"] and held_off
                latched[f"{nut}_in_tray"] |= latched[f"{nut}_removed"] and in_tray
            if current is None and not latched[f"{nut}_in_tray"]:
                current = k
                grip = data.site_xpos[t.grip_site]
                m["reach"] = float(np.linalg.norm(pads - grip))
                m["turn"] = 1.0 if not engaged else t.rise(data) / ap.THREAD_TRAVEL
                m["place"] = 0.0
                if latched[f"{nut}_removed"] and pinched:
                    to_tray = float(np.linalg.norm(com[:2] - tray_xy))
                    m["place"] = tolerance(to_tray, 0.0, 0.01, margin=c.place_margin,
                                           sigmoid="long_tail")  # fmt: skip
            m[f"{nut}_height"] = base_z
            m[f"{nut}_turns"] = turn / (2 * math.pi)
            m[f"{nut}_steady_turns"] = self._steady_turn[nut] / (2 * math.pi)
            m[f"{nut}_engaged"] = float(engaged)
            m[f"{nut}_pinched"] = float(pinched)
            m[f"{nut}_held_off"] = float(held_off)
            m[f"{nut}_touched"] = float(tt["robot"])
            m[f"{nut}_in_tray"] = float(in_tray)
            m[f"{nut}_fell"] = float(base_z < c.fall_z)
        if current is None:
            m.update(reach=0.0, turn=1.0, place=1.0)
        m["current"] = float(-1 if current is None else current)
        self._m = m

    def _contacts(self, data: mujoco.MjData) -> tuple[list[dict], bool]:
        """Per nut: which digits of the working hand touch it, whether any robot geom,
        the block, the table or the tray do; and whether the steadying hand touches the
        block."""
        out = [{"digits": [False] * len(_DIGITS), "robot": False, "base": False,
                "table": False, "tray": False} for _ in NUTS]  # fmt: skip
        steadied = False
        n = data.ncon
        g1, g2 = data.contact.geom1[:n], data.contact.geom2[:n]
        for i in range(n):
            a, b = int(g1[i]), int(g2[i])
            for nut_geom, other in ((a, b), (b, a)):
                k = self._nut_of[nut_geom]
                if k >= 0:
                    t = out[k]
                    if self._robot[other]:
                        t["robot"] = True
                        code = self._digit[other]
                        if code >= 0 and code // len(_DIGITS) == self._work:
                            t["digits"][code % len(_DIGITS)] = True
                    elif other == self._base_geom:
                        t["base"] = True
                    elif self._table[other]:
                        t["table"] = True
                    elif self._tray[other]:
                        t["tray"] = True
                elif nut_geom == self._base_geom and self._side_of[other] == self._steady:
                    steadied = True
        return out, steadied

    # --- observation, reward, evaluation ----------------------------------------------------

    @property
    def state_size(self) -> int:
        return 7 + 10 * len(NUTS)

    def state(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        parts = [data.mocap_pos[self._base_mocap], data.mocap_quat[self._base_mocap]]
        for t in self._threads:
            parts += [data.qpos[t.qpos : t.qpos + 7], [t.turn(data), t.rise(data), float(t.engaged(data))]]
        return np.concatenate(parts).astype(np.float64)

    def assembly_pose(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """(position m, rotation 3x3) of the assembly frame, world frame."""
        b = self._base_body
        return data.xpos[b].copy(), data.xmat[b].reshape(3, 3).copy()

    def nut_pose(self, data: mujoco.MjData, nut: str) -> tuple[np.ndarray, np.ndarray]:
        """(position m, rotation 3x3) of a nut's frame (underside centre), world frame."""
        b = self._threads[NUTS.index(nut)].body
        return data.xpos[b].copy(), data.xmat[b].reshape(3, 3).copy()

    def nut_com(self, data: mujoco.MjData, nut: str) -> np.ndarray:
        """(3,) a nut's centre of mass, world frame, m."""
        return data.xipos[self._threads[NUTS.index(nut)].body].copy()

    def thread(self, nut: str) -> ap.ThreadBinding:
        """The nut's thread binding (angle, rise, engaged)."""
        return self._threads[NUTS.index(nut)]

    @staticmethod
    def tray_centre() -> np.ndarray:
        """(3,) centre of the tray's floor top, world frame, m."""
        x, y = ap.TRAY_CENTRE
        return np.array([x, y, 2 * ap.TRAY_FLOOR_HALF_THICKNESS])

    @property
    def nut_geoms(self) -> dict[str, frozenset[int]]:
        """Ids of each nut's collision geoms."""
        return {nut: frozenset(np.flatnonzero(self._nut_of == k).tolist()) for k, nut in enumerate(NUTS)}

    @property
    def measurements(self) -> dict[str, float]:
        """The latest :meth:`update` measurements (``steadied``, ``reach``, ``turn``,
        ``place``, ``current`` (index of the current nut, -1 none); per nut ``<nut>_height``,
        ``_turns``, ``_steady_turns``, ``_engaged``, ``_pinched``, ``_held_off``,
        ``_touched``, ``_in_tray``, ``_fell``)."""
        return dict(self._m)

    def reward(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        m, w = self._m, WEIGHTS
        status = self.evaluate(model, data)
        if status.success:
            return dict(w)
        return {
            "reach": w["reach"] * tolerance(m["reach"], 0.0, 0.01, margin=0.2, sigmoid="long_tail"),
            "steady": w["steady"] * m["steadied"],
            "turn": w["turn"] * min(max(m["turn"], 0.0), 1.0),
            "place": w["place"] * m["place"],
            "progress": w["progress"] * status.normalized_score,
        }

    def evaluate(self, model: mujoco.MjModel, data: mujoco.MjData) -> TaskStatus:
        m = self._m
        stages = dict(self._latched)
        success = all(stages[f"{nut}_in_tray"] for nut in NUTS)
        failure = not success and any(m[f"{nut}_fell"] for nut in NUTS)
        return TaskStatus(stages=stages, success=success, failure=failure, subtasks=SUBTASKS)
