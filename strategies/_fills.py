"""The trades and equity a simulation gives, for many parameter sets at once."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

#: backtesting.py's ``_FULL_EQUITY`` order size: all in, as a fraction just below 1.
FULL = 1 - sys.float_info.epsilon


@dataclass
class Fills:
    """Trades of ``rows`` parameter sets, padded to the same length ``K``.

    Every array but ``equity`` has shape ``(rows, K)``; slot ``k`` of a row is its k-th
    position change (a trade when ``size`` is not 0). ``closed`` marks trades that were
    closed and so count in the statistics, ``is_open`` the one trade (at most) left open.
    Bars are 0-based positions; ``entry_bar``/``exit_bar`` are -1 where there is none.
    """

    equity: np.ndarray  # (rows, n)
    entry_bar: np.ndarray
    exit_bar: np.ndarray
    size: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    commission: np.ndarray
    closed: np.ndarray
    is_open: np.ndarray
