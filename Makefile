# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment (.venv) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# On this kind of machine `pip install torch==2.13.0` takes a local CPU wheel; an open
# range would pull a multi-GB CUDA build. Elsewhere set TORCH_SPEC= to keep your own torch.
TORCH_SPEC ?= torch==2.13.0
export MUJOCO_GL ?= egl

.PHONY: demo test bench images venv clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@if [ -n "$(TORCH_SPEC)" ]; then $(BIN)/pip install --quiet "$(TORCH_SPEC)"; fi
	$(BIN)/pip install --quiet -e ".[test,shadow]"
	touch $(STAMP)

# The main job: the gesture-jump experiment (HandITL Fig. 3), quick preset, on the
# embedded default (procedural hands, simulated operators); prints the table.
demo: $(STAMP)
	$(BIN)/python scripts/gesture_jump.py

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python bench/env_step.py

images: $(STAMP)
	$(BIN)/python scripts/render_scene.py --out docs/images
	$(BIN)/python scripts/render_stream.py --conventions --out docs/images
	$(BIN)/python scripts/retarget_picture.py --out docs/images

clean:
	rm -rf $(VENV) .pytest_cache
