"""Backtest runs kept in Redis: the record a client polls, the bars its workers read, the
chunks of a grid and their ranking.

A run is one parameter set (``kind`` ``single``: one chunk, full trades and equity) or a
grid (``kind`` ``grid``: the combinations cut into chunks of ``chunk_size``; each chunk is
one worker task, and the task that records the last chunk ranks them all and runs the best
set once more for its trades and equity). The bars go to workers by reference: they are
written once, as JSON arrays, under :func:`core.keys.backtest_bars`, expiring after
``BARS_TTL_SECONDS``; tasks carry only the run id and a chunk number.

Statistics are those of :mod:`strategies._stats`, with NaN written as ``null``. A grid is
ranked by ``rank_by`` (:mod:`strategies.ranking`); the bars travel as
:mod:`strategies.bar_codecs` writes them; the record itself is
:class:`strategies.backtest_record.BacktestRun`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import redis

from core import keys
from core.errors import NotFound
from core.models import to_iso, utcnow
from strategies.backtest import BacktestResult, run_backtest
from strategies.backtest_record import CHUNK_SIZE, BacktestRun, BacktestState, run_options
from strategies.bar_codecs import (
    CSV_COLUMNS,
    bars_from_csv,
    bars_from_json,
    bars_from_store,
    bars_to_json,
)
from strategies.bars import Bars
from strategies.errors import InvalidBacktest
from strategies.grid import chunks, grid_combinations, run_grid
from strategies.ranking import RANK_METRICS, check_rank_by, plain, rank
from strategies.registry import get_strategy

# bars_from_csv, bars_from_store, plain, rank, RANK_METRICS and the record (BacktestRun,
# BacktestState, run_options) keep their old import path (tasks, api and tests use it).
__all__ = [
    "BARS_TTL_SECONDS",
    "CHUNK_SIZE",
    "CSV_COLUMNS",
    "RANKED_KEPT",
    "RANK_METRICS",
    "RECORD_TTL_SECONDS",
    "BacktestBook",
    "BacktestRun",
    "BacktestState",
    "bars_from_csv",
    "bars_from_store",
    "check_rank_by",
    "chunk_sets",
    "plain",
    "rank",
    "run_chunk",
    "run_options",
]

BARS_TTL_SECONDS = 24 * 3600
RECORD_TTL_SECONDS = 30 * 86400
RANKED_KEPT = 100  # ranked grid results shown on the record

# Store a chunk once (a redelivered task finds it there) and count it; returns
# [chunks done, combinations done], or [-1, -1] when the chunk was stored already.
_RECORD_CHUNK = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return {-1, -1} end
local chunks = redis.call('HINCRBY', KEYS[1], 'chunks_done', 1)
local done = redis.call('HINCRBY', KEYS[1], 'done', tonumber(ARGV[3]))
return {chunks, done}
"""


# The book -----------------------------------------------------------------------


