"""Left hands from right hands (and back) by reflecting a hand spec in its palm frame.

The reflection is across the plane y = 0 of the palm frame (see
:mod:`handitl.assets.hand_description`): a palm-frame point (x, y, z) goes to (x, -y, z).
The root body's frame is kept, so the mirrored hand mounts on a flange exactly like the
original; the palm site therefore keeps its pose in the root frame too (it lies on the
mirror plane), and its +y axis now points away from the thumb.

How each quantity transforms, with ``L`` the reflection expressed in the coordinates the
quantity is written in and ``M = diag(1, -1, 1)``:

* In the root body's own coordinates ``L = A = R_p M R_p^T`` plus an offset ``b = p_p - A p_p``
  (``R_p``, ``p_p``: palm site pose in the root frame), i.e. the palm-frame reflection
  seen from the root. Everything else (child bodies' contents, frames' contents) is
  written in a frame that is itself reflected, so there ``L = M`` and ``b = 0``.
* Positions ``p -> L p + b``; orientations ``R -> L R M`` (a proper rotation again:
  the element's own frame is re-handed by flipping its local y axis).
* Hinge axes ``a -> -L a`` (an axial vector), so that a joint angle produces the mirrored
  motion and joint ranges, actuators and keyframes stay valid unchanged; slide axes
  ``a -> L a``.
* Inertia: ``fullinertia`` (body frame) ``I -> L I L``; a diagonal inertia in a rotated
  inertial frame is unchanged, the frame transforms like any orientation.
* Box, sphere, capsule, cylinder and ellipsoid geoms are symmetric in their local y, so
  only their pose changes; meshes get their y scale negated (MuJoCo 3.17 accepts negative
  mesh scales, flips the faces' winding and keeps volume and inertia positive).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import mujoco
import numpy as np

from handitl.assets.hand_description import HandAsset, Side

MIRROR_Y = np.diag([1.0, -1.0, 1.0])
"""Reflection across a frame's y = 0 plane."""

_SYMMETRIC_GEOMS = frozenset({
    mujoco.mjtGeom.mjGEOM_PLANE,
    mujoco.mjtGeom.mjGEOM_SPHERE,
    mujoco.mjtGeom.mjGEOM_CAPSULE,
    mujoco.mjtGeom.mjGEOM_ELLIPSOID,
    mujoco.mjtGeom.mjGEOM_CYLINDER,
    mujoco.mjtGeom.mjGEOM_BOX,
})  # fmt: skip
"""Geom types whose shape is unchanged by reflecting their local y axis."""


class MirrorError(ValueError):
    """The hand spec holds something this mirror cannot reflect faithfully."""


@dataclasses.dataclass(frozen=True)
class _Reflection:
    """Affine reflection ``p -> linear @ p + offset`` in some coordinates."""

    linear: np.ndarray
    offset: np.ndarray


_LOCAL = _Reflection(MIRROR_Y, np.zeros(3))


# ---------------------------------------------------------------------------------------
# Orientation helpers
# ---------------------------------------------------------------------------------------
def quat_to_mat(quat: Iterable[float]) -> np.ndarray:
    """(3, 3) rotation of a wxyz quaternion (normalised first)."""
    q = np.asarray(quat, dtype=float)
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, q / np.linalg.norm(q))
    return mat.reshape(3, 3)


def mat_to_quat(mat: np.ndarray) -> np.ndarray:
    """(4,) wxyz quaternion of a (3, 3) rotation."""
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(mat, dtype=float).ravel())
    return quat


def _compiler_of(element: object, spec: mujoco.MjSpec) -> mujoco.MjsCompiler:
    """The compiler settings an element was parsed under (angles units, Euler sequence)."""
    compiler = getattr(element, "compiler", None)
    return compiler if compiler is not None else spec.compiler


def _resolved_rotation(spec: mujoco.MjSpec, element: object, quat: str = "quat",
                       alt: str = "alt") -> np.ndarray:  # fmt: skip
    """(3, 3) orientation of ``element`` whether given as quat or as an alternative form."""
    orientation = getattr(element, alt)
    if orientation.type == mujoco.mjtOrientation.mjORIENTATION_QUAT:
        return quat_to_mat(getattr(element, quat))
    compiler = _compiler_of(element, spec)
    q = spec.resolve_orientation(compiler.degree, compiler.eulerseq, orientation)
    return quat_to_mat(q)


def _set_rotation(element: object, rot: np.ndarray, quat: str = "quat", alt: str = "alt") -> None:
    """Store ``rot`` as the element's quaternion, dropping any alternative orientation."""
    setattr(element, quat, list(mat_to_quat(rot)))
    getattr(element, alt).type = mujoco.mjtOrientation.mjORIENTATION_QUAT


# ---------------------------------------------------------------------------------------
# Poses of elements relative to a body (at qpos0)
# ---------------------------------------------------------------------------------------
def _local_pose(spec: mujoco.MjSpec, element: object) -> tuple[np.ndarray, np.ndarray]:
    """(pos, R) of an element (body, frame, site, geom, camera) in its parent frame."""
    return np.asarray(element.pos, dtype=float), _resolved_rotation(spec, element)


