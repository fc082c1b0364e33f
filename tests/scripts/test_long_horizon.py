"""``scripts/long_horizon.py`` end to end on a tiny configuration (PickUpDrill, one short
demo, 40-step budgets, a few training steps, two 20-step rollouts per policy), its
resumption, its input checks, and the result rows' arithmetic."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from handitl.agents.evaluation import RolloutResult
from handitl.envs import task_entry
from handitl.experiments.long_horizon import ARMS, ArmResult, markdown_table

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "long_horizon.py"
TINY = ["tasks=[PickUpDrill]", "demos.episodes=1", "demos.max_steps=60", "budget_steps=40",
        "collect.max_steps=40", "collect.trigger.stall_time=0.1", "train.base_steps=3",
        "train.post_steps=2", "eval.rollouts=2", "eval.max_steps=20", "workers=1", "progress=false"]  # fmt: skip


def _script():
    spec = importlib.util.spec_from_file_location("long_horizon_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cfg(overrides: list[str]):
    with initialize_config_dir(
        config_dir=str(REPO / "scripts" / "conf" / "long_horizon"), version_base="1.3"
    ):
        return compose(config_name="config", overrides=overrides)


def test_tiny_run_trains_every_arm_on_equal_budgets_and_resumes(tmp_path: Path) -> None:
    """Every arm gets a policy and 2 evaluation rollouts; arms with new data got exactly
    the 40-step budget (the supervisor intervened in the DAgger rollouts), the others
    none; the table, CSV and figure are written; a second run in the same directory
    redoes nothing and reports the same rows."""
    script = _script()
    rows = script.run(_cfg(TINY), tmp_path)
    assert [r.arm for r in rows] == list(ARMS)
    for r in rows:
        assert r.rollouts == 2 and (tmp_path / "PickUpDrill" / "policies" / r.arm / "policy.pt").is_file()
        if r.arm in ("base", "teleop_old"):
            assert r.new_data_steps == 0 and math.isnan(r.new_data_intervention_share)
        else:
            assert r.new_data_steps == 40
        if r.arm in ("copilot", "takeover", "takeover_dexhil", "takeover_flowcorrect"):
            assert 0.0 < r.new_data_intervention_share <= 1.0
        assert 0.0 <= r.normalized_score <= 1.0
    with (tmp_path / "results.csv").open() as f:
        assert len(list(csv.DictReader(f))) == len(ARMS)
    assert (tmp_path / "fig6.png").stat().st_size > 10_000
    assert "takeover_flowcorrect" in (tmp_path / "fig6.md").read_text()
    stamp = (tmp_path / "PickUpDrill" / "policies" / "base" / "policy.pt").stat().st_mtime_ns
    again = script.run(_cfg(TINY), tmp_path)
    assert again == rows
    assert (tmp_path / "PickUpDrill" / "policies" / "base" / "policy.pt").stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    ("override", "message"),
    [("tasks=[Nope]", "unknown task 'Nope'"), ("tasks=[Reach]", "has no scripted expert"),
     ("arms=[base,magic]", "unknown arm"), ("budget_steps=0", "budget_steps must be positive")],
)  # fmt: skip
def test_bad_configuration_is_named_before_any_work(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _script().run(_cfg([*TINY, override]), tmp_path)
    assert not (tmp_path / "PickUpDrill").exists()


def test_arm_result_statistics() -> None:
    """Mean and Student's t half-width of the normalised scores, Wilson interval of the
    success rate, and the table line."""
    results = [
        RolloutResult(k, s, s / 4, s == 4.0, math.nan, 100) for k, s in enumerate([4.0, 2.0, 3.0, 1.0])
    ]
    r = ArmResult.of("UnscrewWithDrill", "copilot", results, 2000, 0.25)
    assert r.normalized_score == pytest.approx(0.625)
    # s.d. of (1, .5, .75, .25) = 0.3227; t(0.975, 3) = 3.1824; / sqrt(4)
    assert r.normalized_score_ci == pytest.approx(3.1824 * 0.32275 / 2, rel=1e-3)
    assert r.success_rate == 0.25 and 0.0 < r.success_low < 0.25 < r.success_high < 1.0
    assert "| UnscrewWithDrill | copilot | 4 | 0.625 ±" in markdown_table(
        [r]
    ) and "2000 (25%)" in markdown_table([r])


def test_rollouts_get_the_demonstrators_time() -> None:
    """Evaluation and collection rollouts default to the task's limit x the demos' pace
    (a policy imitating 3.5x-slower demos needs that long), unless set."""
    script, cfg = _script(), _cfg([])
    limit = task_entry("UnscrewWithDrill").max_episode_steps
    assert script.rollout_limit(cfg, "UnscrewWithDrill") == math.ceil(limit * 3.5)
    assert script.rollout_limit(_cfg(["demos.time_scale=1.0"]), "UnscrewWithDrill") == limit

