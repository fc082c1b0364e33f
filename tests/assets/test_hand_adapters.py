"""Hands from URDF (LEAP, Allegro), the gymnasium-robotics Shadow hand, and mirroring.

The URDF files live outside the repository: ``$HANDITL_HAND_URDF_DIR`` or
``<repo>/../shared/data/hand_urdfs``; LEAP/Allegro tests skip with a reason where they are
absent, Shadow tests skip where gymnasium-robotics is not installed.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import mujoco
import numpy as np
import pytest

from handitl.assets import contact_constants as cc
from handitl.assets import shadow_hand
from handitl.assets.hand_description import FINGERS, KEYPOINT_NAMES, HandAsset, Side
from handitl.assets.mirror import MIRROR_Y, mirror_hand
from handitl.assets.urdf_hand import (
    ALLEGRO_HAND,
    LEAP_HAND,
    URDF_DIR_ENV,
    UrdfHandProfile,
    find_hand_urdf_dir,
    load_urdf_hand,
)

HANDS = ("leap", "allegro", "shadow")
SIDES = (Side.RIGHT, Side.LEFT)
_PROFILES: dict[str, UrdfHandProfile] = {"leap": LEAP_HAND, "allegro": ALLEGRO_HAND}


def _urdf_dir() -> Path:
    env = os.environ.get(URDF_DIR_ENV)
    folder = (
        Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared/data/hand_urdfs"
    )
    if (
        not (folder / LEAP_HAND.urdf_file).is_file()
        or not (folder / ALLEGRO_HAND.urdf_file).is_file()
    ):
        pytest.skip(f"LEAP/Allegro URDFs not found under {folder}; set {URDF_DIR_ENV} to the "
                    "folder holding leap_hand/ and allegro_hand/")  # fmt: skip
    return folder


def _build(hand: str, side: Side) -> HandAsset:
    """A fresh asset (skips where the hand's files are unavailable)."""
    if hand == "shadow":
        pytest.importorskip("gymnasium_robotics")
        return shadow_hand.load_shadow_hand(side)
    profile = _PROFILES[hand]
    return load_urdf_hand(_urdf_dir() / profile.urdf_file, profile, side)


@functools.cache
def _cached(hand: str, side: Side) -> tuple[HandAsset, mujoco.MjModel]:
    asset = _build(hand, side)
    return asset, asset.spec.compile()


def _model(hand: str, side: Side) -> tuple[HandAsset, mujoco.MjModel]:
    if hand == "shadow":
        pytest.importorskip("gymnasium_robotics")
    else:
        _urdf_dir()
    return _cached(hand, side)


def _mcp_flexion(hand: str) -> tuple[tuple[str, float] | None, ...]:
    return shadow_hand.MCP_FLEXION if hand == "shadow" else _PROFILES[hand].mcp_flexion


def _qpos_adr(model: mujoco.MjModel, asset: HandAsset) -> np.ndarray:
    return np.array([model.jnt_qposadr[model.joint(n).id] for n in asset.description.joint_names])


def _ranges(model: mujoco.MjModel, asset: HandAsset) -> np.ndarray:
    """(n, 2) joint ranges in ``joint_names`` order, rad."""
    return np.array([model.joint(n).range for n in asset.description.joint_names])


def _open_pose(model: mujoco.MjModel, asset: HandAsset) -> np.ndarray:
    """Zero joint angles, clipped into the joint ranges (Allegro's thumb starts at 0.263)."""
    r = _ranges(model, asset)
    return np.clip(0.0, r[:, 0], r[:, 1])


def _palm_points(model: mujoco.MjModel, asset: HandAsset, q: np.ndarray,
                 sites: tuple[str | None, ...]) -> np.ndarray:  # fmt: skip
    """(len(sites), 3) site positions in the palm frame at joint vector ``q`` (NaN if absent)."""
    data = mujoco.MjData(model)
    data.qpos[_qpos_adr(model, asset)] = q
    mujoco.mj_kinematics(model, data)
    palm = model.site(asset.description.palm_site).id
    rot, origin = data.site_xmat[palm].reshape(3, 3), data.site_xpos[palm]
    out = np.full((len(sites), 3), np.nan)
    for i, name in enumerate(sites):
        if name is not None:
            out[i] = rot.T @ (data.site_xpos[model.site(name).id] - origin)
    return out


def _keypoints(model: mujoco.MjModel, asset: HandAsset, q: np.ndarray) -> np.ndarray:
    return _palm_points(model, asset, q, asset.description.keypoint_sites)


def _random_poses(model: mujoco.MjModel, asset: HandAsset, n: int, seed: int) -> np.ndarray:
    r = _ranges(model, asset)
    return np.random.default_rng(seed).uniform(r[:, 0], r[:, 1], size=(n, len(r)))


@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
@pytest.mark.parametrize("hand", HANDS)
def test_compiles_and_names_resolve(hand: str, side: Side) -> None:
    """Each hand compiles alone; every name in its description exists; one servo per
    joint; the root body is a jointless child of the world (attachable to a flange)."""
    asset, model = _model(hand, side)
    desc = asset.description
    desc.validate(model)
    assert desc.side is side
    assert desc.model_name == hand
    assert model.nu == desc.num_joints == len(desc.actuator_names)
    root = model.body(desc.root_body)
    assert root.parentid[0] == 0
    assert root.jntnum[0] == 0
    assert model.nq == model.njnt == desc.num_joints  # hinges only, all actuated
    for a, b in desc.collision_pairs:  # the pairs are live contacts too
        assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_PAIR, f"{a}__{b}") >= 0


