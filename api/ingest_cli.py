"""``flask --app api ingest backfill SYMBOL``: fetch a range of bars into InfluxDB."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from api import deps
from core.errors import TradefleetError
from core.quotes import normalise_symbol
from ingest import pulls
from ingest.providers.base import INTERVALS, get_provider

ingest_cli = AppGroup("ingest", help="Fetch market data into InfluxDB.")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@ingest_cli.command("backfill")
@click.argument("symbol")
@click.option("--interval", type=click.Choice(list(INTERVALS)), default="1d", show_default=True)
@click.option("--start", type=click.DateTime(), help="UTC; default: 365 bars before --end")
@click.option("--end", type=click.DateTime(), help="UTC, exclusive; default: now")
@click.option("--provider", "provider_name", help="default: MARKET_PROVIDER")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def backfill(symbol, interval, start, end, provider_name, quiet) -> None:
    """Fetch SYMBOL's bars from --start to --end into InfluxDB.

    Resumable (a stopped run picks up after its last finished chunk) and
    idempotent (bars already stored are written over, never duplicated).
    """
    settings = deps.settings()
    try:
        symbol = normalise_symbol(symbol)
        store = deps.market_store()
        if store is None:
            raise click.ClickException("INFLUX_URL is not set: there is no store to backfill")
        provider = get_provider(
            provider_name or settings.market_provider, settings, deps.connection()
        )
        end_at = _utc(end) or datetime.now(UTC)
        start_at = _utc(start) or end_at - INTERVALS[interval] * 365
        if start_at >= end_at:
            raise click.ClickException("--start must be before --end")
        with Progress(
            TextColumn(f"{symbol} {interval} from {provider.name}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            disable=quiet,
            transient=False,
        ) as bar:
            task = bar.add_task("backfill", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            written = pulls.backfill(
                provider, store, deps.connection(), symbol, interval, start_at, end_at,
                progress=progress,
            )  # fmt: skip
    except TradefleetError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{symbol} {interval}: {written} bars written from {provider.name} "
               f"({start_at.isoformat()} to {end_at.isoformat()})")  # fmt: skip


__all__ = ["ingest_cli"]
