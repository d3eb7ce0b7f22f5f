"""`cloudops report`: the shadow-run report (per operation, provider, account and application) as HTML, Markdown
or JSON, with a ready / hold / roll back verdict per scope from the guarded rollout's own gates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

__all__ = ["command"]


class BadInput(click.ClickException):
    exit_code = 2


def _rate(text: str | None, name: str) -> float | None:
    """`1%` or `0.01` as a fraction; None when not given."""
    if text is None:
        return None
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise BadInput(f"{name} {text!r}: give a percent such as 1% or a fraction such as 0.01") from None
    if not 0 <= value <= 10:
        raise BadInput(f"{name} {text!r} is out of range: give a percent such as 1% or a fraction such as 0.01")
    return value


@click.command()
@click.option("--since", default="24h", show_default=True, help="How far back to look: a duration (30m, 24h, 7d).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "md", "json"]),
    default="html",
    show_default=True,
    help="html: one self-contained file with SVG charts; md: Markdown; json: every number.",
)
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file (default: standard output).")
@click.option(
    "--db", "db", envvar="CLOUDOPS_DATABASE_URL", show_envvar=True, help="SQLAlchemy URL [default: .cloudops/ SQLite]."
)
@click.option("--alpha", type=float, help="Significance level of the gates' tests [default: 0.05].")
@click.option(
    "--min-samples",
    type=int,
    help="Operations per path, and comparisons, a gate needs (latency: 8 or more) [default: 20].",
)
@click.option("--max-mismatch-rate", help="Highest acceptable shadow mismatch rate, e.g. 1% [default: 1%].")
@click.option("--latency-bound", help="How much worse durable's p99 may be than legacy's, e.g. 20% [default: 20%].")
def command(
    since: str,
    fmt: str,
    out: str | None,
    db: str | None,
    alpha: float | None,
    min_samples: int | None,
    max_mismatch_rate: str | None,
    latency_bound: str | None,
) -> None:
    """Report how the legacy and durable paths compare over the last --since, with a verdict per scope.

    \b
    cloudops report --since 24h --format html --out report.html
    cloudops report --since 7d --format md
    """
    from cloudops.paths import default_database_url
    from cloudops.report import ReportFormat, ReportUnavailable, build_report, render
    from cloudops.report.database import DatabaseUnavailable, open_flag_store
    from rollouts.errors import InvalidPlan
    from rollouts.gates import Thresholds
    from rollouts.model import parse_duration

    try:
        window = parse_duration(since, field="--since")
    except InvalidPlan as exc:
        raise BadInput(exc.message) from exc
    overrides: dict[str, float | int] = {}
    for name, value in (
        ("alpha", alpha),
        ("min_samples", min_samples),
        ("max_mismatch_rate", _rate(max_mismatch_rate, "--max-mismatch-rate")),
        ("latency_bound", _rate(latency_bound, "--latency-bound")),
    ):
        if value is not None:
            overrides[name] = value
    if min_samples is not None:
        overrides["min_latency_samples"] = max(8, min_samples)  # the latency test's approximation needs 8
    try:
        thresholds = Thresholds.from_json(overrides)
    except ValueError as exc:
        raise BadInput(f"invalid threshold: {exc}") from exc
    try:
        store = open_flag_store(db or default_database_url())
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        now = datetime.now(UTC)
        report = build_report(store.engine, since=now - timedelta(seconds=window), until=now, thresholds=thresholds)
    except ReportUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    text = render(report, ReportFormat(fmt))
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from exc
    counts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in report.verdict_counts().items())
    click.echo(f"wrote {out}: {len(report.scopes)} scopes ({counts})", err=True)
