"""Ranking a grid's results: the metrics a grid can be ranked by, best first, NaN last,
and statistics as JSON-safe values (``plain``: numpy scalars as Python numbers, NaN and
infinities as ``None``).

Higher is better for every metric offered; ``max_drawdown_pct`` is negative, so the
shallowest drawdown ranks first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from strategies.errors import InvalidBacktest

RANK_METRICS = (
    "sharpe",
    "return_pct",
    "equity_final",
    "sortino",
    "calmar",
    "cagr_pct",
    "max_drawdown_pct",
    "win_rate_pct",
    "profit_factor",
    "expectancy_pct",
    "sqn",
)


def plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and NaN/inf as ``None`` (JSON-safe)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def rank(
    results: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], metric: str
) -> list[dict[str, Any]]:
    """``[{"params", "stats"}, ...]`` best first by ``metric`` (ties keep grid order; NaN last)."""

    def score(item: tuple[int, tuple[Mapping, Mapping]]) -> tuple[int, float, int]:
        index, (_params, stats) = item
        value = stats.get(metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return (1, 0.0, index)
        return (0, -float(value), index)

    ordered = sorted(enumerate(results), key=score)
    return [{"params": dict(p), "stats": plain(dict(s))} for _i, (p, s) in ordered]


def check_rank_by(metric: str) -> str:
    """``metric`` if a grid can be ranked by it.

    Raises:
        InvalidBacktest: another name (``errors`` names ``rank_by``).
    """
    if metric not in RANK_METRICS:
        raise InvalidBacktest(
            f"rank_by must be one of {', '.join(RANK_METRICS)}, got {metric!r}",
            errors={"rank_by": f"one of {', '.join(RANK_METRICS)}"},
        )
    return metric
