"""Parameter grids: many parameter sets of one strategy, evaluated at once.

:func:`run_grid` computes targets for every set in one call of the strategy's
``signals_grid`` (the built-ins compute each distinct indicator once and compare all sets
as one array), simulates all sets together (:func:`strategies._execution.simulate` loops
over position changes, not bars or sets) and returns each set's statistics, equal to what
:func:`strategies.backtest.run_backtest` gives for it. A Celery group can split the work:
``grid_combinations`` lists the sets, :func:`chunks` cuts them, and each task runs
``run_grid(bars, cls, param_sets=chunk)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from strategies._execution import simulate
from strategies._stats import compute_stats
from strategies.backtest import BacktestResult, check_options, check_strategy, result_of
from strategies.bars import as_bars
from strategies.base import Strategy, check_targets
from strategies.errors import InvalidBacktest, StrategyError


def grid_combinations(
    strategy_cls: type[Strategy], grid: Mapping[str, Sequence[Any]]
) -> list[dict[str, Any]]:
    """Every combination of ``grid``'s values (defaults for parameters not in it), checked,
    in order; combinations the strategy's ``constraint`` rejects are left out.

    Raises:
        InvalidBacktest: an unknown parameter, an empty list, or a value out of range.
    """
    strategy_cls = check_strategy(strategy_cls)
    unknown = sorted(set(grid) - set(strategy_cls.params))
    if unknown:
        raise InvalidBacktest(
            f"{strategy_cls.name} has no parameter {', '.join(unknown)}",
            errors={u: "unknown parameter" for u in unknown},
        )
    names = list(grid)
    values = []
    for name in names:
        options = list(grid[name]) if not isinstance(grid[name], str | bytes) else [grid[name]]
        if not options:
            raise InvalidBacktest(f"grid: {name} has no values", errors={name: "empty"})
        values.append([strategy_cls.params[name].check(name, v) for v in options])
    sets = []
    for combo in itertools.product(*values):
        params = {
            **{k: p.default for k, p in strategy_cls.params.items()},
            **dict(zip(names, combo, strict=True)),
        }
        if strategy_cls.constraint(params) is None:
            sets.append(params)
    return sets


def chunks(param_sets: Sequence[Mapping[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """``param_sets`` in lists of at most ``size`` (one Celery task each)."""
    if size < 1:
        raise InvalidBacktest("chunk size must be at least 1", errors={"size": ">= 1"})
    for i in range(0, len(param_sets), size):
        yield [dict(p) for p in param_sets[i : i + size]]


def run_grid(
    bars: Any,
    strategy_cls: type[Strategy],
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    param_sets: Sequence[Mapping[str, Any]] | None = None,
    cash: float = 10_000,
    commission: float = 0.0,
    finalize_trades: bool = False,
    spread: float = 0.0,
    margin: float = 1.0,
    stop_loss: float | None = None,
    take_profit: float | None = None,
    keep: bool = False,
) -> list[tuple[dict[str, Any], dict[str, Any]]] | list[BacktestResult]:
    """Backtest every parameter set of ``grid`` (or the given ``param_sets``) at once.

    Returns ``[(params, stats), ...]`` in grid order, or with ``keep`` the full
    :class:`BacktestResult` of each (trades and equity too). ``cash``, ``commission``,
    ``finalize_trades``, ``spread``, ``margin``, ``stop_loss`` and ``take_profit`` are those
    of :func:`strategies.backtest.run_backtest`, the same for every set (with a stop, every
    set is simulated bar by bar: slower, a plain loop per set).

    Raises:
        InvalidBacktest: bad bars, grid or options. StrategyError: the strategy failed.
    """
    strategy_cls = check_strategy(strategy_cls)
    if (grid is None) == (param_sets is None):
        raise InvalidBacktest("give either grid or param_sets", errors={"grid": "one of"})
    data = as_bars(bars)
    cash_f, comm, spread_f, margin_f, stop_f, take_f = check_options(
        cash, commission, spread, margin, stop_loss, take_profit
    )
    if param_sets is None:
        sets = grid_combinations(strategy_cls, grid or {})
    else:
        sets = [strategy_cls.check_params(p) for p in param_sets]
    if not sets:
        return []
    label = strategy_cls.name or strategy_cls.__name__
    try:
        targets, warmups, reentries = strategy_cls.signals_grid(data, sets)
    except (StrategyError, InvalidBacktest):
        raise
    except Exception as exc:
        raise StrategyError(f"strategy {label!r} failed in signals_grid(): {exc!r}") from exc
    targets = np.asarray(targets)
    if targets.shape != (len(sets), len(data)):
        raise StrategyError(f"strategy {label!r}: signals_grid() returned shape {targets.shape}")
    if targets.dtype != np.int8 or (np.abs(targets) > 1).any():
        targets = np.stack([check_targets(row, len(data), label) for row in targets])
    if reentries is not None:
        reentries = np.asarray(reentries, dtype=bool)
        if reentries.shape != targets.shape:
            raise StrategyError(
                f"strategy {label!r}: signals_grid() re-entries have shape {reentries.shape}"
            )
    warmups = np.asarray(warmups, dtype=np.int64)
    fills = simulate(
        data.open,
        data.close,
        targets,
        warmups + 1,
        cash=cash_f,
        commission=comm,
        finalize=bool(finalize_trades),
        reentries=reentries,
        spread=spread_f,
        margin=margin_f,
        high=data.high,
        low=data.low,
        stop_loss=stop_f,
        take_profit=take_f,
    )
    stats = compute_stats(fills, data.close, data.time, warmups, cash_f)
    if keep:
        return [
            result_of(strategy_cls, sets[i], fills, i, stats[i], data) for i in range(len(sets))
        ]
    return [(sets[i], stats[i]) for i in range(len(sets))]
