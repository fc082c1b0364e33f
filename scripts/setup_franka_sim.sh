#!/usr/bin/env bash
# Create franka-sim's own virtual environment (it pins numpy 1.26 and mujoco < 3.3, which
# clash with handitl's), for the integration tests marked `franka_sim`:
#
#   bash scripts/setup_franka_sim.sh
#   .venv/bin/pip install -e '.[real]'          # franky-control and pyzmq for handitl
#   .venv/bin/python -m pytest -m franka_sim tests/real
#
# The venv goes to $HANDITL_FRANKA_SIM_VENV, default ~/.cache/handitl/franka-sim-venv
# (outside the repository). The simulated FR3 is this project's own model, exported by
# the test fixture, so nothing is downloaded at run time.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
VENV="${HANDITL_FRANKA_SIM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/handitl/franka-sim-venv}"
FRANKA_SIM_SPEC="${FRANKA_SIM_SPEC:-franka-sim==1.1.7}"

if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet "$FRANKA_SIM_SPEC"
"$VENV/bin/python" -c "import franka_sim, mujoco, numpy; print('franka-sim ready:', mujoco.__version__, numpy.__version__)"
echo "venv: $VENV"
