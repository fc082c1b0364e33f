"""``BimanualEnv``: two FR3 arms with hands at a table, one pluggable task.

Physics runs at ``physics_dt`` (500 Hz), control at ``control_dt`` (50 Hz). Each
control step decodes the action (see :mod:`handitl.envs.actions` for its layout),
turns arm pose targets into joint targets by differential IK, sets the servo targets,
steps the physics, and asks the task for reward terms and sub-goal stages.

Observations (a Dict; arrays are float64, side axis first in the order left, right):

* ``arm_qpos``, ``arm_qvel``: (2, 7) arm joint angles (rad) and velocities (rad/s);
* ``palm_pos`` (2, 3), ``palm_quat`` (2, 4): palm frame (the end effector) in the
  world frame, m and (w, x, y, z) with w >= 0;
* ``hand_qpos``, ``hand_qvel``: (2, n) hand joint angles and velocities;
* ``fingertip_pos``: (2, f, 3) fingertip contact points, world frame, m;
* ``task_state``: the task's vector (see the task's docstring);
* ``images`` (only if ``EnvConfig.image_cameras`` names cameras): uint8 (H, W, 3) each.

State-only use never creates a renderer, so it needs no GL.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from handitl.assets import fr3_constants as fr3c
from handitl.assets.hand_description import SIDES, Side
from handitl.assets.hands import hand_builder
from handitl.assets.scene import SceneConfig, build_scene
from handitl.envs.actions import ActionBounds, ActionLayout, ActionMode, Command
from handitl.envs.controllers import DifferentialIK, IKConfig, joint_space_targets
from handitl.envs.errors import ConfigError, PhysicsError
from handitl.envs.robot import RobotBindings
from handitl.envs.rotations import quat_from_mat, rotvec_from_quat
from handitl.envs.tasks.base import Task, TaskStatus


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Settings of :class:`BimanualEnv` (units: s, m, rad, pixels)."""

    physics_dt: float = 0.002
    """Physics step (500 Hz)."""
    control_dt: float = 0.02
    """Control period (50 Hz, the paper's 20 ms VR tick); a multiple of physics_dt."""
    action_mode: ActionMode = ActionMode.EE_POSE
    """Arm action: palm pose targets, pose + feed-forward twist, or joint targets."""
    hand: str = "procedural21"
    """Registered hand name (:func:`handitl.assets.hands.hand_names`)."""
    scene: SceneConfig = SceneConfig()
    """Workcell layout."""
    ik: IKConfig = IKConfig()
    """Arm differential-IK settings."""
    action_bounds: ActionBounds = ActionBounds()
    """Bounds of the end-effector action parts."""
    image_cameras: tuple[str, ...] = ()
    """Cameras whose images are added to observations (none: state only, no GL)."""
    image_size: tuple[int, int] = (224, 224)
    """(height, width) of observation images."""
    render_camera: str = "third"
    """Camera used by ``render()``."""
    render_size: tuple[int, int] = (480, 640)
    """(height, width) of ``render()`` frames."""
    reset_joint_noise: float = 0.0
    """Uniform noise (+-rad) added to the arms' home pose at reset."""
    terminate_on_success: bool = True
    """End the episode when the task reports success (failure always ends it)."""


