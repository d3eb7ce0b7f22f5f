"""`cloudops bench NAME`: run a benchmark under bench/ and print its JSON.

Each module `bench/<name>.py` that exposes `command`, a click command, is a benchmark, found by name like the
top-level commands; the other public modules (`bench.empty_shape`, a worker the latency bench starts) are not.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

import bench

__all__ = ["command"]


class _Benchmarks(click.Group):
    def _modules(self) -> dict[str, str]:
        return {
            info.name.replace("_", "-"): f"bench.{info.name}"
            for info in pkgutil.iter_modules(bench.__path__)
            if not info.name.startswith("_")
        }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in self._modules() if self.get_command(ctx, name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = self._modules().get(cmd_name)
        if module_name is None:
            return None
        found = getattr(importlib.import_module(module_name), "command", None)
        if found is None:
            return None
        assert isinstance(found, click.Command), f"{module_name}.command is not a click command"
        return found


@click.group(cls=_Benchmarks)
def command() -> None:
    """Benchmarks. Each prints JSON: its figures, and ratios against a baseline measured in the same run."""
