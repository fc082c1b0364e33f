"""DexHiL intervention-aware sample weights (DexHiL section III-B1, Eq. 7).

Intervention samples are sparse next to demonstrations, yet they carry the recoveries a
policy lacks. Importance weights ``w(c) = P*(c) / P(c)`` move the effective training
distribution from the empirical one (``P(c) = n_c / N``) to a target with
``P*(intervention)`` (0.5 in the paper). The weights average to one over the dataset, so
the loss keeps its scale and the learning rate means the same with or without them.
"""

from __future__ import annotations

import numpy as np


def intervention_weights(labels: np.ndarray, target: float = 0.5) -> np.ndarray:
    """(N,) float64 weights ``P*(c) / P(c)`` of the boolean intervention ``labels``.

    With no intervention samples (or only those) the target cannot be reached by
    reweighting, and every weight is 1.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target P*(intervention) must be in (0, 1), got {target}")
    labels = np.asarray(labels, dtype=bool)
    if labels.size == 0:
        return np.ones(0)
    p = float(labels.mean())
    if p in (0.0, 1.0):
        return np.ones(labels.shape)
    return np.where(labels, target / p, (1.0 - target) / (1.0 - p))


__all__ = ["intervention_weights"]
