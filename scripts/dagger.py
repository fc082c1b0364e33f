"""HG-DAgger (HandITL §4.4): rounds of "roll the policy out under a simulated supervisor who
corrects it through the InterventionWrapper, aggregate the corrections, fine-tune".

    python scripts/dagger.py base=runs/train/<run>/policy.pt demos=[runs/demos] rounds=3
    python scripts/dagger.py base=... demos=[...] collect.mode=copilot \
        "train_overrides=['train.steps=500','dexhil.target=0.3']"

Each round ``r`` writes ``round<r>/corrections/`` (D_corr episodes, per-frame intervention
labels) and ``round<r>/policy/policy.pt`` (fine-tuned from the previous round's policy on
the demos plus all corrections so far, DexHiL-weighted by default), and a line of
``rounds.csv``: rollouts, recorded steps, intervention share, interventions, successes and
mean score of the collected rollouts. The supervisor is
:class:`handitl.agents.dagger.SimulatedSupervisor` (it takes over when the palm drifts from
the expert's plan or progress stalls); the budget of recorded steps per round is fixed so
that arms of a comparison get equal data.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "disable")
os.environ.setdefault("WANDB_SILENT", "true")

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from handitl.agents.dagger import CollectConfig, RolloutRecord, collect_corrections  # noqa: E402
from handitl.agents.learned import ChunkPolicy  # noqa: E402
from handitl.experiments.script_module import load_script  # noqa: E402
from handitl.intervention.modes import Mode  # noqa: E402
from handitl.parallel import write_rows_csv  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class RoundSummary:
    """One row of ``rounds.csv`` (the corrections collected in a round)."""

    round: int
    rollouts: int
    steps: int
    intervention_share: float
    interventions: int
    successes: int
    mean_score: float
    policy: str


def _train_script():
    """scripts/train.py as a module (its ``run`` trains the policies)."""
    return load_script(SCRIPTS / "train.py", "handitl_train_script")


def train_config(cfg: DictConfig, init: str, corrections: list[Path]) -> DictConfig:
    """scripts/conf/train.yaml with this round's data and ``cfg.train_overrides``."""
    base = OmegaConf.load(SCRIPTS / "conf" / "train.yaml")
    base.pop("hydra")
    round_cfg = OmegaConf.merge(
        base,
        OmegaConf.from_dotlist(list(cfg.train_overrides)),
        {"task": cfg.task, "init": init, "progress": cfg.progress,
         "data": {"demos": [str(p) for p in cfg.demos], "corrections": [str(p) for p in corrections]}},
    )  # fmt: skip
    assert isinstance(round_cfg, DictConfig)
    return round_cfg


def summarize_round(r: int, records: list[RolloutRecord], policy: Path) -> RoundSummary:
    steps = sum(x.steps for x in records)
    return RoundSummary(
        round=r, rollouts=len(records), steps=steps,
        intervention_share=sum(x.intervention_steps for x in records) / max(steps, 1),
        interventions=sum(x.interventions for x in records), successes=sum(x.success for x in records),
        mean_score=sum(x.score for x in records) / max(len(records), 1), policy=str(policy),
    )  # fmt: skip


def run(cfg: DictConfig, out_dir: Path) -> list[RoundSummary]:
    """All rounds of ``cfg``; returns their summaries (also in ``out_dir/rounds.csv``)."""
    if not cfg.base:
        raise ValueError("give the starting policy: base=<checkpoint> (train one with scripts/train.py)")
    if not Path(cfg.base).is_file():
        raise FileNotFoundError(f"base checkpoint {cfg.base} does not exist")
    try:
        mode = Mode[str(cfg.collect.mode).upper()]
    except KeyError:
        raise ValueError(f"collect.mode must be takeover or copilot, not {cfg.collect.mode!r}") from None
    if mode is Mode.AUTONOMOUS:
        raise ValueError("collect.mode must be takeover or copilot")
    train = _train_script()

    out_dir.mkdir(parents=True, exist_ok=True)
    c = cfg.collect
    collect = CollectConfig(task=cfg.task, mode=mode, method=c.method, operator=c.operator,
                            budget_steps=int(c.budget_steps), max_steps=int(c.max_steps),
                            time_scale=float(c.time_scale))  # fmt: skip
    policy_path, corrections, summaries = Path(cfg.base), [], []
    for r in range(int(cfg.rounds)):
        round_dir = out_dir / f"round{r}"
        with tqdm(total=collect.budget_steps, unit="step", disable=not cfg.progress,
                  desc=f"round {r}: collecting") as bar:  # fmt: skip
            records = collect_corrections(ChunkPolicy.from_checkpoint(policy_path), collect,
                                          round_dir / "corrections",
                                          first_seed=int(cfg.first_seed) + 1000 * r,
                                          progress=lambda rec: bar.update(rec.steps))  # fmt: skip
        corrections.append(round_dir / "corrections")
        policy_path = Path(train.run(train_config(cfg, str(policy_path), corrections), round_dir / "policy"))
        summaries.append(summarize_round(r, records, policy_path))
        s = summaries[-1]
        print(f"round {r}: {s.rollouts} rollouts, {s.steps} steps, {100 * s.intervention_share:.0f}% "
              f"corrected ({s.interventions} interventions), {s.successes} successes, "
              f"mean score {s.mean_score:.2f} -> {policy_path}")  # fmt: skip
    write_rows_csv(summaries, out_dir / "rounds.csv")
    return summaries


@hydra.main(config_path="conf", config_name="dagger", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
