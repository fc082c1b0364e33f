"""The FR3 driver against a real protocol peer: two franka-sim servers (this project's
FR3 model) on 127.0.0.1 and 127.0.0.2, in franka-sim's own venv, driven through
franky-control. Skipped with the reason when the venv or franky is missing; set it up
with ``bash scripts/setup_franka_sim.sh`` and run ``pytest -m franka_sim tests/real``."""

from __future__ import annotations

import time

import numpy as np
import pytest

from handitl.real.drivers.base import JointCommand
from handitl.real.franka_peer import FrankaSimProcess, default_venv, venv_python, write_fr3_mjcf

pytestmark = pytest.mark.franka_sim
HOSTS = ("127.0.0.1", "127.0.0.2")


@pytest.fixture(scope="module")
def franka_sims(tmp_path_factory):
    pytest.importorskip("franky", reason="franky-control is not installed: pip install 'handitl[real]'")
    python = venv_python(default_venv())
    if python is None:
        pytest.skip(f"no franka-sim venv at {default_venv()}: run scripts/setup_franka_sim.sh "
                    "(or set HANDITL_FRANKA_SIM_VENV)")  # fmt: skip
    mjcf = write_fr3_mjcf(tmp_path_factory.mktemp("fr3") / "fr3.xml")
    with FrankaSimProcess(HOSTS[0], python, mjcf), FrankaSimProcess(HOSTS[1], python, mjcf):
        yield HOSTS


def test_two_arms_connect_move_and_hold_on_a_client_stall(franka_sims):
    """Both arms connect on their own addresses and report 7 joints; a 0.5 s ramp of
    joint-1 targets at 50 Hz moves joint 1 by > 0.05 rad; then the client sends one far
    target (+0.5 rad, ~0.6 s away at this speed) and stalls: the driver's watchdog holds
    after the 0.1 s timeout, so the arm stops well short of that target (within 1 mrad
    of where it held, and stays); leaving the context holds again and disconnects."""
    from handitl.real.drivers.franky_arm import FrankyArmDriver

    arms = [FrankyArmDriver(h, realtime=False, command_timeout=0.1, relative_dynamics_factor=0.3)
            for h in franka_sims]  # fmt: skip
    with arms[0], arms[1]:
        q0 = [arm.read_state().q for arm in arms]
        assert all(q.shape == (7,) and np.isfinite(q).all() for q in q0)
        for k in range(1, 26):
            for arm, q in zip(arms, q0):
                arm.send_command(JointCommand(q + np.array([0.006 * k, 0, 0, 0, 0, 0, 0])))
            time.sleep(0.02)
        moved = [arm.read_state().q[0] - q[0] for arm, q in zip(arms, q0)]
        assert min(moved) > 0.05, moved
        far = [arm.read_state().q + np.array([0.5, 0, 0, 0, 0, 0, 0]) for arm in arms]
        for arm, q in zip(arms, far):
            arm.send_command(JointCommand(q))
        time.sleep(0.3)  # the client stalls
        assert all(arm.watchdog_holds == 1 for arm in arms)
        deadline = time.monotonic() + 2.0  # the hold decelerates the arm (jerk-limited)
        while time.monotonic() < deadline and max(np.abs(a.read_state().dq).max() for a in arms) > 0.01:
            time.sleep(0.02)
        held = [arm.read_state() for arm in arms]
        time.sleep(0.2)
        for arm, h in zip(arms, held):
            now = arm.read_state()
            assert np.abs(now.q - h.q).max() < 1e-3 and np.abs(now.dq).max() < 0.05
        for arm, q in zip(arms, far):
            assert arm.read_state().q[0] < q[0] - 0.2, "held short of the old target, not chasing it"
