"""What the commands share about reading what users type: the BadInput error and the parameter types of rates,
durations and finite numbers, so that a bad value is refused by click with a message naming the option.

Imports click, bench's FiniteFloat (bench may not import cloudops) and, lazily, the rollouts' duration parser.
It is no command: its name starts with `_`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import click

from bench._support import FiniteFloat

if TYPE_CHECKING:  # click's ParamType is generic in recent releases only; at run time the plain class serves
    _FloatType = click.ParamType[float, Any]
else:
    _FloatType = click.ParamType

__all__ = ["BadInput", "DURATION", "Duration", "FiniteFloat", "RATE", "Rate"]

# 100 years: more than any window a user means, and well inside what `datetime - timedelta` can represent.
_LONGEST_S = 100 * 365 * 86_400.0


class BadInput(click.ClickException):
    """A value the user gave is wrong; exit status 2 like click's own usage errors."""

    exit_code = 2


class Rate(_FloatType):
    """A fraction, typed as a percent (`20%`) or a fraction (`0.2`); a bare number above 1 (`5`) is refused as
    ambiguous, since 5 might mean 5% or 500%. `most` bounds the fraction (1 = 100%)."""

    name = "rate"

    def __init__(self, most: float = 1.0) -> None:
        self.most = most

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        raw = str(value).strip()
        percent = raw.endswith("%")
        try:
            number = float(raw[:-1] if percent else raw)
        except ValueError:
            self.fail(f"{value!r} is not a rate: give a percent such as 20% or a fraction such as 0.2.", param, ctx)
        if not math.isfinite(number) or number < 0:
            self.fail(f"{value!r} is not a rate: give a percent such as 20% or a fraction such as 0.2.", param, ctx)
        if not percent and number > 1:
            self.fail(
                f"{value!r} is ambiguous: write {raw}% for {raw} percent, or a fraction such as {number / 100:g}.",
                param,
                ctx,
            )
        fraction = number / 100 if percent else number
        if fraction > self.most:
            self.fail(f"{value!r} is out of range: give at most {self.most * 100:g}%.", param, ctx)
        return fraction


class Duration(_FloatType):
    """A duration such as `90s`, `10m`, `24h` or `7d`, as seconds; at most 100 years. `positive` refuses zero,
    for the options where a zero means something nobody wants (`db prune --older-than 0d` deletes every row)."""

    name = "duration"

    def __init__(self, positive: bool = False) -> None:
        self.positive = positive

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        from rollouts.errors import InvalidPlan
        from rollouts.model import parse_duration

        try:
            seconds = parse_duration(str(value).strip(), field="duration")
        except InvalidPlan:
            self.fail(
                f"{value!r} is not a duration: use a number with a unit s, m, h or d (30s, 10m, 24h, 7d).", param, ctx
            )
        if self.positive and seconds <= 0:
            self.fail(f"{value!r} is no time at all: give a duration above zero, such as 30d.", param, ctx)
        if seconds > _LONGEST_S:
            self.fail(f"{value!r} is too long: give at most {int(_LONGEST_S // 86_400)}d.", param, ctx)
        return seconds


RATE = Rate()
DURATION = Duration()
