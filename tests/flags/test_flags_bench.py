"""`cloudops bench flags` runs end to end on a small workload and reports both engines (no timing asserted)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from infra import Process

from cloudops.cli import cli


@pytest.mark.redis
def test_bench_flags_prints_both_engines_ratios_and_propagation(redis_server: Process) -> None:
    args = [
        "bench",
        "flags",
        "--json",
        "--properties",
        "300",
        "--samples",
        "600",
        "--ld-samples",
        "30",
        "--writes",
        "4",
        "--redis-url",
        f"redis://127.0.0.1:{redis_server.port}/0",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    latency = report["latency"]
    for engine in ("ours", "launchdarkly_equivalent_flag", "launchdarkly_one_rule_flag"):
        assert latency[engine]["p99_us"] >= latency[engine]["p50_us"] > 0
    assert set(latency["ratios"]) == {
        "ours_p99_over_ld_equivalent_p99",
        "ours_p99_over_ld_one_rule_p99",
        "ours_p50_over_ld_one_rule_p50",
    }
    assert latency["same_values_as_launchdarkly"] == "30/30"
    assert report["propagation"]["writes"] == 4 and report["propagation"]["seen"] == 4
