"""``flask --app api backtest STRATEGY``: a backtest in this process (no worker needed),
with a progress bar over the grid's chunks and a table of the statistics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from api import charts, deps
from core.errors import TradefleetError
from core.quotes import normalise_symbol
from ingest.providers.base import INTERVALS
from strategies.backtest import run_backtest
from strategies.backtest_runs import RANK_METRICS, chunk_sets, plain, rank, run_options
from strategies.grid import run_grid
from strategies.registry import get_strategy
from tasks.backtests import prepare_backtest

SHOWN = (
    "trades",
    "equity_final",
    "return_pct",
    "buy_hold_return_pct",
    "max_drawdown_pct",
    "win_rate_pct",
    "sharpe",
    "sortino",
    "profit_factor",
    "exposure_time_pct",
    "commissions",
)


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_param(text: str) -> tuple[str, object]:
    """``k=v`` (``v`` a number, or ``true``/``false``)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--param")
    return name.strip(), _number(value.strip())


def parse_grid(text: str) -> tuple[str, list]:
    """``k=a:b:step`` (``a`` to ``b`` inclusive) or ``k=a,b,c``."""
    name, sep, spec = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r} is not NAME=A:B:STEP", param_hint="--grid")
    if ":" in spec:
        parts = [_number(p) for p in spec.split(":")]
        if len(parts) not in (2, 3) or not all(isinstance(p, int | float) for p in parts):
            raise click.BadParameter(f"{text!r}: want NAME=A:B[:STEP]", param_hint="--grid")
        start, stop = parts[0], parts[1]
        step = parts[2] if len(parts) == 3 else 1
        if step <= 0 or stop < start:
            raise click.BadParameter(f"{text!r}: want A <= B and STEP > 0", param_hint="--grid")
        values, k = [], 0
        while start + k * step <= stop + 1e-9:
            value = start + k * step
            values.append(round(value, 10) if isinstance(value, float) else value)
            k += 1
        return name.strip(), values
    return name.strip(), [_number(v.strip()) for v in spec.split(",") if v.strip()]


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def _table(title: str, stats: dict) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("stat")
    table.add_column("value", justify="right")
    for key in SHOWN:
        value = plain(stats.get(key))
        table.add_row(key, "-" if value is None else f"{value:,.4g}" if isinstance(value, float)
                      else str(value))  # fmt: skip
    return table


@click.command("backtest")
@click.argument("strategy")
@click.option("--symbol", help="bars from the store (with --interval, --start, --end)")
@click.option("--interval", type=click.Choice(list(INTERVALS)), default="1d", show_default=True)
@click.option("--start", type=click.DateTime(), help="UTC; default: 365 bars before --end")
@click.option("--end", type=click.DateTime(), help="UTC, exclusive; default: now")
@click.option("--data", "data_file", type=click.Path(exists=True, dir_okay=False),
              help="CSV file time,open,high,low,close,volume instead of the store")  # fmt: skip
@click.option("--param", "params", multiple=True, help="NAME=VALUE (repeatable)")
@click.option("--grid", "grid", multiple=True, help="NAME=A:B:STEP or NAME=A,B,C (repeatable)")
@click.option("--cash", type=float, default=10_000, show_default=True)
@click.option("--commission", type=float, default=0.0, show_default=True)
@click.option(
    "--spread",
    type=float,
    default=0.0,
    show_default=True,
    help="bid-ask spread, a fraction of the price paid at entry (0.0002 = 0.02 %)",
)
@click.option(
    "--margin",
    type=float,
    default=1.0,
    show_default=True,
    help="margin ratio, 1/leverage (0.02 = 50:1; 1 = no leverage)",
)
@click.option(
    "--stop-loss",
    type=float,
    default=None,
    help="close a trade this fraction against the close that decided it (0.05 = 5 %); "
    "default: none",
)
@click.option(
    "--take-profit",
    type=float,
    default=None,
    help="close a trade this fraction in its favour (0.1 = 10 %); default: none",
)
@click.option("--finalize-trades", is_flag=True, help="close and count the trade open at the end")
@click.option("--rank-by", type=click.Choice(RANK_METRICS), default="sharpe", show_default=True)
@click.option("--top", type=int, default=10, show_default=True, help="grid rows shown")
@click.option("--chart", type=click.Path(dir_okay=False), help="write the equity chart (PNG)")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_appcontext
def backtest_command(
    strategy, symbol, interval, start, end, data_file, params, grid, cash, commission,
    spread, margin, stop_loss, take_profit, finalize_trades, rank_by, top, chart, quiet,
) -> None:  # fmt: skip
    """Backtest STRATEGY here and now (no worker) and print its statistics."""
    end_at = _utc(end) or datetime.now(UTC)
    spec = {
        "strategy": strategy,
        "params": dict(parse_param(p) for p in params),
        "grid": dict(parse_grid(g) for g in grid),
        "cash": cash,
        "commission": commission,
        "spread": spread,
        "margin": margin,
        "stop_loss": stop_loss,
        "take_profit": take_profit,
        "finalize_trades": finalize_trades,
        "rank_by": rank_by,
    }
    try:
        if data_file:
            spec["data"] = Path(data_file).read_text()
            store = None
        else:
            if not symbol:
                raise click.UsageError("give --symbol (bars from the store) or --data FILE")
            spec.update(
                symbol=normalise_symbol(symbol),
                interval=interval,
                start=_utc(start) or end_at - INTERVALS[interval] * 365,
                end=end_at,
            )
            store = deps.market_store()
        run, bars = prepare_backtest(deps.connection(), spec, store)
        cls = get_strategy(run.strategy)
        options = run_options(run)
        console = Console()
        with Progress(
            TextColumn(f"{run.strategy} on {run.bars} bars"),
            BarColumn(),
            MofNCompleteColumn(),
            disable=quiet,
            console=console,
        ) as bar:
            task = bar.add_task("backtest", total=run.total)
            if run.kind == "grid":
                results = []
                for index in range(run.chunks):
                    results += run_grid(bars, cls, param_sets=chunk_sets(run, index), **options)
                    bar.update(task, completed=len(results))
                ranked = rank(results, run.rank_by)
                best = ranked[0]["params"]
            else:
                ranked, best = [], run.params
            result = run_backtest(bars, cls, best, **options)
            bar.update(task, completed=run.total)
    except TradefleetError as exc:
        detail = f" ({exc.errors})" if exc.errors else ""
        raise click.ClickException(exc.message + detail) from None
    console.print(_table(f"{run.strategy} {best}", result.stats))
    if ranked:
        table = Table(title=f"best {min(top, len(ranked))} of {len(ranked)} by {run.rank_by}")
        names = list(ranked[0]["params"])
        for column in [*names, run.rank_by, "return_pct", "trades"]:
            table.add_column(column, justify="right")
        for row in ranked[:top]:
            values = [row["params"][n] for n in names]
            values += [row["stats"].get(k) for k in (run.rank_by, "return_pct", "trades")]
            table.add_row(*("-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)
                            for v in values))  # fmt: skip
        console.print(table)
    if chart:
        Path(chart).write_bytes(charts.equity_png(result.equity, result.time,
                                                  title=f"{run.strategy} {best}"))  # fmt: skip
        click.echo(f"chart written to {chart}", err=True)