class BacktestBook:
    """Backtest records, their bars and their chunks in Redis."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._record_chunk = connection.register_script(_RECORD_CHUNK)

    def prepare(
        self,
        strategy: str,
        bars: Bars,
        *,
        params: Mapping[str, Any] | None = None,
        grid: Mapping[str, Sequence[Any]] | None = None,
        cash: float = 10_000,
        commission: float = 0.0,
        finalize_trades: bool = False,
        spread: float = 0.0,
        margin: float = 1.0,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        rank_by: str = "sharpe",
        source: Mapping[str, Any] | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> BacktestRun:
        """A checked, unsaved run (see :meth:`save`).

        Raises:
            InvalidBacktest: unknown strategy, bad parameters, grid, options or metric;
                ``errors`` names the field (``params.fast``, ``grid.slow``, ``cash``...).
        """
        from strategies.backtest import check_options

        cls = get_strategy(strategy)
        cash_f, comm, spread_f, margin_f, stop_f, take_f = check_options(
            cash, commission, spread, margin, stop_loss, take_profit
        )
        check_rank_by(rank_by)
        if grid:
            try:
                sets = grid_combinations(cls, grid)
            except InvalidBacktest as exc:
                raise InvalidBacktest(exc.message, errors={"grid": exc.errors}) from None
            if not sets:
                raise InvalidBacktest(
                    f"grid: no combination passes {cls.name}'s constraint",
                    errors={"grid": "no valid combination"},
                )
            kind, total, checked = "grid", len(sets), {}
        else:
            try:
                checked = cls.check_params(params or {})
            except InvalidBacktest as exc:
                raise InvalidBacktest(exc.message, errors={"params": exc.errors}) from None
            kind, total = "single", 1
        return BacktestRun(
            id=uuid.uuid4().hex[:16],
            strategy=cls.name,
            kind=kind,
            params=checked,
            grid={k: [cls.params[k].check(k, x) for x in v] for k, v in (grid or {}).items()},
            cash=cash_f,
            commission=comm,
            finalize_trades=bool(finalize_trades),
            spread=spread_f,
            margin=margin_f,
            stop_loss=stop_f,
            take_profit=take_f,
            rank_by=rank_by,
            chunk_size=chunk_size,
            source=dict(source or {}),
            bars=len(bars),
            total=total,
            chunks=-(-total // chunk_size) if kind == "grid" else 1,
        )

    def save(self, run: BacktestRun, bars: Bars) -> BacktestRun:
        """Write the record and its bars (expiring) in one step."""
        with self.connection.pipeline() as pipe:
            pipe.hset(keys.backtest(run.id), mapping=run.to_hash())
            pipe.expire(keys.backtest(run.id), RECORD_TTL_SECONDS)
            pipe.set(keys.backtest_bars(run.id), bars_to_json(bars), ex=BARS_TTL_SECONDS)
            pipe.execute()
        return run

    def get(self, backtest_id: str) -> BacktestRun:
        """Raises: NotFound."""
        raw = self.connection.hgetall(keys.backtest(backtest_id))
        if not raw:
            raise NotFound(f"backtest {backtest_id!r} does not exist (or has expired)")
        return BacktestRun.from_hash(raw)

    def equity(self, backtest_id: str) -> tuple[np.ndarray, np.ndarray | None]:
        """``(equity, time)`` of a finished run (the best set's, for a grid).

        Raises:
            NotFound: no such run, or it has not finished.
        """
        raw = self.connection.hget(keys.backtest(backtest_id), "equity")
        if not raw:
            self.get(backtest_id)
            raise NotFound(f"backtest {backtest_id!r} has no equity curve yet (not finished)")
        data = json.loads(raw)
        equity = np.array([np.nan if v is None else v for v in data["equity"]], dtype=float)
        time = data.get("time")
        return equity, None if time is None else np.array(time, dtype=np.int64).astype(
            "datetime64[ns]"
        )

    def bars(self, backtest_id: str) -> Bars:
        """Raises: InvalidBacktest (the bars expired before the run)."""
        raw = self.connection.get(keys.backtest_bars(backtest_id))
        if raw is None:
            raise InvalidBacktest(
                f"backtest {backtest_id}: its bars expired before it ran; submit it again"
            )
        return bars_from_json(raw)

    def start(self, run: BacktestRun) -> None:
        fields = {"state": BacktestState.RUNNING.value}
        if not run.started_at:
            fields["started_at"] = to_iso(utcnow())
        self.connection.hset(keys.backtest(run.id), mapping=fields)

    def fail(self, backtest_id: str, message: str) -> None:
        self.connection.hset(
            keys.backtest(backtest_id),
            mapping={
                "state": BacktestState.FAILED.value,
                "error": message,
                "finished_at": to_iso(utcnow()),
            },
        )
        self.connection.delete(keys.backtest_bars(backtest_id))

    def finish(self, run: BacktestRun, result: BacktestResult, **extra: Any) -> None:
        """Write ``result`` (stats, trades, equity) and mark the run succeeded."""
        time = None if result.time is None else result.time.astype(np.int64).tolist()
        fields = {
            "stats": json.dumps(plain(result.stats)),
            "trades": json.dumps([plain(t.to_dict()) for t in result.trades]),
            "open_trade": json.dumps(
                None if result.open_trade is None else plain(result.open_trade.to_dict())
            ),
            "equity": json.dumps({"equity": plain(result.equity.tolist()), "time": time}),
            "state": BacktestState.SUCCEEDED.value,
            "finished_at": to_iso(utcnow()),
            **{k: json.dumps(plain(v)) for k, v in extra.items()},
        }
        if run.kind == "single":
            fields["done"] = "1"
            fields["chunks_done"] = "1"
        with self.connection.pipeline() as pipe:
            pipe.hset(keys.backtest(run.id), mapping=fields)
            pipe.delete(keys.backtest_bars(run.id), keys.backtest_chunks(run.id))
            pipe.execute()

    def record_chunk(
        self, run: BacktestRun, index: int, results: list[tuple[dict, dict]], worker: str
    ) -> bool:
        """Keep chunk ``index``'s results (once); True when it was the last chunk."""
        payload = json.dumps({"worker": worker, "results": plain([list(r) for r in results])})
        chunks_done, _done = self._record_chunk(
            keys=[keys.backtest(run.id), keys.backtest_chunks(run.id)],
            args=[str(index), payload, len(results)],
        )
        return int(chunks_done) == run.chunks

    def chunk_results(self, run: BacktestRun) -> tuple[list[tuple[dict, dict]], list[str]]:
        """Every chunk's ``(params, stats)`` in grid order, and the workers that ran them."""
        raw = self.connection.hgetall(keys.backtest_chunks(run.id))
        results, workers = [], []
        for index in sorted(raw, key=int):
            chunk = json.loads(raw[index])
            results += [(p, s) for p, s in chunk["results"]]
            workers.append(chunk["worker"])
        return results, sorted(set(workers))


def chunk_sets(run: BacktestRun, index: int) -> list[dict[str, Any]]:
    """The parameter sets of chunk ``index`` of a grid run (the same on every worker)."""
    sets = grid_combinations(get_strategy(run.strategy), run.grid)
    return list(chunks(sets, run.chunk_size))[index]


def run_chunk(book: BacktestBook, backtest_id: str, index: int, *, worker: str = "") -> None:
    """Run chunk ``index`` of a backtest; the last chunk of a grid ranks the grid and runs
    its best set for trades and equity. A chunk of a finished run, or one already
    recorded, does nothing. Bad input or a broken strategy marks the run failed.

    Raises:
        NotFound: no such run.
    """
    from strategies.errors import StrategyError

    run = book.get(backtest_id)
    if run.state in (BacktestState.SUCCEEDED, BacktestState.FAILED):
        return
    book.start(run)
    try:
        bars = book.bars(run.id)
        cls = get_strategy(run.strategy)
        options = run_options(run)
        if run.kind == "single":
            result = run_backtest(bars, cls, run.params, **options)
            book.finish(run, result, workers=[worker], best_params=None)
            return
        results = run_grid(bars, cls, param_sets=chunk_sets(run, index), **options)
        if not book.record_chunk(run, index, results, worker):
            return
        everything, workers = book.chunk_results(run)
        ranked = rank(everything, run.rank_by)
        best = ranked[0]["params"]
        result = run_backtest(bars, cls, best, **options)
        book.finish(run, result, best_params=best, ranked=ranked[:RANKED_KEPT], workers=workers)
    except (InvalidBacktest, StrategyError) as exc:
        book.fail(run.id, exc.message)