class BimanualEnv(gym.Env):
    """Two arms with hands and one task; see the module docstring for the spaces."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, task: Task, config: EnvConfig | None = None,
                 render_mode: str | None = None) -> None:  # fmt: skip
        self.config = config or EnvConfig()
        self._check_config(render_mode)
        self.task = task
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.config.control_dt)}
        spec, self.scene = build_scene(hand_builder(self.config.hand), self.config.scene)
        spec.option.timestep = self.config.physics_dt
        task.build(spec, self.scene)
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self.robot = RobotBindings.bind(self.model, self.scene)
        task.bind(self.model, self.robot)
        self.layout = ActionLayout(self.config.action_mode, self.robot, self.config.action_bounds)
        self.action_space = self.layout.space
        self.observation_space = self._observation_space()
        self._substeps = round(self.config.control_dt / self.config.physics_dt)
        arms = [self.robot.arms[s] for s in SIDES]
        self._ik = DifferentialIK(self.model, arms, [self.robot.hands[s].palm_site for s in SIDES],
                                  self.config.control_dt, self.config.ik)  # fmt: skip
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self._tip_bodies: dict[Side, dict[int, int]] | None = None
        self._ignored_body = np.zeros(0, dtype=bool)
        self._index = _Index.of(self.robot, self.config.control_dt, self.config.ik.velocity_scale)

    # --- gymnasium API -------------------------------------------------------------------

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self._ik.reset()
        noise = self.config.reset_joint_noise
        for side in SIDES:
            arm, hand = self.robot.arms[side], self.robot.hands[side]
            q = arm.home_qpos + self.np_random.uniform(-noise, noise, size=len(arm.home_qpos))
            q = np.clip(q, arm.q_lower, arm.q_upper)
            self.data.qpos[arm.qpos_idx] = q
            self.data.ctrl[arm.actuator_ids] = q
            q_hand = np.clip(0.0, hand.q_lower, hand.q_upper)
            self.data.qpos[hand.qpos_idx] = q_hand
            self.data.ctrl[hand.actuator_ids] = q_hand
        self.task.reset(self.model, self.data, self.np_random)
        mujoco.mj_forward(self.model, self.data)
        self.task.update(self.model, self.data, reset=True)
        status = self.task.evaluate(self.model, self.data)
        return self._observation(), self._info({}, status, clipped=False)

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        action, clipped = self.layout.validate(action)
        self._apply_commands(self.layout.decode(action))
        self.task.before_step(self.model, self.data)
        self._advance_physics()
        self.task.update(self.model, self.data)
        terms = self.task.reward(self.model, self.data)
        status = self.task.evaluate(self.model, self.data)
        terminated = status.failure or (self.config.terminate_on_success and status.success)
        reward = float(sum(terms.values()))
        return self._observation(), reward, terminated, False, self._info(terms, status, clipped)

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        height, width = self.config.render_size
        return self.render_camera(self.config.render_camera, height, width)

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()

    # --- helpers for controllers, experts and wrappers -------------------------------------

    @property
    def control_dt(self) -> float:
        return self.config.control_dt

    def palm_pose(self, side: Side) -> tuple[np.ndarray, np.ndarray]:
        """(position m, quaternion w,x,y,z) of a palm frame in the world frame."""
        site = self.robot.hands[side].palm_site
        return self.data.site_xpos[site].copy(), quat_from_mat(self.data.site_xmat[site])

    def fingertip_contacts(self, side: Side) -> np.ndarray:
        """(5,) bool, FINGERS order: whether each fingertip's link of ``side``'s hand touches
        a movable object (not the robot, not the static scene such as the table); False for
        absent fingers. What an operator sees of a grasp: a finger that rests on the object."""
        if self._tip_bodies is None:
            self._tip_bodies, self._ignored_body = self._contact_bodies()
        out = np.zeros(5, dtype=bool)
        n = self.data.ncon
        if n == 0:
            return out
        b1 = self.model.geom_bodyid[self.data.contact.geom1[:n]]
        b2 = self.model.geom_bodyid[self.data.contact.geom2[:n]]
        for k, body in self._tip_bodies[side].items():
            out[k] = bool(((b1 == body) & ~self._ignored_body[b2]).any()
                          or ((b2 == body) & ~self._ignored_body[b1]).any())  # fmt: skip
        return out

    def _contact_bodies(self) -> tuple[dict[Side, dict[int, int]], np.ndarray]:
        """Each present fingertip's body per side, and a mask of the bodies a grasp ignores:
        the robot's (all bodies under the arms' roots) and the static scene's (welded to
        the world)."""
        m = self.model
        tips, roots = {}, set()
        for side in SIDES:
            hand, arm = self.robot.hands[side], self.robot.arms[side]
            present = [k for k, s in enumerate(hand.description.fingertip_sites) if s is not None]
            tips[side] = {k: int(m.site_bodyid[site]) for k, site in zip(present, hand.fingertip_sites)}
            roots.add(int(m.body_rootid[m.dof_bodyid[arm.dof_idx[0]]]))
        return tips, np.isin(m.body_rootid, sorted(roots)) | (m.body_weldid == 0)

    def hold_action(self) -> np.ndarray:
        """An action that keeps both arms and hands where they are now."""
        action = np.zeros(self.layout.size)
        for side in SIDES:
            arm, hand = self.robot.arms[side], self.robot.hands[side]
            if self.layout.mode is ActionMode.JOINT:
                action[self.layout.slice(f"{side.value}/arm_q")] = self.data.qpos[arm.qpos_idx]
            else:
                pos, quat = self.palm_pose(side)
                action[self.layout.slice(f"{side.value}/pos")] = pos
                action[self.layout.slice(f"{side.value}/rotvec")] = rotvec_from_quat(quat)
            action[self.layout.slice(f"{side.value}/hand")] = self.data.qpos[hand.qpos_idx]
        return np.clip(action, self.action_space.low, self.action_space.high)

    def render_camera(self, camera: str, height: int, width: int) -> np.ndarray:
        """An RGB frame (height, width, 3) from a named camera; creates a renderer lazily."""
        if camera not in self.camera_names:
            raise ValueError(f"no camera {camera!r}; cameras: {', '.join(self.camera_names)}")
        key = (height, width)
        if key not in self._renderers:
            try:
                self._renderers[key] = mujoco.Renderer(self.model, height=height, width=width)
            except (AttributeError, RuntimeError, mujoco.FatalError) as exc:
                # MUJOCO_GL=disable (or no GL library) leaves mujoco without a GL context
                raise RuntimeError(
                    f"cannot render camera {camera!r} ({type(exc).__name__}: {exc}); rendering needs a GL "
                    f"backend: set MUJOCO_GL=egl (headless GPU/CPU) or osmesa before starting Python "
                    f"(now MUJOCO_GL={os.environ.get('MUJOCO_GL', '')!r})"
                ) from exc
        renderer = self._renderers[key]
        renderer.update_scene(self.data, camera=camera)
        return renderer.render()

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(self.model.camera(i).name for i in range(self.model.ncam))

    # --- internals ------------------------------------------------------------------------

    def _check_config(self, render_mode: str | None) -> None:
        c = self.config
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ConfigError(f"render_mode {render_mode!r} not in {self.metadata['render_modes']}")
        if c.physics_dt <= 0 or c.control_dt <= 0:
            raise ConfigError(f"time steps must be positive: physics_dt={c.physics_dt}, "
                              f"control_dt={c.control_dt}")  # fmt: skip
        ratio = c.control_dt / c.physics_dt
        if ratio < 1 or not math.isclose(ratio, round(ratio), rel_tol=0, abs_tol=1e-9):
            raise ConfigError(f"control_dt={c.control_dt} must be a whole multiple of "
                              f"physics_dt={c.physics_dt}")  # fmt: skip

    def _apply_commands(self, command: Command) -> None:
        d, ix = self.data, self._index
        if command.arm_q is not None:
            q = d.qpos[ix.arm_qpos]
            targets = joint_space_targets(q, command.arm_q, ix.arm_lower, ix.arm_upper,
                                          ix.arm_max_step)  # fmt: skip
        else:
            targets = self._ik.joint_targets(d, command.pos, command.quat, command.twist)
        d.ctrl[ix.arm_actuators] = targets.ravel()
        d.ctrl[ix.hand_actuators] = command.hand_q.ravel()

    def _advance_physics(self) -> None:
        """Step the physics one control period and fail loudly on divergence.

        mj_step leaves poses one substep behind qpos. Splitting the period as mj_step2
        (the second half of a substep whose first half, mj_step1, ended the previous
        period or reset's mj_forward), N-1 whole mj_steps, then mj_step1, does the same
        work bit for bit and leaves poses and Jacobian data current for the controller
        and the observation at no extra cost.
        """
        m, d = self.model, self.data
        expected_time = d.time + self.config.control_dt
        mujoco.mj_step2(m, d)
        if self._substeps > 1:
            mujoco.mj_step(m, d, nstep=self._substeps - 1)
        mujoco.mj_step1(m, d)
        # On a NaN or huge qpos/qvel/qacc MuJoCo warns and resets the data, which also
        # resets the clock: a cheap, exact test (reading data.warning costs ~20 us).
        if abs(d.time - expected_time) > 0.5 * self.config.physics_dt:
            raise PhysicsError(
                f"simulation diverged near t={expected_time:.3f} s (MuJoCo found a NaN or "
                "huge qpos/qvel/qacc and reset the state); call env.reset()"
            )

    def _observation_space(self) -> spaces.Dict:
        def box(shape: tuple[int, ...], low: float | np.ndarray = -np.inf,
                high: float | np.ndarray = np.inf) -> spaces.Box:  # fmt: skip
            return spaces.Box(np.broadcast_to(low, shape).astype(np.float64),
                              np.broadcast_to(high, shape).astype(np.float64), dtype=np.float64)  # fmt: skip

        arms = [self.robot.arms[s] for s in Side]
        hands = [self.robot.hands[s] for s in Side]
        n_hand = hands[0].num_joints
        n_tips = hands[0].num_fingertips
        obs: dict[str, spaces.Space] = {
            "arm_qpos": box((2, 7), np.stack([a.q_lower for a in arms]),
                            np.stack([a.q_upper for a in arms])),  # fmt: skip
            "arm_qvel": box((2, 7)),
            "palm_pos": box((2, 3)),
            "palm_quat": box((2, 4), -1.0, 1.0),
            "hand_qpos": box((2, n_hand)),
            "hand_qvel": box((2, n_hand)),
            "fingertip_pos": box((2, n_tips, 3)),
            "task_state": box((self.task.state_size,)),
        }
        if self.config.image_cameras:
            unknown = set(self.config.image_cameras) - set(self.camera_names)
            if unknown:
                raise ConfigError(f"image_cameras {sorted(unknown)} not in the scene's cameras "
                                  f"{self.camera_names}")  # fmt: skip
            h, w = self.config.image_size
            obs["images"] = spaces.Dict({
                cam: spaces.Box(0, 255, (h, w, 3), dtype=np.uint8)
                for cam in self.config.image_cameras
            })  # fmt: skip
        return spaces.Dict(obs)

    def _observation(self) -> dict[str, Any]:
        d, ix = self.data, self._index
        qpos, qvel, xpos = d.qpos[ix.qpos], d.qvel[ix.dof], d.site_xpos[ix.sites]
        quats = np.empty((2, 4))
        for k, quat in enumerate(quats):
            mujoco.mju_mat2Quat(quat, d.site_xmat[ix.sites[k, 0]])
            if quat[0] < 0.0:  # report one of the two covers: w >= 0
                quat *= -1.0
        n = ix.n_arm
        obs: dict[str, Any] = {
            "arm_qpos": qpos[:, :n],
            "arm_qvel": qvel[:, :n],
            "palm_pos": xpos[:, 0],
            "palm_quat": quats,
            "hand_qpos": qpos[:, n:],
            "hand_qvel": qvel[:, n:],
            "fingertip_pos": xpos[:, 1:],
            "task_state": self.task.state(self.model, d),
        }
        if self.config.image_cameras:
            h, w = self.config.image_size
            obs["images"] = {cam: self.render_camera(cam, h, w) for cam in self.config.image_cameras}
        return obs

    def _info(self, terms: dict[str, float], status: TaskStatus, clipped: bool) -> dict[str, Any]:
        return {
            "reward_terms": terms,
            "stages": status.stages,
            "score": status.score,
            "normalized_score": status.normalized_score,
            "success": status.success,
            "failure": status.failure,
            "action_clipped": clipped,
            "time": float(self.data.time),
        }



@dataclasses.dataclass(frozen=True)
class _Index:
    """Addresses of both sides (left, right) for one-shot gathers and scatters.

    A fancy index returns a fresh array, so observations never alias MuJoCo's buffers;
    gathering arm and hand together and splitting views costs one gather, not four.
    """

    qpos: np.ndarray
    """(2, 7 + n): arm then hand joint qpos addresses."""
    dof: np.ndarray
    """(2, 7 + n): the same for dofs."""
    sites: np.ndarray
    """(2, 1 + f): palm site then fingertip sites."""
    arm_qpos: np.ndarray
    arm_actuators: np.ndarray
    hand_actuators: np.ndarray
    arm_lower: np.ndarray
    arm_upper: np.ndarray
    arm_max_step: np.ndarray
    n_arm: int

    @classmethod
    def of(cls, robot: RobotBindings, control_dt: float, velocity_scale: float) -> _Index:
        arms = [robot.arms[s] for s in SIDES]
        hands = [robot.hands[s] for s in SIDES]
        return cls(
            qpos=np.stack([np.concatenate([a.qpos_idx, h.qpos_idx]) for a, h in zip(arms, hands)]),
            dof=np.stack([np.concatenate([a.dof_idx, h.dof_idx]) for a, h in zip(arms, hands)]),
            sites=np.stack([np.concatenate([[h.palm_site], h.fingertip_sites]) for h in hands]),
            arm_qpos=np.stack([a.qpos_idx for a in arms]),
            arm_actuators=np.concatenate([a.actuator_ids for a in arms]),
            hand_actuators=np.concatenate([h.actuator_ids for h in hands]),
            arm_lower=np.stack([a.q_lower for a in arms]),
            arm_upper=np.stack([a.q_upper for a in arms]),
            arm_max_step=np.tile(fr3c.VELOCITY_LIMIT * velocity_scale * control_dt, (2, 1)),
            n_arm=len(arms[0].qpos_idx),
        )
