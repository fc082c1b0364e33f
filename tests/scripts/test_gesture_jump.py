"""End to end: ``scripts/gesture_jump.py`` on a tiny configuration (BreadClip, direct and
relative, one operator, one trial, one worker) writes a well-formed CSV, figure and table,
deterministically, and the relative method's takeover jump is far below direct switching's."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from handitl.experiments.report import read_csv

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gesture_jump.py"
TINY = ["tasks=[BreadClip]", "methods=[direct,relative]", "operators=[operator_a]", "trials=1",
        "workers=1", "wandb.mode=disabled", "progress=false"]  # fmt: skip
COLUMNS = ["task", "method", "operator", "trial", "seed", "takeover", "t0", "discontinuity",
           "discontinuity_next", "outcome", "held_at_t0", "intact_at_t0", "note"]  # fmt: skip


def _script():
    spec = importlib.util.spec_from_file_location("gesture_jump_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config(overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "scripts" / "conf"), version_base="1.3"):
        return compose(config_name="gesture_jump", overrides=overrides)


@pytest.fixture(scope="module")
def script():
    return _script()


@pytest.fixture(scope="module")
def tiny_run(script, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("gesture_jump")
    return out, script.run(_config(TINY), out)


def test_outputs_are_well_formed(tiny_run) -> None:
    """One CSV row per takeover (2 methods x 1 operator x 1 trial x 3), all measured with
    finite jumps and a known outcome; the figure and the table (with the paper's numbers
    and both methods) are written, and the returned table is the file's."""
    out, table = tiny_run
    lines = (out / "takeovers.csv").read_text().splitlines()
    assert lines[0].split(",") == COLUMNS
    rows = read_csv(out / "takeovers.csv")
    assert len(rows) == 2 * 1 * 1 * 3
    assert sorted({r.method for r in rows}) == ["direct", "relative"]
    assert [r.takeover for r in rows] == [0, 1, 2, 0, 1, 2]
    for r in rows:
        assert math.isfinite(r.discontinuity) and r.discontinuity >= 0.0
        assert math.isfinite(r.discontinuity_next) and math.isfinite(r.t0)
        assert r.outcome in ("stable", "partial", "drop")
    assert (out / "fig3.png").stat().st_size > 10_000
    text = (out / "table.md").read_text()
    assert text.endswith(table)
    assert "4.38e-02" in table and "6.80e-05" in table  # the paper's BreadClip numbers
    assert "| BreadClip | direct |" in table and "| BreadClip | relative |" in table


def test_relative_jump_far_below_direct(tiny_run) -> None:
    """Relative retargeting starts from the robot's current command, so its jump at
    takeover is at least 100x below every direct-switching jump."""
    rows = read_csv(tiny_run[0] / "takeovers.csv")
    direct = [r.discontinuity for r in rows if r.method == "direct"]
    relative = [r.discontinuity for r in rows if r.method == "relative"]
    assert max(relative) < 0.01 * min(direct)


def test_same_seed_same_csv(script, tiny_run, tmp_path) -> None:
    """The same configuration and seed give a byte-identical CSV."""
    script.run(_config(TINY), tmp_path)
    assert (tmp_path / "takeovers.csv").read_bytes() == (tiny_run[0] / "takeovers.csv").read_bytes()


def test_expert_without_grasp_is_recorded(script, tmp_path) -> None:
    """A trial whose expert never reaches its grasp is kept as three ``no_grasp`` rows with
    a reason and no jump, and the table says so."""
    overrides = [*TINY, "methods=[relative]", "protocol.max_grasp_s=0.5"]
    table = script.run(_config(overrides), tmp_path)
    rows = read_csv(tmp_path / "takeovers.csv")
    assert [r.outcome for r in rows] == ["no_grasp"] * 3
    assert all(math.isnan(r.discontinuity) and r.note for r in rows)
    assert "did not reach its grasp in 1/1 trials" in table


def test_presets() -> None:
    """``preset=quick`` (the default) and ``preset=full`` select the trial counts."""
    assert _config([]).trials == 2 and _config([]).preset_name == "quick"
    full = _config(["preset=full"])
    assert full.trials == 10 and full.workers is None
    assert list(full.methods) == ["direct", "delta", "jacobian", "relative"]
