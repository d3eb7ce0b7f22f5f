"""`cloudops bench throughput`'s pure parts: the --workers list, CPU seconds read from /proc and CPU per operation.
The bench smoke (tests/bench/test_bench_smoke.py) runs the whole benchmark against real services."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click
import pytest

from bench._cpu import CpuWindow, cpu_seconds, per_operation_ms
from bench._tree_rows import TreeRow, WorkerCounts


def test_worker_counts_are_a_comma_separated_list_of_distinct_counts() -> None:
    assert WorkerCounts().convert("1,2,4", None, None) == (1, 2, 4)
    assert WorkerCounts().convert("3", None, None) == (3,)


@pytest.mark.parametrize("given", ["", "0", "1,x", "2,2", "17", "1,,2"])
def test_a_bad_worker_list_is_refused_with_what_to_give(given: str) -> None:
    with pytest.raises(click.BadParameter, match="1,2,4"):
        WorkerCounts().convert(given, None, None)


def test_cpu_seconds_grow_with_work_and_a_gone_process_reads_as_none() -> None:
    before = cpu_seconds(os.getpid())
    assert before is not None
    window = CpuWindow.open({"me": os.getpid(), "gone": 2**22 + 12345})
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    spent = window.since()
    assert spent["gone"] is None
    assert spent["me"] is not None and 0.2 <= spent["me"] <= 5.0


def test_cpu_per_operation_is_milliseconds_per_operation_and_the_total_skips_the_unreadable() -> None:
    assert per_operation_ms({"a": 1.0, "b": 0.5, "c": None}, 100) == {"a": 10.0, "b": 5.0, "c": None, "total": 15.0}
    assert per_operation_ms({"a": 1.0}, 0) == {"a": None, "total": None}


def test_a_tree_row_is_named_by_its_code_and_its_workers(tmp_path: Path) -> None:
    assert TreeRow("this", tmp_path, 1, "q").name == "this_1_worker"
    assert TreeRow("baseline", tmp_path, 4, "q").name == "baseline_4_workers"
