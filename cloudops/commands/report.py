"""`cloudops report`: the shadow-run report as HTML, Markdown or JSON: a ready / hold / roll back verdict per flag
scope in use (the scopes stage properties and rollouts name) from the guarded rollout's own gates, with the
breakdown per operation, provider, account and application under each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from cloudops.commands._input import DURATION, RATE, BadInput, FiniteFloat, Rate

__all__ = ["command"]


@click.command()
@click.option(
    "--since", type=DURATION, default="24h", show_default=True, help="How far back to look: a duration (30m, 24h, 7d)."
)
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
@click.option(
    "--alpha",
    type=FiniteFloat(0, 0.5, min_open=True, max_open=True),
    help="Significance level of the gates' tests [default: 0.05].",
)
@click.option(
    "--min-samples",
    type=click.IntRange(min=1),
    help="Operations per path, and comparisons, a gate needs (latency: 8 or more) [default: 20].",
)
@click.option("--max-mismatch-rate", type=RATE, help="Highest acceptable shadow mismatch rate, e.g. 1% [default: 1%].")
@click.option(
    "--latency-bound",
    type=Rate(most=10),
    help="How much slower durable may be: its typical latency (sequential gates) or p99 (fixed_horizon): 20% or 0.2 "
    "[default: 20%].",
)
@click.option(
    "--gates",
    type=click.Choice(["sequential", "fixed_horizon"]),
    help="Canary tests, as a rollout's: sequential or fixed_horizon [default: sequential].",
)
@click.option(
    "--failure-margin",
    type=Rate(most=0.99),
    help="How much higher durable's failure rate may be and still be ready, in points: 2% or 0.02 [default: 2%].",
)
def command(
    since: float,
    fmt: str,
    out: str | None,
    db: str | None,
    alpha: float | None,
    min_samples: int | None,
    max_mismatch_rate: float | None,
    latency_bound: float | None,
    gates: str | None,
    failure_margin: float | None,
) -> None:
    """Report how the legacy and durable paths compare over the last --since, with a verdict per scope.

    \b
    cloudops report --since 24h --format html --out report.html
    cloudops report --since 7d --format md
    """
    from cloudops.paths import default_database_url
    from cloudops.report import ReportFormat, ReportUnavailable, build_report, render
    from cloudops.report.database import DatabaseUnavailable, open_flag_store
    from flags import STAGE_KEY, FlagError
    from rollouts.gates import Thresholds

    overrides: dict[str, float | int | str] = {}
    for name, value in (
        ("alpha", alpha),
        ("min_samples", min_samples),
        ("max_mismatch_rate", max_mismatch_rate),
        ("latency_bound", latency_bound),
        ("family", gates),
        ("failure_margin", failure_margin),
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
        report = build_report(
            store.engine,
            since=now - timedelta(seconds=since),
            until=now,
            thresholds=thresholds,
            properties=store.list_properties(STAGE_KEY),
        )
    except (ReportUnavailable, FlagError) as exc:
        raise click.ClickException(getattr(exc, "message", None) or str(exc)) from exc
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

    def counts(found: dict[str, int]) -> str:
        return ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in found.items())

    click.echo(
        f"wrote {out}: {len(report.flag_scopes)} flag scopes ({counts(report.verdict_counts())}); "
        f"{len(report.scopes)} breakdown rows ({counts(report.breakdown_counts())})",
        err=True,
    )
