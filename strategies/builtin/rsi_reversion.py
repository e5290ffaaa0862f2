"""``rsi_reversion``: buy oversold, sell overbought (Wilder's RSI)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from strategies.bars import Bars
from strategies.base import Param, Strategy, warmup_bar
from strategies.indicators import hold, rsi


class RsiReversion(Strategy):
    """Long while the RSI is below ``lower`` until it goes above ``upper``, then short (or
    flat with ``long_only``) until it is below ``lower`` again.

    Decided on each bar's close: RSI < ``lower`` targets long, RSI > ``upper`` targets
    short/flat, anything between keeps the last target (flat before the first).
    """

    name = "rsi_reversion"
    params = {
        "period": Param(14, 2, 200, "RSI period in bars"),
        "lower": Param(30.0, 1, 99, "oversold level: go long below it"),
        "upper": Param(70.0, 1, 99, "overbought level: leave the long above it"),
        "long_only": Param(False, help="above upper go flat instead of short"),
    }

    @classmethod
    def constraint(cls, params: Mapping[str, Any]) -> str | None:
        if params["lower"] >= params["upper"]:
            return f"lower ({params['lower']:g}) must be below upper ({params['upper']:g})"
        return None

    def indicators(self, bars: Bars, **kwargs: Any) -> Mapping[str, np.ndarray]:
        return {"rsi": rsi(bars.close, self.p["period"])}

    def signals(self, bars: Bars, indicators: Mapping[str, np.ndarray], **kwargs: Any):
        value = indicators["rsi"]
        oversold = value < self.p["lower"]
        overbought = value > self.p["upper"]
        short = 0 if self.p["long_only"] else -1
        return hold(oversold | overbought, np.where(oversold, 1, short), warmup_bar(indicators) + 1)
