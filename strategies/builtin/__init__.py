"""The built-in strategies, one module each."""

from strategies.builtin.buy_and_hold import BuyAndHold
from strategies.builtin.donchian_breakout import DonchianBreakout
from strategies.builtin.rsi_reversion import RsiReversion
from strategies.builtin.sma_cross import SmaCross

BUILTINS = (SmaCross, RsiReversion, DonchianBreakout, BuyAndHold)

__all__ = ["BUILTINS", "BuyAndHold", "DonchianBreakout", "RsiReversion", "SmaCross"]
