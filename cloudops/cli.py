"""The `cloudops` command. Each subcommand lives in its own module under `cloudops/commands/`.

A command module exposes `command`, a click command or group; it is found by name, so adding a command never
means editing this file. Modules import their heavy dependencies inside the command body, keeping `--help` fast.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import click

import cloudops.commands

__all__ = ["main", "cli"]

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


class _DiscoveredCommands(click.Group):
    """A group whose subcommands are the `command` objects of the modules in `cloudops.commands`."""

    def _modules(self) -> dict[str, str]:
        names = {}
        for info in pkgutil.iter_modules(cloudops.commands.__path__):
            if not info.name.startswith("_"):
                names[info.name.replace("_", "-")] = f"cloudops.commands.{info.name}"
        return names

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._modules())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = self._modules().get(cmd_name)
        if module_name is None:
            return None
        command = importlib.import_module(module_name).command
        assert isinstance(command, click.Command), f"{module_name}.command is not a click command"
        return command


@click.group(cls=_DiscoveredCommands, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="cloudops-toolkit")
def cli() -> None:
    """Move cloud operations from a Spinnaker-style polling path to Temporal, one flagged scope at a time.

    Start with `cloudops demo` (or `make demo`): it runs the whole stack on embedded defaults.
    """


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="cloudops")
