"""Every `cloudops` command, fed the values users get wrong, answers with one line naming the option (issue 14).

The tree comes from click itself, so a new command or option is covered the day it is added. Bad values come
from each parameter's click type (paths, files, choices, ranges, FiniteFloat, rates, durations, plain numbers),
plus a table of the plain-string options a command parses itself (JSON, @file, scopes, durations). Commands run
in-process under CliRunner, with every service pointed at a closed loopback port, so a value that slipped
through would fail on the service, not hang, and the test would see a message that does not name the option.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cloudops.cli import cli
from cloudops.commands._input import Duration, Rate

CLOSED = "127.0.0.1:9"  # the discard port: nothing listens, a connection is refused at once
ENV = {
    "CLOUDOPS_DATABASE_URL": f"postgresql+psycopg://{CLOSED}/cloudops?connect_timeout=2",
    "CLOUDOPS_REDIS_URL": f"redis://{CLOSED}/0",
    "CLOUDOPS_TEMPORAL_ADDRESS": CLOSED,
    "CLOUDOPS_LEGACY_URL": f"http://{CLOSED}",
    "CLOUDOPS_ACTOR": "tester",
}
HUGE = "1" + "0" * 30
GOOD = {"--context": "{}", "--scope": "application=api", "--older-than": "30d"}  # required values a command parses

# Plain-string options the command parses itself: (command path, option) -> bad values.
PARSED_STRINGS: dict[tuple[str, str], list[str]] = {
    ("op run", "--context"): ["@{missing}", "@{directory}", "@{not_utf8}", "{{not json", "[1, 2]"],
    ("op start", "--context"): ["@{missing}", "@{directory}", "@{not_utf8}", "{{not json"],
    ("op route", "--context"): ["@{missing}", "@{directory}", "@{not_utf8}", "{{not json", "[1, 2]"],
    ("op route", "--config"): ["{missing}", "{directory}", "{not_utf8}", "{bad_yaml}"],
    ("op poll", "--config"): ["{missing}", "{bad_yaml}"],
    ("rollout start", "--scope"): ["application", "=api", "application=api,application=web"],
    ("rollout start", "--steps"): ["50,5", "abc", "0", "101", "-5"],
    ("flags set", "--expires"): ["tomorrow", "99999999d"],
    ("flags explain", "--attribute"): ["novalue"],
    ("sim-cloud", "--fault-mix"): ["throttle", "throttle=x", "nosuchkind=1", "throttle=-1"],
}


@dataclass(frozen=True)
class Case:
    path: str
    param: str
    value: str

    def __str__(self) -> str:
        return f"{self.path} {self.param}={self.value!r}"


def _leaves(group: click.Group, ctx: click.Context, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        path = f"{prefix} {name}".strip()
        if isinstance(command, click.Group):
            yield from _leaves(command, ctx, path)
        else:
            yield path, command


def _number_values(kind: click.ParamType) -> list[str]:
    integer = isinstance(kind, click.types.IntParamType)
    values = ["abc"]
    if not integer:
        values += ["nan", "inf", "-inf"]
    if isinstance(kind, click.types._NumberRangeBase):
        if kind.min is not None:
            low = kind.min if kind.min_open else kind.min - (1 if integer else 0.001)
            values.append(str(low if not integer or isinstance(low, int) else int(low)))
        if kind.max is not None:
            values += [str(kind.max + 1 if integer else kind.max * 2 + 1), HUGE]
    return values


def _values_for(param: click.Parameter) -> list[str]:
    """The values a user gets wrong for this parameter, derived from its click type."""
    kind = param.type
    if isinstance(param, click.Option) and param.is_flag:
        return []
    if isinstance(kind, click.Choice):
        return ["no-such-choice"]
    if isinstance(kind, Rate):
        return ["5", "lots", "nan", "-1%", f"{kind.most * 100 + 1:g}%"]
    if isinstance(kind, Duration):
        return ["soon", "-5m", "99999999d", "nan", *(["0d"] if kind.positive else [])]
    if isinstance(kind, click.types.IntParamType | click.types.FloatParamType):
        return _number_values(kind)
    if isinstance(kind, click.File):
        return ["{missing}", "{directory}"] + (["{not_utf8}", "{bad_yaml}"] if "r" in kind.mode else [])
    if isinstance(kind, click.Path):
        wrong = []
        if kind.exists:
            wrong.append("{missing}")
        if not kind.dir_okay:
            wrong.append("{directory}")
        if not kind.file_okay:
            wrong.append("{a_file}")
        return wrong
    return []


def _cases() -> list[Case]:
    ctx = click.Context(cli)
    cases = []
    for path, command in _leaves(cli, ctx):
        for param in command.params:
            if param.name == "help":
                continue
            name = param.opts[0]
            values = _values_for(param) + PARSED_STRINGS.get((path, name), [])
            cases += [Case(path, name, value) for value in values]
    return cases


CASES = _cases()


def _good_args(command: click.Command, skip: str) -> list[str]:
    """Plausible values for the command's required parameters other than `skip`: arguments first."""
    args: list[str] = []
    for param in command.params:
        if not param.required or param.opts[0] == skip:
            continue
        kind = param.type
        value = kind.choices[0] if isinstance(kind, click.Choice) else "1" if kind.name == "integer" else "x"
        value = GOOD.get(param.opts[0], value)
        args += [str(value)] if isinstance(param, click.Argument) else [param.opts[0], str(value)]
    return args


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad-input")
    (root / "not-utf8.json").write_bytes(b'{"a": "\xff\xfe"}')
    (root / "bad.yaml").write_text("a: [unclosed\n  b: {\n")
    (root / "a-file.txt").write_text("x")
    (root / "a-directory.json").mkdir()
    return {
        "missing": str(root / "missing.json"),
        "directory": str(root / "a-directory.json"),
        "not_utf8": str(root / "not-utf8.json"),
        "bad_yaml": str(root / "bad.yaml"),
        "a_file": str(root / "a-file.txt"),
    }


