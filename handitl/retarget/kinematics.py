"""Robot hand kinematics for retargeting: a private MuJoCo model of the hand alone.

Everything is expressed in the hand's **palm frame** (origin at the wrist, +z toward
the middle MCP, +x palmar, +y toward the thumb on a right hand; see
``handitl.assets.hand_description``), the frame the human wrist-frame keypoints are
aligned to. The model is compiled once from a fresh :class:`HandAsset`; its root body
is fixed, and ``qpos`` holds exactly the hand's actuated joints in description order.

Self-collision distances for the safety term use capsule proxies of the hand's
collision-pair geoms, evaluated in one ``mj_collision`` call with a wide margin
(``shared/docs/retarget_notes.md``: 1-2 us for all pairs, against 7-10 us per pair with
``mj_geomDistance``), and their Jacobians come from the contact points and normals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import mujoco
import numpy as np

from handitl.assets.hand_description import KEYPOINT_NAMES, HandAsset, HandDescription

PROXY_GROUP = 5
"""Geom group of the capsule proxies (hidden in renders)."""


class HandKinematicsError(ValueError):
    """The hand asset cannot be used for retargeting (joints, sites, geometry)."""


@dataclasses.dataclass(frozen=True)
class PairDistances:
    """Signed distances of the collision pairs that are within the query margin.

    Attributes:
        pair_index: (c,) index into ``HandKinematics.collision_pairs`` of each entry.
        distance: (c,) signed distance between the two proxies, m (< 0: penetrating).
        jacobian: (c, nq) d(distance)/dq.
    """

    pair_index: np.ndarray
    distance: np.ndarray
    jacobian: np.ndarray


class HandKinematics:
    """Forward kinematics, site Jacobians and pair distances of one hand, palm frame.

    Args:
        asset: a freshly built hand (its spec must not have been attached to a scene;
            build a new one with the hand's builder).
        proxy_margin: pairs closer than this (m) are reported by :meth:`pair_distances`.
    """

    def __init__(self, asset: HandAsset, proxy_margin: float = 0.03) -> None:
        self.description: HandDescription = asset.description
        desc = asset.description
        spec = asset.spec.copy()
        probe = spec.copy().compile()
        self._check_joints(probe, desc)
        self.collision_pairs = self._add_proxies(spec, probe, desc, proxy_margin)
        # Only the proxy contacts may become constraints, with a dense Jacobian layout.
        spec.option.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_GRAVITY
                                        | mujoco.mjtDisableBit.mjDSBL_LIMIT
                                        | mujoco.mjtDisableBit.mjDSBL_EQUALITY
                                        | mujoco.mjtDisableBit.mjDSBL_FRICTIONLOSS)  # fmt: skip
        spec.option.jacobian = mujoco.mjtJacobian.mjJAC_DENSE
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.nq = m.nq
        self._nv = m.nv
        # q vectors follow the description's joint order, which need not be MuJoCo's.
        joints = [m.joint(n) for n in desc.joint_names]
        self._qpos_idx = np.array([j.qposadr[0] for j in joints], dtype=np.intp)
        self._dof_idx = np.array([j.dofadr[0] for j in joints], dtype=np.intp)
        self._identity_order = bool((self._dof_idx == np.arange(m.nv)).all()
                                    and (self._qpos_idx == np.arange(m.nq)).all())  # fmt: skip
        self.q_lower = np.array([j.range[0] for j in joints])
        self.q_upper = np.array([j.range[1] for j in joints])
        self.joint_names = desc.joint_names
        self.fingers = desc.fingers_present
        self._palm = m.site(desc.palm_site).id
        self._root = m.body(desc.root_body).id
        self._tip_kp_sites = np.array([m.site(desc.keypoint_sites[_tip_index(f)]).id
                                       for f in self.fingers])  # fmt: skip
        self._pad_sites = np.array([m.site(s).id for s in desc.fingertip_sites if s is not None])
        self._keypoint_sites = [None if s is None else m.site(s).id for s in desc.keypoint_sites]
        self._tips_and_pads = np.concatenate([self._tip_kp_sites, self._pad_sites])
        self._jac_buffer = np.zeros((len(self._tips_and_pads), 3, m.nv))
        self._geom_to_pair = self._pair_lookup()
        mujoco.mj_kinematics(m, self.data)
        # Pose of the palm frame in the model's world (the root is fixed, so this is constant).
        self._R_palm = self.data.site_xmat[self._palm].reshape(3, 3).copy()
        self._p_palm = self.data.site_xpos[self._palm].copy()
        self._rotate = not np.allclose(self._R_palm, np.eye(3), rtol=0.0, atol=1e-12)

    # --- setup ---------------------------------------------------------------------------

    @staticmethod
    def _check_joints(model: mujoco.MjModel, desc: HandDescription) -> None:
        names = tuple(model.joint(i).name for i in range(model.njnt))
        if sorted(names) != sorted(desc.joint_names):
            raise HandKinematicsError(
                f"{desc.model_name}: the model's joints {names} are not exactly the described "
                f"actuated joints {desc.joint_names} (passive or free joints are unsupported)"
            )
        if model.nq != model.njnt or (model.jnt_type != mujoco.mjtJoint.mjJNT_HINGE).any():
            raise HandKinematicsError(f"{desc.model_name}: retargeting needs hinge joints only")
        if not model.jnt_limited.all():
            raise HandKinematicsError(f"{desc.model_name}: every joint needs a range")

    @staticmethod
    def _add_proxies(spec: mujoco.MjSpec, probe: mujoco.MjModel, desc: HandDescription,
                     margin: float) -> tuple[tuple[str, str], ...]:  # fmt: skip
        """Capsule proxies for every geom in a collision pair, and explicit pairs of them.

        Capsules stay capsules; boxes, meshes and other shapes become the capsule along
        their longest local bounding-box axis with the middle half-extent as radius.
        """
        for pair in list(spec.pairs):
            spec.delete(pair)
        for geom in spec.geoms:
            geom.contype = geom.conaffinity = 0
        names = sorted({g for pair in desc.collision_pairs for g in pair})
        for name in names:
            gid = probe.geom(name).id
            body = spec.body(probe.body(probe.geom_bodyid[gid]).name)
            pos, quat = probe.geom_pos[gid], probe.geom_quat[gid]
            if probe.geom_type[gid] == mujoco.mjtGeom.mjGEOM_CAPSULE:
                radius, half = probe.geom_size[gid, 0], probe.geom_size[gid, 1]
                axis = np.array([0.0, 0.0, 1.0])
                center = np.zeros(3)
            else:
                center, extent = probe.geom_aabb[gid, :3], probe.geom_aabb[gid, 3:]
                order = np.argsort(extent)
                radius = float(extent[order[1]])
                half = max(float(extent[order[2]]) - radius, 1e-4)
                axis = np.eye(3)[order[2]]
            R = np.zeros(9)
            mujoco.mju_quat2Mat(R, quat)
            R = R.reshape(3, 3)
            c = pos + R @ center
            a = R @ axis * half
            body.add_geom(name=f"proxy_{name}", type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                          fromto=[*(c - a), *(c + a)], size=[radius, 0, 0], group=PROXY_GROUP,
                          contype=0, conaffinity=0, mass=0.0, rgba=[1, 0, 0, 0.3])  # fmt: skip
        for a, b in desc.collision_pairs:
            spec.add_pair(geomname1=f"proxy_{a}", geomname2=f"proxy_{b}", margin=margin,
                          condim=1)  # fmt: skip
        return tuple(desc.collision_pairs)

    def _pair_lookup(self) -> np.ndarray:
        """(ngeom, ngeom) table: pair index of two proxy geoms (-1 for non-pairs)."""
        m = self.model
        lookup = np.full((m.ngeom, m.ngeom), -1, dtype=np.intp)
        for k, (a, b) in enumerate(self.collision_pairs):
            ga, gb = m.geom(f"proxy_{a}").id, m.geom(f"proxy_{b}").id
            lookup[ga, gb] = lookup[gb, ga] = k
        return lookup

    # --- queries -------------------------------------------------------------------------

    def set_q(self, q: np.ndarray) -> None:
        """Set joint angles (rad, nq, description order) and update kinematics."""
        if self._identity_order:
            self.data.qpos[:] = q
        else:
            self.data.qpos[self._qpos_idx] = q
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)

    def _to_palm(self, world: np.ndarray) -> np.ndarray:
        if not self._rotate and not self._p_palm.any():
            return world  # the palm frame is the model's world frame (procedural hand)
        return (world - self._p_palm) @ self._R_palm

    def fingertips(self) -> np.ndarray:
        """(f, 3) fingertip keypoints (end of each finger) in the palm frame, m."""
        return self._to_palm(self.data.site_xpos[self._tip_kp_sites])

    def pads(self) -> np.ndarray:
        """(f, 3) fingertip pad contact points in the palm frame, m."""
        return self._to_palm(self.data.site_xpos[self._pad_sites])

    def keypoints(self) -> np.ndarray:
        """(21, 3) keypoints in the palm frame (NaN rows for keypoints the hand lacks)."""
        out = np.full((len(self._keypoint_sites), 3), np.nan)
        for k, site in enumerate(self._keypoint_sites):
            if site is not None:
                out[k] = self.data.site_xpos[site]
        return self._to_palm(out)

    def tips_and_pads(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(tips, pads, J_tips, J_pads) in one pass: (f, 3) positions and (f, 3, nq)
        Jacobians, palm frame (the retargeters' per-iteration query)."""
        f = len(self._tip_kp_sites)
        positions = self._to_palm(self.data.site_xpos[self._tips_and_pads])
        jac = self._jac_buffer
        for k, site in enumerate(self._tips_and_pads):
            mujoco.mj_jacSite(self.model, self.data, jac[k], None, site)
        out = np.einsum("ji,fjk->fik", self._R_palm, jac) if self._rotate else jac.copy()
        if not self._identity_order:
            out = out[:, :, self._dof_idx]
        return positions[:f], positions[f:], out[:f], out[f:]

    def site_set(self, tips: Sequence[str], pads: Sequence[str]) -> SiteSet:
        """The fingertip keypoint sites of the fingers ``tips``, then the pad sites of the
        fingers ``pads``, as one :class:`SiteSet` (e.g. only the pads a cost uses)."""
        pad_of = dict(zip(self.fingers, self._pad_sites))
        ids = [self._tip_kp_sites[self.fingers.index(f)] for f in tips] + [pad_of[f] for f in pads]
        return SiteSet(self, np.array(ids, dtype=np.intp))

    def site_jacobians(self, which: str) -> np.ndarray:
        """(f, 3, nq) positional Jacobians in the palm frame of ``"tips"`` or ``"pads"``."""
        sites = self._tip_kp_sites if which == "tips" else self._pad_sites
        out = np.empty((len(sites), 3, self.nq))
        for k, site in enumerate(sites):
            mujoco.mj_jacSite(self.model, self.data, out[k], None, site)
        if self._rotate:
            out = np.einsum("ji,fjk->fik", self._R_palm, out)
        return out if self._identity_order else out[:, :, self._dof_idx]

    def pair_distances(self) -> PairDistances:
        """Distances and Jacobians of the collision pairs closer than the proxy margin.

        One ``mj_collision`` + ``mj_makeConstraint``: each near pair is a frictionless
        contact whose constraint row is exactly d(distance)/dq (checked against finite
        differences in the tests); only contacts exist (limits etc. are disabled here).
        """
        index, distance = self.near_pairs()
        return PairDistances(index, distance, self.near_pair_jacobian())

    def near_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(pair_index, distance) of :meth:`pair_distances` without the Jacobian, which
        :meth:`near_pair_jacobian` reads afterwards at the same q (for a solver that only
        needs the cost at most trial points)."""
        m, d = self.model, self.data
        mujoco.mj_collision(m, d)
        mujoco.mj_makeConstraint(m, d)
        n = d.nefc
        geoms = d.contact.geom[d.efc_id[:n]]  # one struct access: each costs ~1.5-5 us
        return self._geom_to_pair[geoms[:, 0], geoms[:, 1]], d.efc_pos[:n].copy()

    def near_pair_jacobian(self) -> np.ndarray:
        """(c, nq) d(distance)/dq of the pairs the last :meth:`near_pairs` returned, in
        its order (the constraint rows it built; valid until q changes)."""
        d, nv = self.data, self._nv
        jacobian = d.efc_J[: d.nefc * nv].reshape(-1, nv)
        return jacobian.copy() if self._identity_order else jacobian[:, self._dof_idx]

    def clip(self, q: np.ndarray) -> np.ndarray:
        return np.minimum(np.maximum(q, self.q_lower), self.q_upper)


class SiteSet:
    """A fixed list of sites of one hand: positions and Jacobians in the palm frame, with
    the per-call work down to the MuJoCo calls (the retargeters query it every solver
    iteration). Build it with :meth:`HandKinematics.site_set`."""

    def __init__(self, kinematics: HandKinematics, site_ids: np.ndarray) -> None:
        self.kinematics = kinematics
        self.ids = site_ids
        self._jac = np.zeros((len(site_ids), 3, kinematics.model.nv))
        # Row views and plain ints, made once: indexing per call costs more than the call.
        self._calls = [(row, int(site)) for row, site in zip(self._jac, site_ids)]

    def positions(self) -> np.ndarray:
        """(s, 3) site positions in the palm frame at the last ``set_q``, m (a new array)."""
        k = self.kinematics
        return k._to_palm(k.data.site_xpos[self.ids])

    def jacobians(self) -> np.ndarray:
        """(s, 3, nq) positional Jacobians in the palm frame, description joint order, at
        the last ``set_q``. Returns a buffer that the next call overwrites."""
        k = self.kinematics
        m, d = k.model, k.data
        for row, site in self._calls:
            mujoco.mj_jacSite(m, d, row, None, site)
        out = np.einsum("ji,fjk->fik", k._R_palm, self._jac) if k._rotate else self._jac
        return out if k._identity_order else out[:, :, k._dof_idx]


def _tip_index(finger: str) -> int:
    return KEYPOINT_NAMES.index(f"{finger}_tip")
