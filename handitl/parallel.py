"""Running independent jobs (rollouts, trials) over worker processes, and writing their
result rows.

Jobs are MuJoCo episodes: processes are *spawned* (MuJoCo and torch state must not be
forked), one BLAS thread each (the jobs are the parallel unit), and results come back in
the order of the inputs whatever order the workers finish in, so a run's output does not
depend on its worker count.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import multiprocessing
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_in_order(job: Callable[[T], R], items: Sequence[T], workers: int = 1,
                 on_result: Callable[[R], None] | None = None) -> list[R]:  # fmt: skip
    """``[job(x) for x in items]`` over ``workers`` spawned processes (in this process for
    one); ``on_result`` sees each result as it arrives (e.g. a progress bar). ``job`` must
    be picklable (a module-level function or a ``functools.partial`` of one)."""
    if workers <= 1 or len(items) <= 1:
        results = []
        for item in items:
            results.append(job(item))
            if on_result is not None:
                on_result(results[-1])
        return results
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # inherited by the workers
    out: dict[int, R] = {}
    with multiprocessing.get_context("spawn").Pool(min(workers, len(items))) as pool:
        indexed = functools.partial(_indexed, job)
        for k, result in pool.imap_unordered(indexed, list(enumerate(items)), chunksize=1):
            out[k] = result
            if on_result is not None:
                on_result(result)
    return [out[k] for k in range(len(items))]


def _indexed(job: Callable[[Any], Any], item: tuple[int, Any]) -> tuple[int, Any]:
    return item[0], job(item[1])


def write_rows_csv(rows: Sequence[Any], path: Path) -> None:
    """Dataclass rows as CSV, one column per field (in field order), header first."""
    if not rows:
        raise ValueError(f"no rows to write to {path}")
    columns = [f.name for f in dataclasses.fields(rows[0])]
    with Path(path).open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([getattr(r, c) for c in columns])
