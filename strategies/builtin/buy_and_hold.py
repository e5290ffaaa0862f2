"""``buy_and_hold``: the benchmark every other strategy should beat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from strategies.bars import Bars
from strategies.base import Strategy


class BuyAndHold(Strategy):
    """Long from the first decision to the end: bought at bar 2's open (no indicators, so
    the first decision is on bar 1's close), all in, never sold unless ``finalize_trades``."""

    name = "buy_and_hold"

    def signals(self, bars: Bars, indicators: Mapping[str, np.ndarray], **kwargs: Any):
        return np.ones(len(bars), dtype=np.int8)