@pytest.mark.parametrize("hand", HANDS)
def test_keypoint_mask(hand: str) -> None:
    """Shadow has all 21 keypoints and 5 fingertips; LEAP and Allegro lack the little finger
    (17 keypoints, 4 fingertips)."""
    asset, _ = _model(hand, Side.RIGHT)
    desc = asset.description
    if hand == "shadow":
        assert sum(desc.keypoint_mask) == 21
        assert desc.fingers_present == FINGERS
    else:
        assert sum(desc.keypoint_mask) == 17
        absent = {k for k, present in zip(KEYPOINT_NAMES, desc.keypoint_mask) if not present}
        assert absent == {"little_mcp", "little_pip", "little_dip", "little_tip"}
        assert desc.fingers_present == ("thumb", "index", "middle", "ring")


@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
@pytest.mark.parametrize("hand", HANDS)
def test_servo_ctrlrange_equals_joint_range(hand: str, side: Side) -> None:
    """Actuator i is a position servo (kp > 0) on joint i with ctrlrange == joint range."""
    asset, model = _model(hand, side)
    for joint, act in zip(asset.description.joint_names, asset.description.actuator_names):
        a, j = model.actuator(act), model.joint(joint)
        assert a.trnid[0] == j.id
        np.testing.assert_array_equal(a.ctrlrange, j.range)
        assert j.range[1] > j.range[0]
        kp = a.gainprm[0]
        assert kp > 0 and a.biasprm[1] == -kp


@pytest.mark.parametrize("hand", HANDS)
def test_left_keypoints_mirror_right(hand: str) -> None:
    """For 12 random joint vectors within limits, every left keypoint and fingertip site,
    in the left palm frame, is the right one with y negated (within 1e-6 m)."""
    right, m_right = _model(hand, Side.RIGHT)
    left, m_left = _model(hand, Side.LEFT)
    for q in _random_poses(m_right, right, n=12, seed=7):
        for sites in ("keypoint_sites", "fingertip_sites"):
            pr = _palm_points(m_right, right, q, getattr(right.description, sites))
            pl = _palm_points(m_left, left, q, getattr(left.description, sites))
            np.testing.assert_allclose(pl, pr @ MIRROR_Y, atol=1e-6)


@pytest.mark.parametrize("hand", HANDS)
def test_left_hand_is_the_mirror_body(hand: str) -> None:
    """Masses equal; COMs, inertia tensors and geom centres of the left hand's bodies are
    the right hand's reflected in the palm plane (world frame, qpos0, 1e-9 m, 1e-12 kg m^2)."""
    right, m_right = _model(hand, Side.RIGHT)
    _, m_left = _model(hand, Side.LEFT)
    d_right, d_left = mujoco.MjData(m_right), mujoco.MjData(m_left)
    mujoco.mj_kinematics(m_right, d_right)
    mujoco.mj_kinematics(m_left, d_left)
    palm = m_right.site(right.description.palm_site).id
    r_palm, p_palm = d_right.site_xmat[palm].reshape(3, 3), d_right.site_xpos[palm]
    w = r_palm @ MIRROR_Y @ r_palm.T  # the palm-plane reflection in world coordinates

    def reflect(p: np.ndarray) -> np.ndarray:
        return (p - p_palm) @ w.T + p_palm

    np.testing.assert_allclose(m_left.body_mass, m_right.body_mass, rtol=1e-12)
    massive = m_right.body_mass > 0  # a massless body's "COM" is its origin
    np.testing.assert_allclose(d_left.xipos[massive], reflect(d_right.xipos[massive]), atol=1e-9)
    np.testing.assert_allclose(d_left.geom_xpos, reflect(d_right.geom_xpos), atol=1e-9)
    for b in range(1, m_right.nbody):
        rot_r, rot_l = d_right.ximat[b].reshape(3, 3), d_left.ximat[b].reshape(3, 3)
        inertia_r = rot_r @ np.diag(m_right.body_inertia[b]) @ rot_r.T
        inertia_l = rot_l @ np.diag(m_left.body_inertia[b]) @ rot_l.T
        np.testing.assert_allclose(inertia_l, w @ inertia_r @ w, atol=1e-12)


