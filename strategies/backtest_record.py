"""A backtest run's record: what was asked (strategy, parameters or grid, options), where it
stands, and its results, as one flat Redis hash (``to_hash`` / ``from_hash``).

Options are written as plain numbers; an option that is off (``stop_loss``,
``take_profit``) as the empty string. A record written before an option existed reads with
that option's default, so old runs keep their meaning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from core.models import to_iso, utcnow
from strategies.ranking import plain

CHUNK_SIZE = 20


class BacktestState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class BacktestRun:
    """One backtest run's record. ``source`` says where the bars came from
    (``{"symbol", "interval", "start", "end"}`` or ``{"inline": True}``)."""

    id: str
    strategy: str
    kind: str  # "single" or "grid"
    params: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    cash: float = 10_000.0
    commission: float = 0.0
    finalize_trades: bool = False
    spread: float = 0.0  # records written before spread and margin existed read as these
    margin: float = 1.0
    stop_loss: float | None = None  # None: off (and in records written before stops)
    take_profit: float | None = None
    rank_by: str = "sharpe"
    chunk_size: int = CHUNK_SIZE
    source: dict[str, Any] = field(default_factory=dict)
    bars: int = 0
    state: BacktestState = BacktestState.QUEUED
    total: int = 1  # parameter sets
    done: int = 0
    chunks: int = 1
    chunks_done: int = 0
    created_at: str = field(default_factory=lambda: to_iso(utcnow()))
    started_at: str = ""
    finished_at: str = ""
    error: str = ""
    stats: dict[str, Any] | None = None
    trades: list[dict[str, Any]] = field(default_factory=list)
    open_trade: dict[str, Any] | None = None
    best_params: dict[str, Any] | None = None
    ranked: list[dict[str, Any]] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)

    _JSON = ("params", "grid", "source", "stats", "trades", "open_trade", "best_params", "ranked")
    _INT = ("bars", "total", "done", "chunks", "chunks_done", "chunk_size")
    _FLOAT = ("cash", "commission", "spread", "margin")
    _OPTIONAL_FLOAT = ("stop_loss", "take_profit")  # "" when off

    @property
    def progress_pct(self) -> float:
        return round(100.0 * self.done / self.total, 1) if self.total else 100.0

    def to_hash(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name in self._JSON:
                out[name] = json.dumps(plain(value))
            elif name == "workers":
                out[name] = json.dumps(value)
            elif name in self._OPTIONAL_FLOAT:
                out[name] = "" if value is None else str(value)
            elif isinstance(value, bool):
                out[name] = "1" if value else "0"
            elif isinstance(value, Enum):
                out[name] = value.value
            else:
                out[name] = str(value)
        return out

    @classmethod
    def from_hash(cls, raw: Mapping[str, str]) -> BacktestRun:
        data: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name not in raw:
                continue
            value = raw[name]
            if name in cls._JSON or name == "workers":
                data[name] = json.loads(value)
            elif name in cls._INT:
                data[name] = int(value)
            elif name in cls._FLOAT:
                data[name] = float(value)
            elif name in cls._OPTIONAL_FLOAT:
                data[name] = float(value) if value else None
            elif name == "finalize_trades":
                data[name] = value == "1"
            elif name == "state":
                data[name] = BacktestState(value)
            else:
                data[name] = value
        return cls(**data)


def run_options(run: BacktestRun) -> dict[str, Any]:
    """The keyword options of :func:`run_backtest` / :func:`run_grid` that ``run`` was
    submitted with (cash, commission, finalize_trades, spread, margin, stop_loss,
    take_profit)."""
    return {
        "cash": run.cash,
        "commission": run.commission,
        "finalize_trades": run.finalize_trades,
        "spread": run.spread,
        "margin": run.margin,
        "stop_loss": run.stop_loss,
        "take_profit": run.take_profit,
    }
