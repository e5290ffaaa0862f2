"""``donchian_breakout``: trade breakouts of the prior ``period`` bars' range."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from strategies.bars import Bars
from strategies.base import Param, Strategy, warmup_bar
from strategies.indicators import highest, hold, lowest


class DonchianBreakout(Strategy):
    """Long when the close breaks above the highest high of the previous ``period`` bars,
    short (or flat with ``long_only``) when it breaks below their lowest low: always in the
    market after the first breakout, stop-and-reverse. The channel excludes the bar itself.
    """

    name = "donchian_breakout"
    params = {
        "period": Param(20, 2, 500, "bars in the channel"),
        "long_only": Param(False, help="on a downside breakout go flat instead of short"),
    }

    def indicators(self, bars: Bars, **kwargs: Any) -> Mapping[str, np.ndarray]:
        return {
            "upper": highest(bars.high, self.p["period"]),
            "lower": lowest(bars.low, self.p["period"]),
        }

    def signals(self, bars: Bars, indicators: Mapping[str, np.ndarray], **kwargs: Any):
        up = bars.close > indicators["upper"]
        down = bars.close < indicators["lower"]
        short = 0 if self.p["long_only"] else -1
        return hold(up | down, np.where(up, 1, short), warmup_bar(indicators) + 1)
