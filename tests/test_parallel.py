"""``handitl.parallel``: results in input order over spawned workers, and CSV rows."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import pytest

from handitl.parallel import map_in_order, write_rows_csv


@pytest.mark.parametrize("workers", [1, 2])
def test_map_in_order_keeps_input_order_and_reports_each_result(workers: int) -> None:
    seen = []
    out = map_in_order(math.sqrt, [16.0, 1.0, 9.0, 4.0], workers, on_result=seen.append)
    assert out == [4.0, 1.0, 3.0, 2.0]
    assert sorted(seen) == [1.0, 2.0, 3.0, 4.0]


@dataclasses.dataclass(frozen=True)
class _Row:
    name: str
    value: float


def test_write_rows_csv_writes_fields_in_order_and_refuses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    write_rows_csv([_Row("a", 1.5), _Row("b", math.nan)], path)
    with path.open() as f:
        rows = list(csv.reader(f))
    assert rows == [["name", "value"], ["a", "1.5"], ["b", "nan"]]
    with pytest.raises(ValueError, match="no rows"):
        write_rows_csv([], tmp_path / "empty.csv")
