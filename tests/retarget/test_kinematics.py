"""Hand kinematics for retargeting: Jacobians and pair distances are exact derivatives."""

from __future__ import annotations

import numpy as np
import pytest

from handitl.assets.hand_description import Side
from tests.retarget.conftest import HANDS, make_kinematics


@pytest.mark.parametrize("name", HANDS)
def test_site_jacobians_match_finite_differences(name: str) -> None:
    """Fingertip and pad Jacobians (palm frame, description joint order) equal central
    finite differences within 1e-6 m/rad at 5 random joint vectors."""
    kin = make_kinematics(name, Side.RIGHT)
    rng = np.random.default_rng(0)
    for _ in range(5):
        q = rng.uniform(kin.q_lower, kin.q_upper)
        kin.set_q(q)
        J = {"tips": kin.site_jacobians("tips"), "pads": kin.site_jacobians("pads")}
        for i in range(kin.nq):
            dq = np.zeros(kin.nq)
            dq[i] = 1e-6
            kin.set_q(q + dq)
            plus = {"tips": kin.fingertips(), "pads": kin.pads()}
            kin.set_q(q - dq)
            minus = {"tips": kin.fingertips(), "pads": kin.pads()}
            for which in J:
                fd = (plus[which] - minus[which]) / 2e-6
                assert np.abs(fd - J[which][:, :, i]).max() < 1e-6, (which, i)


@pytest.mark.parametrize("name", ["procedural21", "leap"])
def test_pair_distance_jacobian_matches_finite_differences(name: str) -> None:
    """Every near collision pair's distance derivative equals finite differences within
    1e-5 (m/rad) on curled poses where pairs come close."""
    kin = make_kinematics(name, Side.RIGHT)
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(10):
        q = kin.q_lower + rng.uniform(0.5, 1.0, kin.nq) * (kin.q_upper - kin.q_lower)
        kin.set_q(q)
        pairs = kin.pair_distances()
        for row, pair in enumerate(pairs.pair_index[:4]):
            for i in range(kin.nq):
                dq = np.zeros(kin.nq)
                dq[i] = 1e-7
                values = []
                for sign in (1.0, -1.0):
                    kin.set_q(q + sign * dq)
                    p = kin.pair_distances()
                    values.append(p.distance[np.flatnonzero(p.pair_index == pair)[0]])
                fd = (values[0] - values[1]) / 2e-7
                assert abs(fd - pairs.jacobian[row, i]) < 1e-5
            checked += 1
    assert checked >= 4, "the test poses brought too few pairs close"


def test_joint_order_follows_the_description() -> None:
    """q vectors are in the description's joint order even where MuJoCo orders them
    differently (LEAP): setting one joint moves only that joint's fingertip."""
    kin = make_kinematics("leap", Side.RIGHT)
    assert kin.joint_names == kin.description.joint_names
    q = np.clip(np.zeros(kin.nq), kin.q_lower, kin.q_upper)
    kin.set_q(q)
    base = kin.fingertips()
    for i, name in enumerate(kin.joint_names):
        dq = q.copy()
        dq[i] = np.clip(q[i] + 0.2, kin.q_lower[i], kin.q_upper[i])
        kin.set_q(dq)
        moved = np.linalg.norm(kin.fingertips() - base, axis=1) > 1e-6
        assert moved.sum() == 1, name
