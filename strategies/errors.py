"""Errors raised by strategies, the backtester and the strategy loader.

Each class says what the caller should do. They derive from ``core.errors`` so the API maps
them to a status in one place: bad input is an :class:`~core.errors.InvalidRequest` (422),
a broken user strategy a :class:`StrategyError` (the strategy's author must fix it).
"""

from __future__ import annotations

from core.errors import ConfigurationError, InvalidRequest, TradefleetError


class StrategyError(TradefleetError):
    """User strategy code raised or returned something unusable: its author must fix it.

    ``message`` names the strategy and the method; the original exception is chained.
    """


class StrategyLoadError(ConfigurationError):
    """A module named in ``TRADEFLEET_STRATEGY_MODULES`` cannot be used: fix the module or
    the setting; the process should not start until then."""


class InvalidBacktest(InvalidRequest):
    """Bad backtest input (data, parameters, options): ``errors`` maps each argument to what
    is wrong with it. Fix the request; retrying it unchanged fails again."""