def _compose_frames(spec: mujoco.MjSpec, element: object,
                    pos: np.ndarray, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Express a pose given in ``element``'s frame chain (``element.frame``...) in its body."""
    frame = element.frame
    while frame is not None:
        if np.any(np.asarray(frame.scale) != 1.0):
            raise MirrorError("frames with a scale are not supported")
        fp, fr = _local_pose(spec, frame)
        pos, rot = fp + fr @ pos, fr @ rot
        frame = frame.frame
    return pos, rot


def pose_in_body(spec: mujoco.MjSpec, element: object, ancestor: mujoco.MjsBody,
                 *, rigid: bool = True) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Pose (pos m, (3, 3) rotation) of ``element`` in ``ancestor``'s frame at qpos0.

    ``element`` is a body, site, geom, camera or frame inside ``ancestor``'s subtree (or
    ``ancestor`` itself). With ``rigid`` a joint between the two raises :class:`MirrorError`:
    the pose would then depend on the configuration.
    """
    if isinstance(element, mujoco.MjsBody) and element.name == ancestor.name:
        return np.zeros(3), np.eye(3)
    pos, rot = _local_pose(spec, element)
    pos, rot = _compose_frames(spec, element, pos, rot)
    body = element.parent
    if isinstance(element, mujoco.MjsBody) and rigid and len(element.joints):
        raise MirrorError(f"body {element.name!r} has joints; its pose is not rigid")
    while body is not None and body.name != ancestor.name:
        if rigid and len(body.joints):
            raise MirrorError(f"body {body.name!r} between the element and "
                              f"{ancestor.name!r} has joints")  # fmt: skip
        bp, br = _local_pose(spec, body)
        pos, rot = bp + br @ pos, br @ rot
        pos, rot = _compose_frames(spec, body, pos, rot)
        body = body.parent
    if body is None:
        raise MirrorError(f"{element.name!r} is not inside body {ancestor.name!r}")
    return pos, rot


# ---------------------------------------------------------------------------------------
# Reflecting elements
# ---------------------------------------------------------------------------------------
def _reflect_pose(spec: mujoco.MjSpec, element: object, refl: _Reflection) -> None:
    """pos -> L pos + b, R -> L R M (alternative orientations are resolved first)."""
    rot = _resolved_rotation(spec, element)
    element.pos = list(refl.linear @ np.asarray(element.pos, dtype=float) + refl.offset)
    _set_rotation(element, refl.linear @ rot @ MIRROR_Y)


def _reflect_fromto(element: object, refl: _Reflection) -> None:
    """Both end points of a ``fromto`` (if used) are positions."""
    fromto = np.asarray(element.fromto, dtype=float)
    if np.isnan(fromto[0]):
        return
    a = refl.linear @ fromto[:3] + refl.offset
    b = refl.linear @ fromto[3:] + refl.offset
    element.fromto = [*a, *b]


def _reflect_inertial(body: mujoco.MjsBody, spec: mujoco.MjSpec, refl: _Reflection) -> None:
    """Inertial frame like any pose; a full (body-frame) inertia matrix as L I L."""
    if not body.explicitinertial:
        return
    if not np.isnan(body.ipos[0]):
        body.ipos = list(refl.linear @ np.asarray(body.ipos, dtype=float) + refl.offset)
    rot = _resolved_rotation(spec, body, quat="iquat", alt="ialt")
    _set_rotation(body, refl.linear @ rot @ MIRROR_Y, quat="iquat", alt="ialt")
    full = np.asarray(body.fullinertia, dtype=float)
    if not np.isnan(full[0]):
        ixx, iyy, izz, ixy, ixz, iyz = full
        inertia = np.array([[ixx, ixy, ixz], [ixy, iyy, iyz], [ixz, iyz, izz]])
        r = refl.linear @ inertia @ refl.linear.T
        body.fullinertia = [r[0, 0], r[1, 1], r[2, 2], r[0, 1], r[0, 2], r[1, 2]]


def _reflect_joint(joint: mujoco.MjsJoint, refl: _Reflection) -> None:
    """Anchor as a position; hinge axis as an axial vector, slide axis as a polar one."""
    joint.pos = list(refl.linear @ np.asarray(joint.pos, dtype=float) + refl.offset)
    axis = refl.linear @ np.asarray(joint.axis, dtype=float)
    if joint.type == mujoco.mjtJoint.mjJNT_HINGE:
        joint.axis = list(-axis)
    elif joint.type == mujoco.mjtJoint.mjJNT_SLIDE:
        joint.axis = list(axis)
    else:
        raise MirrorError(f"joint {joint.name!r}: only hinge and slide joints can be mirrored")


def _reflect_geom(geom: mujoco.MjsGeom, spec: mujoco.MjSpec, refl: _Reflection,
                  meshes: set[str]) -> None:  # fmt: skip
    if geom.type == mujoco.mjtGeom.mjGEOM_MESH:
        meshes.add(geom.meshname)
    elif geom.type not in _SYMMETRIC_GEOMS:
        raise MirrorError(f"geom {geom.name!r}: type {geom.type} cannot be mirrored")
    _reflect_pose(spec, geom, refl)
    _reflect_fromto(geom, refl)


def _reflect_body_contents(body: mujoco.MjsBody, spec: mujoco.MjSpec, root: _Reflection,
                           is_root: bool, meshes: set[str]) -> None:  # fmt: skip
    """Reflect everything written in ``body``'s coordinates (or its frames'), recursively."""

    def refl(element: object) -> _Reflection:
        # Only elements written directly in the root body's coordinates see the palm-plane
        # reflection; inside a frame or a child body the coordinates are themselves
        # reflected, which leaves the local y flip.
        return root if is_root and element.frame is None else _LOCAL

    _reflect_inertial(body, spec, root if is_root else _LOCAL)
    for frame in body.frames:
        _reflect_pose(spec, frame, refl(frame))
    for joint in body.joints:
        _reflect_joint(joint, refl(joint))
    for geom in body.geoms:
        _reflect_geom(geom, spec, refl(geom), meshes)
    for site in body.sites:
        _reflect_pose(spec, site, refl(site))
        _reflect_fromto(site, refl(site))
    for camera in body.cameras:
        _reflect_pose(spec, camera, refl(camera))
    for light in body.lights:
        r = refl(light)
        light.pos = list(r.linear @ np.asarray(light.pos, dtype=float) + r.offset)
        light.dir = list(r.linear @ np.asarray(light.dir, dtype=float))
    for child in body.bodies:
        _reflect_pose(spec, child, refl(child))
        _reflect_body_contents(child, spec, root, False, meshes)


def _check_supported(spec: mujoco.MjSpec) -> None:
    """Refuse elements whose data hold body-frame vectors this module does not reflect."""
    if len(spec.flexes) or len(spec.skins):
        raise MirrorError("flexes and skins cannot be mirrored")
    for eq in spec.equalities:
        if eq.type in (mujoco.mjtEq.mjEQ_CONNECT, mujoco.mjtEq.mjEQ_WELD):
            raise MirrorError(f"equality {eq.name!r}: connect/weld anchors are not mirrored")
    for act in spec.actuators:
        if act.trntype not in (mujoco.mjtTrn.mjTRN_JOINT, mujoco.mjtTrn.mjTRN_TENDON):
            raise MirrorError(f"actuator {act.name!r}: only joint and tendon transmissions")


def _flip_meshes(spec: mujoco.MjSpec, names: set[str]) -> None:
    """Negate each used mesh's y scale (mesh vertices live in their geom's local frame)."""
    for name in sorted(names):
        mesh = spec.mesh(name)
        if mesh is None:
            raise MirrorError(f"mesh {name!r} not found")
        if np.any(np.asarray(mesh.refpos) != 0.0) or np.any(
            np.asarray(mesh.refquat) != [1, 0, 0, 0]
        ):
            raise MirrorError(f"mesh {name!r}: refpos/refquat are not supported")
        sx, sy, sz = mesh.scale
        mesh.scale = [sx, -sy, sz]


def palm_reflection(
    spec: mujoco.MjSpec, root_body: str, palm_site: str
) -> tuple[np.ndarray, np.ndarray]:
    """(A, b): the palm-frame y reflection in root coordinates, p -> A p + b.

    The palm site must be rigidly attached to the root (no joint in between).
    """
    root = spec.body(root_body)
    site = spec.site(palm_site)
    if root is None or site is None:
        raise MirrorError(f"root body {root_body!r} or palm site {palm_site!r} not in the spec")
    p_p, r_p = pose_in_body(spec, site, root)
    a = r_p @ MIRROR_Y @ r_p.T
    return a, p_p - a @ p_p


def mirror_hand(asset: HandAsset) -> HandAsset:
    """The mirror image of a hand (right -> left or left -> right) in its palm frame.

    Works on ``asset.spec.copy()``; the input is not modified. Element names are kept,
    joint angles keep their meaning (the same joint vector gives mirror-image poses), the
    root body frame is kept, and ``description.side`` is flipped.
    """
    desc = asset.description
    spec = asset.spec.copy()
    _check_supported(spec)
    a, b = palm_reflection(spec, desc.root_body, desc.palm_site)
    meshes: set[str] = set()
    _reflect_body_contents(spec.body(desc.root_body), spec, _Reflection(a, b), True, meshes)
    _flip_meshes(spec, meshes)
    side = Side.LEFT if desc.side is Side.RIGHT else Side.RIGHT
    if spec.modelname.endswith(f"_{desc.side.value}"):
        spec.modelname = spec.modelname[: -len(desc.side.value)] + side.value
    return HandAsset(spec=spec, description=dataclasses.replace(desc, side=side))
