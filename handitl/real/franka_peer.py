"""franka-sim as a robot peer for tests: simulated FR3s speaking the real FCI protocol.

franka-sim needs its own virtual environment (it pins numpy 1.26 and mujoco < 3.3);
``scripts/setup_franka_sim.sh`` makes one at :func:`default_venv`. The arm model it
simulates is this project's FR3 (built from the datasheet DH parameters), exported to
MJCF, so the peer needs no download.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FCI_PORT = 1337
"""libfranka's fixed command port: two arms need two addresses, not two ports."""


def default_venv() -> Path:
    """``$HANDITL_FRANKA_SIM_VENV``, else ``~/.cache/handitl/franka-sim-venv``."""
    env = os.environ.get("HANDITL_FRANKA_SIM_VENV")
    if env:
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "handitl" / "franka-sim-venv"


def venv_python(venv: Path) -> Path | None:
    """The venv's python if franka-sim is installed in it, else None."""
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    probe = subprocess.run([str(python), "-c", "import franka_sim"], capture_output=True, timeout=60)
    return python if probe.returncode == 0 else None


def write_fr3_mjcf(path: Path) -> Path:
    """This project's FR3 arm as MJCF for franka-sim (actuators removed: franka-sim
    drives joint torques itself, and mujoco < 3.3 cannot read our actuator attributes)."""
    from handitl.assets.fr3 import build_fr3

    spec = build_fr3()
    for actuator in list(spec.actuators):
        spec.delete(actuator)
    spec.compile()
    path.write_text(spec.to_xml())
    return path


class FrankaSimProcess:
    """One franka-sim server process bound to ``host`` (loopback), stopped on exit.

    Args:
        host: 127.x.x.x address; each arm gets its own.
        python: franka-sim venv's interpreter.
        mjcf: FR3 model file (see :func:`write_fr3_mjcf`).
        start_timeout: s to wait for the FCI port to accept connections.
    """

    def __init__(self, host: str, python: Path, mjcf: Path, start_timeout: float = 20.0) -> None:
        if not host.startswith("127."):
            raise ValueError(f"franka-sim binds loopback addresses only, got {host}")
        self.host, self.python, self.mjcf, self.start_timeout = host, python, mjcf, start_timeout
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> FrankaSimProcess:
        launcher = Path(__file__).with_name("franka_sim_launch.py")
        env = {**os.environ, "FR3_MJCF": str(self.mjcf)}
        # A log file, not a pipe: nobody drains a pipe while the tests run.
        self.log = tempfile.NamedTemporaryFile("w+b", prefix=f"franka-sim-{self.host}-", suffix=".log")
        self.process = subprocess.Popen([str(self.python), str(launcher), "--host", self.host], env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            text = Path(self.log.name).read_text(errors="replace")
            if self.process.poll() is not None:
                raise RuntimeError(f"franka-sim on {self.host} exited at start:\n{text[-2000:]}")
            if "Server listening" in text and "simulation loop" in text:
                return self
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"franka-sim on {self.host} did not start within {self.start_timeout} s")

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


if __name__ == "__main__":  # pragma: no cover - manual check
    print(default_venv(), venv_python(default_venv()), file=sys.stderr)
