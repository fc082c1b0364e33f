"""Experiment protocols of the paper (HandITL §4), used by the thin scripts in ``scripts/``.

* :mod:`.wiring`: names -> policy and intervention wrapper (shared by the scripts);
* :mod:`.grasp`: task-specific grasp judgements (ready, held, intact; outcomes);
* :mod:`.gesture_jump`: the takeover-discontinuity trial (Fig. 3);
* :mod:`.report`: statistics, CSV, markdown table and figure with the paper's numbers.
"""

from handitl.experiments.gesture_jump import (
    GestureJumpConfig,
    TakeoverRow,
    TakeoverTiming,
    TrialSpec,
    run_trial,
)
from handitl.experiments.grasp import GraspCriteria, Outcome, grasp_criteria
from handitl.experiments.wiring import intervention_wrapper, make_policy

__all__ = [
    "GestureJumpConfig", "GraspCriteria", "Outcome", "TakeoverRow", "TakeoverTiming", "TrialSpec",
    "grasp_criteria", "intervention_wrapper", "make_policy", "run_trial",
]  # fmt: skip