def _names(command: click.Command, option: str) -> list[str]:
    """How a message may name the parameter: any of its flags, or an argument's name as click shows it."""
    param = next(p for p in command.params if p.opts[0] == option)
    if isinstance(param, click.Argument):
        shown = [param.human_readable_name, (param.name or "").upper(), param.name or ""]
        if isinstance(param.type, click.Choice):  # click shows a choice argument as its choices, {on|off}
            shown.append("{" + "|".join(map(str, param.type.choices)) + "}")
        return shown
    return list(param.opts)


def test_the_tree_has_every_kind_of_bad_value() -> None:
    kinds = {value.split("}")[0] for case in CASES for value in [case.value] if value.startswith(("{", "@{"))}
    assert {"{missing", "{directory", "{not_utf8", "{bad_yaml", "@{missing"} <= kinds
    assert {"nan", "inf", "abc", "no-such-choice", "5", "99999999d"} <= {c.value for c in CASES}
    assert len({c.path for c in CASES}) >= 25, "the walk should reach nearly every command"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input_is_one_line_naming_the_option(
    case: Case, files: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may land in the repository's .cloudops/
    ctx = click.Context(cli)
    command = dict(_leaves(cli, ctx))[case.path]
    value = case.value.format(**files)
    param = next(p for p in command.params if p.opts[0] == case.param)
    bad = [value] if isinstance(param, click.Argument) else [case.param, value]
    args = [*case.path.split(), *_good_args(command, case.param), *bad]
    result = CliRunner().invoke(cli, args, env=ENV, catch_exceptions=True)
    output = result.output
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0, f"accepted: {output}"
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error:"), output
    assert any(name in lines[-1] for name in _names(command, case.param)), f"does not name {case.param}: {lines[-1]}"


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "args",
    [["db", "current"], ["db", "prune", "--older-than", "30d"], ["flags", "list"], ["rollout", "list"], ["report"]],
    ids=" ".join,
)
def test_an_unreachable_database_is_one_line_saying_where_it_was_looked_for(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args, env=ENV)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert lines[-1].startswith("Error:") and CLOSED in lines[-1], lines[-1]
