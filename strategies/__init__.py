"""Strategies, signals and backtests: pure Python and numpy (no Flask, no Celery).

Public names: :class:`Strategy` and :class:`Param` (write a strategy), the
:data:`registry` and :func:`get_strategy` (built-ins: ``sma_cross``, ``rsi_reversion``,
``donchian_breakout``, ``buy_and_hold``), :func:`load_strategy_modules` (user strategies),
:func:`run_backtest` / :class:`Backtest` (one run, backtesting.py's semantics) and
:func:`run_grid` (many parameter sets at once).
"""

from strategies.backtest import Backtest, BacktestResult, Trade, run_backtest
from strategies.bars import Bars, as_bars
from strategies.base import INTERFACE_VERSION, Param, Strategy
from strategies.errors import InvalidBacktest, StrategyError, StrategyLoadError
from strategies.grid import chunks, grid_combinations, run_grid
from strategies.loader import load_strategy_modules
from strategies.registry import StrategyRegistry, get_strategy, registry

__all__ = [
    "INTERFACE_VERSION",
    "Backtest",
    "BacktestResult",
    "Bars",
    "InvalidBacktest",
    "Param",
    "Strategy",
    "StrategyError",
    "StrategyLoadError",
    "StrategyRegistry",
    "Trade",
    "as_bars",
    "chunks",
    "get_strategy",
    "grid_combinations",
    "load_strategy_modules",
    "registry",
    "run_backtest",
    "run_grid",
]
