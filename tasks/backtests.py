"""Backtests as Celery work on the ``strategies`` queue.

:func:`submit_backtest` (the API's path) checks the request, reads the bars (inline CSV or
the bars store), writes the record and the bars under their Redis keys and sends the work:
one task for a single parameter set, a Celery ``group`` of chunk tasks for a grid. A task
carries the run id and its chunk number only; the record holds the progress and, once the
last chunk is in, the ranking (``strategies.backtest_runs``). No task waits on another.
Each chunk task returns the progress in words, which Flower shows as its result.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import redis
from celery import group

from core.errors import InvalidRequest, ServiceUnavailable
from ingest.store import MarketStore
from strategies.backtest_runs import (
    BacktestBook,
    BacktestRun,
    bars_from_csv,
    bars_from_store,
    run_chunk,
)
from tasks import context, names
from tasks.celery import app

STRATEGIES_QUEUE = "strategies"
HISTORY_OFF = (
    "market history is off (no INFLUX_URL): give the bars inline as `data` (CSV), "
    "or set INFLUX_URL and pull or backfill them"
)


def load_bars(spec: Mapping[str, Any], store: MarketStore | None) -> tuple[Any, dict[str, Any]]:
    """The bars a request names (inline ``data``, or ``symbol``/``interval``/``start``/``end``
    from the store) and the ``source`` to record.

    Raises:
        InvalidRequest: neither or both given, a bad CSV, or no bars stored in the range.
        ServiceUnavailable: bars from the store without ``INFLUX_URL``.
    """
    inline = spec.get("data")
    symbol = spec.get("symbol")
    if bool(inline) == bool(symbol):
        raise InvalidRequest(
            "give the bars either inline (data) or from the store (symbol, interval, start, end)",
            errors={"data": ["give either data or symbol"]},
        )
    if inline:
        return bars_from_csv(inline), {"inline": True}
    missing = [f for f in ("interval", "start", "end") if not spec.get(f)]
    if missing:
        raise InvalidRequest(
            f"bars from the store need {', '.join(missing)}",
            errors={f: ["required with symbol"] for f in missing},
        )
    start, end = spec["start"], spec["end"]
    if start >= end:
        raise InvalidRequest("start must be before end", errors={"start": ["after end"]})
    if store is None:
        raise ServiceUnavailable(HISTORY_OFF)
    rows = store.bars(symbol, spec["interval"], start, end)
    if not rows:
        raise InvalidRequest(
            f"no {spec['interval']} bars of {symbol} stored in [{_iso(start)}, {_iso(end)})",
            errors={"symbol": ["no bars stored in that range"]},
        )
    source = {
        "symbol": symbol,
        "interval": spec["interval"],
        "start": _iso(start),
        "end": _iso(end),
    }
    return bars_from_store(rows), source


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def prepare_backtest(
    connection: redis.Redis, spec: Mapping[str, Any], store: MarketStore | None
) -> tuple[BacktestRun, Any]:
    """A checked run and its bars, unsaved (the CLI runs it in-process).

    Raises:
        InvalidRequest, ServiceUnavailable: as :func:`load_bars`; InvalidBacktest (an
        InvalidRequest) names the bad strategy, parameter, grid value or option.
    """
    if spec.get("params") and spec.get("grid"):
        raise InvalidRequest(
            "give either params or grid", errors={"grid": ["give either params or grid"]}
        )
    bars, source = load_bars(spec, store)
    run = BacktestBook(connection).prepare(
        spec["strategy"],
        bars,
        params=spec.get("params"),
        grid=spec.get("grid"),
        cash=spec.get("cash", 10_000),
        commission=spec.get("commission", 0),
        finalize_trades=spec.get("finalize_trades", False),
        spread=spec.get("spread", 0.0),
        margin=spec.get("margin", 1.0),
        stop_loss=spec.get("stop_loss"),
        take_profit=spec.get("take_profit"),
        rank_by=spec.get("rank_by") or "sharpe",
        source=source,
    )
    return run, bars


def submit_backtest(
    connection: redis.Redis, spec: Mapping[str, Any], store: MarketStore | None
) -> BacktestRun:
    """Check, save and send a backtest; returns its queued record (see :func:`prepare_backtest`)."""
    run, bars = prepare_backtest(connection, spec, store)
    BacktestBook(connection).save(run, bars)
    signatures = [
        app.signature(names.RUN_BACKTEST_CHUNK, args=[run.id, index], queue=STRATEGIES_QUEUE)
        for index in range(run.chunks)
    ]
    if len(signatures) == 1:
        signatures[0].apply_async()
    else:
        group(signatures).apply_async()
    return run


@app.task(name=names.RUN_BACKTEST_CHUNK, bind=True, acks_late=True, ignore_result=True)
def run_backtest_chunk(self, backtest_id: str, index: int) -> str:
    """Run one chunk of a backtest (the whole run when it has one set); a redelivered
    chunk is recorded once.

    Returns the run's progress in words. No result is stored, but the worker sends it with
    the task's ``task-succeeded`` event, so Flower's task list shows how far a grid is.
    """
    book = BacktestBook(context.connection())
    run_chunk(book, backtest_id, index, worker=self.request.hostname or "")
    return progress_text(book.get(backtest_id), index)


def progress_text(run: BacktestRun, index: int) -> str:
    """``backtest <id> chunk 3 of 10: 60 of 190 sets done (31.6%), running``."""
    return (
        f"backtest {run.id} chunk {index + 1} of {run.chunks}: {run.done} of {run.total} "
        f"sets done ({run.progress_pct:g}%), {run.state.value}"
    )
