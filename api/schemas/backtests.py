"""Backtest requests and records (``api.resources.backtests``)."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma

from api.schemas.common import StrictSchema, Symbol
from ingest.providers.base import INTERVALS
from strategies.backtest_runs import RANK_METRICS

MAX_INLINE_BYTES = 4 * 1024 * 1024


class BacktestCreateSchema(StrictSchema):
    """One parameter set (``params``) or a grid (``grid``: a list of values per parameter),
    on bars given inline (``data``) or read from the bars store (``symbol``...)."""

    strategy = ma.fields.String(required=True, metadata={"example": "sma_cross"})
    params = ma.fields.Dict(
        keys=ma.fields.String(),
        load_default=dict,
        metadata={"example": {"fast": 10, "slow": 20}, "description": "missing ones: defaults"},
    )
    grid = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.Raw(), validate=ma.validate.Length(min=1, max=1000)),
        load_default=dict,
        metadata={"example": {"fast": [5, 10, 15], "slow": [20, 30, 40]}},
    )
    cash = ma.fields.Float(
        load_default=10_000.0,
        validate=ma.validate.Range(
            min=0, min_inclusive=False, max=1e12, error="must be above 0 and at most 1e12"
        ),
    )
    commission = ma.fields.Float(
        load_default=0.0,
        validate=ma.validate.Range(min=-0.1, max=0.1, max_inclusive=False),
        metadata={"description": "relative, per side (0.002 is 0.2 %)"},
    )
    spread = ma.fields.Float(
        load_default=0.0,
        validate=ma.validate.Range(
            min=0, max=0.1, max_inclusive=False, error="must be at least 0 and below 0.1"
        ),
        metadata={
            "description": "bid-ask spread, a fraction of the price: a long enters that much "
            "above the open, a short below (0.0002 is 0.02 %); exits at the open"
        },
    )
    margin = ma.fields.Float(
        load_default=1.0,
        validate=ma.validate.Range(
            min=0, min_inclusive=False, max=1, error="must be above 0 and at most 1"
        ),
        metadata={
            "description": "margin ratio, 1 / leverage: entries are sized on cash / margin "
            "(0.02 is 50:1; 1, no leverage); the run stops when equity reaches 0"
        },
    )
    stop_loss = ma.fields.Float(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(
            min=0, min_inclusive=False, max=1, max_inclusive=False,
            error="must be above 0 and below 1",
        ),
        metadata={
            "description": "stop-loss, a fraction of the close that decided the entry: a long "
            "leaves 5 % below it with 0.05 (a short above), at the stop or a worse open; "
            "null or absent: none. After a stop exit the position stays flat until the "
            "strategy's target changes"
        },
    )  # fmt: skip
    take_profit = ma.fields.Float(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(
            min=0, min_inclusive=False, max=1e6, error="must be above 0 (and above the spread)"
        ),
        metadata={
            "description": "take-profit, a fraction of the close that decided the entry: a "
            "long leaves 10 % above it with 0.1 (a short below); null or absent: none"
        },
    )
    finalize_trades = ma.fields.Boolean(load_default=False)
    rank_by = ma.fields.String(
        load_default="sharpe",
        validate=ma.validate.OneOf(RANK_METRICS),
        metadata={"description": "the grid's ranking metric (higher is better)"},
    )
    data = ma.fields.String(
        validate=ma.validate.Length(min=1, max=MAX_INLINE_BYTES),
        metadata={"description": "CSV text: time,open,high,low,close,volume (oldest first)"},
    )
    symbol = Symbol()
    interval = ma.fields.String(validate=ma.validate.OneOf(INTERVALS))
    start = ma.fields.AwareDateTime(default_timezone=UTC, validate=lambda d: _in_range(d))
    end = ma.fields.AwareDateTime(default_timezone=UTC, validate=lambda d: _in_range(d))

    @ma.validates_schema
    def _start_before_end(self, data, **_kwargs):
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            raise ma.ValidationError("must be after start", field_name="end")


_EARLIEST, _LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _in_range(moment: datetime) -> None:
    """Bars are stored from 1970 on (epoch timestamps); 2100 bounds the far end."""
    if not _EARLIEST <= moment <= _LATEST:
        raise ma.ValidationError("must be between 1970-01-01 and 2100-01-01 (UTC)")


class BacktestAcceptedSchema(ma.Schema):
    backtest_id = ma.fields.String(required=True)
    status_url = ma.fields.String(required=True)
    equity_url = ma.fields.String(required=True)
    state = ma.fields.String(required=True)


class ProgressSchema(ma.Schema):
    done = ma.fields.Integer(metadata={"description": "parameter sets finished"})
    total = ma.fields.Integer()
    chunks_done = ma.fields.Integer()
    chunks = ma.fields.Integer()
    pct = ma.fields.Float()


class BacktestSchema(ma.Schema):
    id = ma.fields.String(required=True)
    strategy = ma.fields.String(required=True)
    kind = ma.fields.String(metadata={"description": "single or grid"})
    state = ma.fields.String(metadata={"description": "queued, running, succeeded, failed"})
    progress = ma.fields.Nested(ProgressSchema)
    params = ma.fields.Dict(metadata={"description": "the set run (single)"})
    grid = ma.fields.Dict()
    cash = ma.fields.Float()
    commission = ma.fields.Float()
    spread = ma.fields.Float()
    margin = ma.fields.Float()
    stop_loss = ma.fields.Float(allow_none=True, metadata={"description": "null: none"})
    take_profit = ma.fields.Float(allow_none=True, metadata={"description": "null: none"})
    finalize_trades = ma.fields.Boolean()
    rank_by = ma.fields.String()
    source = ma.fields.Dict(metadata={"description": "where the bars came from"})
    bars = ma.fields.Integer()
    stats = ma.fields.Dict(
        allow_none=True,
        metadata={
            "description": "trades, equity_final, return_pct, max_drawdown_pct, "
            "win_rate_pct, sharpe and more (the best set's, for a grid); null: not finished"
        },
    )
    trades = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "closed trades: bars, times, size, prices, pnl, commission and "
            "exit_reason (signal, stop_loss, take_profit, end, out_of_money)"
        },
    )
    open_trade = ma.fields.Dict(allow_none=True)
    best_params = ma.fields.Dict(allow_none=True)
    ranked = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "grid: {params, stats}, best first"}
    )
    workers = ma.fields.List(ma.fields.String())
    error = ma.fields.String()
    created_at = ma.fields.String()
    started_at = ma.fields.String()
    finished_at = ma.fields.String()