@pytest.mark.parametrize("hand", HANDS)
def test_mirror_twice_is_identity(hand: str) -> None:
    """mirror(mirror(right)) has the right hand's keypoints (palm frame) within 1e-9 for 5
    random poses, and mirroring leaves its input spec and description untouched."""
    right, m_right = _model(hand, Side.RIGHT)
    before = right.spec.to_xml()
    twice = mirror_hand(mirror_hand(right))
    assert right.spec.to_xml() == before
    assert right.description.side is Side.RIGHT and twice.description.side is Side.RIGHT
    m_twice = twice.spec.compile()
    for q in _random_poses(m_right, right, n=5, seed=3):
        np.testing.assert_allclose(_keypoints(m_twice, twice, q), _keypoints(m_right, right, q),
                                   atol=1e-9)  # fmt: skip


@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
@pytest.mark.parametrize("hand", HANDS)
def test_palm_frame_open_pose(hand: str, side: Side) -> None:
    """Open pose (zero angles clipped to the ranges): the wrist keypoint is the palm origin,
    the middle MCP lies on +z (> 5 cm), every finger's tip keypoint is > 15 cm along +z,
    and the thumb tip is on the thumb side (+y right, -y left) by > 3 cm."""
    asset, model = _model(hand, side)
    kp = dict(zip(KEYPOINT_NAMES, _keypoints(model, asset, _open_pose(model, asset))))
    np.testing.assert_allclose(kp["wrist"], 0.0, atol=1e-12)
    np.testing.assert_allclose(kp["middle_mcp"][:2], 0.0, atol=1e-6)
    assert kp["middle_mcp"][2] > 0.05
    for finger in asset.description.fingers_present[1:]:
        assert kp[f"{finger}_tip"][2] > 0.15, finger
    assert side.mirror_sign * kp["thumb_tip"][1] > 0.03


@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
@pytest.mark.parametrize("hand", HANDS)
def test_mcp_flexion_moves_tip_palmar(hand: str, side: Side) -> None:
    """Flexing a finger's MCP by 0.5 rad (the profile's sign) from the open pose moves its
    tip keypoint > 2 cm toward +x (palmar) and not sideways (|dy| < 5 mm)."""
    asset, model = _model(hand, side)
    q0 = _open_pose(model, asset)
    kp0 = _keypoints(model, asset, q0)
    names = asset.description.joint_names
    for finger, flex in zip(FINGERS, _mcp_flexion(hand)):
        if flex is None:
            continue
        joint, sign = flex
        q = q0.copy()
        q[names.index(joint)] += sign * 0.5
        tip = KEYPOINT_NAMES.index(f"{finger}_tip")
        d = _keypoints(model, asset, q)[tip] - kp0[tip]
        assert d[0] > 0.02, (finger, d)
        assert abs(d[1]) < 0.005, (finger, d)


@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
@pytest.mark.parametrize("hand", HANDS)
def test_attaches_to_a_flange_and_servos_track(hand: str, side: Side) -> None:
    """Attached under a prefix to another spec's body (as the scene does), the hand
    compiles with the project's physics options and, without gravity, its servos bring
    every joint within 0.05 rad of a quarter-range target in 1.5 s (no instability)."""
    asset = _build(hand, side)
    parent = mujoco.MjSpec()
    cc.apply_physics_options(parent)
    parent.option.gravity = [0.0, 0.0, 0.0]
    flange = parent.worldbody.add_body(name="flange", pos=[0.0, 0.0, 0.5], quat=[0, 1, 0, 0])
    flange.add_frame().attach_body(asset.spec.body(asset.description.root_body), "right/", "")
    model = parent.compile()
    desc = asset.description.with_prefix("right/")
    desc.validate(model)
    data = mujoco.MjData(model)
    r = np.array([model.joint(n).range for n in desc.joint_names])
    target = r[:, 0] + 0.25 * (r[:, 1] - r[:, 0])
    data.ctrl[[model.actuator(a).id for a in desc.actuator_names]] = target
    mujoco.mj_step(model, data, nstep=int(1.5 / model.opt.timestep))
    q = data.qpos[[model.jnt_qposadr[model.joint(n).id] for n in desc.joint_names]]
    assert np.all(np.isfinite(data.qpos))
    assert np.max(np.abs(q - target)) < 0.05


def test_find_hand_urdf_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The URDF folder comes only from $HANDITL_HAND_URDF_DIR (None when unset)."""
    monkeypatch.delenv(URDF_DIR_ENV, raising=False)
    assert find_hand_urdf_dir() is None
    monkeypatch.setenv(URDF_DIR_ENV, str(tmp_path))
    assert find_hand_urdf_dir() == tmp_path


def test_missing_urdf_raises(tmp_path: Path) -> None:
    """A wrong URDF path fails with FileNotFoundError naming the path."""
    with pytest.raises(FileNotFoundError, match="nothing.urdf"):
        load_urdf_hand(tmp_path / "nothing.urdf", LEAP_HAND)


def test_shadow_without_gymnasium_robotics_gives_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without gymnasium-robotics the Shadow loader raises ImportError with the pip hint."""
    monkeypatch.setattr(shadow_hand.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r'pip install "handitl\[shadow\]"'):
        shadow_hand.load_shadow_hand()
