"""The trades and equity a simulation gives, for many parameter sets at once."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

#: backtesting.py's ``_FULL_EQUITY`` order size: all in, as a fraction just below 1.
FULL = 1 - sys.float_info.epsilon


class ExitReason(IntEnum):
    """Why a trade was closed (stored as ``int8`` codes in :attr:`Fills.exit_reason`).

    ``SIGNAL``: the strategy's target changed, the trade left at the next open.
    ``STOP_LOSS`` / ``TAKE_PROFIT``: its contingent order filled (see
    :mod:`strategies._broker`). ``END``: ``finalize_trades`` closed it after the last bar.
    ``OUT_OF_MONEY``: equity reached 0 and the run stopped (closed at that bar's close).
    """

    NONE = 0
    SIGNAL = 1
    STOP_LOSS = 2
    TAKE_PROFIT = 3
    END = 4
    OUT_OF_MONEY = 5

    @property
    def label(self) -> str:
        """The lower-case name a trade shows (``"stop_loss"``), ``""`` for none."""
        return "" if self is ExitReason.NONE else self.name.lower()


@dataclass
class Fills:
    """Trades of ``rows`` parameter sets, padded to the same length ``K``.

    Every array but ``equity`` has shape ``(rows, K)``; slot ``k`` of a row is its k-th
    position change (a trade when ``size`` is not 0). ``closed`` marks trades that were
    closed and so count in the statistics, ``is_open`` the one trade (at most) left open.
    Bars are 0-based positions; ``entry_bar``/``exit_bar`` are -1 where there is none.
    ``exit_reason`` holds :class:`ExitReason` codes (0 where no trade was closed).
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
    exit_reason: np.ndarray

    @classmethod
    def empty(cls, rows: int, n: int, k: int) -> Fills:
        """``rows`` rows of ``n`` bars with room for ``k`` trades each, none filled."""
        shape = (rows, k)
        return cls(
            equity=np.zeros((rows, n)),
            entry_bar=np.full(shape, -1, dtype=np.int64),
            exit_bar=np.full(shape, -1, dtype=np.int64),
            size=np.zeros(shape),
            entry_price=np.zeros(shape),
            exit_price=np.zeros(shape),
            commission=np.zeros(shape),
            closed=np.zeros(shape, dtype=bool),
            is_open=np.zeros(shape, dtype=bool),
            exit_reason=np.zeros(shape, dtype=np.int8),
        )
