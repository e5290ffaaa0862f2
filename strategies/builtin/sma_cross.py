"""``sma_cross``: the moving-average crossover of backtesting.py's own ``SmaCross`` example."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from strategies.bars import Bars
from strategies.base import GridSignals, Param, Strategy, warmup_bar
from strategies.indicators import hold, sma, sma_exact


class SmaCross(Strategy):
    """Long when the fast SMA of the close crosses above the slow one, short when it crosses
    below.

    A cross is strict, as ``backtesting.lib.crossover``: fast below slow on the previous bar
    and above it on this one (or the reverse). On a cross up the position is closed and a
    long opened; on a cross down it is closed and, unless ``long_only``, a short opened.
    Before the first cross the strategy is flat. Every cross acts, also a second one the
    same way (possible when the averages are exactly equal for a bar, so that the cross in
    between is not strict): the trade is closed and opened again, as in the example. The
    averages are vectorised sums, recomputed as pandas' rolling means to the bit
    (:func:`strategies.indicators.sma_exact`) wherever they come within 1e-9 of each other,
    so ties fall where backtesting.py sees them. One difference: an entry cancelled for
    want of cash (a price above the equity) is tried again on the next bars while the
    target holds, as for every strategy here; the example waits for the next cross.
    """

    name = "sma_cross"
    params = {
        "fast": Param(10, 2, 500, "bars in the fast average"),
        "slow": Param(20, 2, 1000, "bars in the slow average"),
        "long_only": Param(False, help="on a cross down go flat instead of short"),
    }

    @classmethod
    def constraint(cls, params: Mapping[str, Any]) -> str | None:
        if params["fast"] >= params["slow"]:
            return f"fast ({params['fast']}) must be below slow ({params['slow']})"
        return None

    def indicators(self, bars: Bars, **kwargs: Any) -> Mapping[str, np.ndarray]:
        fast, slow = sma(bars.close, self.p["fast"]), sma(bars.close, self.p["slow"])
        if _close_call(fast, slow).any():
            fast, slow = (
                sma_exact(bars.close, self.p["fast"]),
                sma_exact(bars.close, self.p["slow"]),
            )
        return {"fast": fast, "slow": slow}

    def signals(self, bars: Bars, indicators: Mapping[str, np.ndarray], **kwargs: Any):
        first = warmup_bar(indicators) + 1
        return _targets(indicators["fast"], indicators["slow"], self.p["long_only"], first)[0]

    def reentries(self, bars: Bars, indicators: Mapping[str, np.ndarray], **kwargs: Any):
        first = warmup_bar(indicators) + 1
        return _targets(indicators["fast"], indicators["slow"], self.p["long_only"], first)[1]

    @classmethod
    def signals_grid(cls, bars: Bars, param_sets: Sequence[Mapping[str, Any]]) -> GridSignals:
        """Every average is computed once per window, then all sets are compared at once."""
        windows = sorted({p["fast"] for p in param_sets} | {p["slow"] for p in param_sets})
        column = {w: i for i, w in enumerate(windows)}
        averages = np.stack([sma(bars.close, w) for w in windows])
        fast = np.array([column[p["fast"]] for p in param_sets])
        slow = np.array([column[p["slow"]] for p in param_sets])
        below, above, close_calls = _sides(averages, fast, slow)
        if close_calls.any():
            # Those sets compare pandas' own averages (both of them), computed once a window.
            rows = np.flatnonzero(close_calls)
            needed = np.unique(np.concatenate((fast[rows], slow[rows])))
            exact = np.zeros_like(averages)
            exact[needed] = [sma_exact(bars.close, windows[i]) for i in needed]
            with np.errstate(invalid="ignore"):
                below[rows] = exact[fast[rows]] < exact[slow[rows]]
                above[rows] = exact[fast[rows]] > exact[slow[rows]]
        long_only = np.array([p["long_only"] for p in param_sets])[:, None]
        warm = np.array([warmup_bar([a]) for a in averages])
        warmups = np.maximum(warm[fast], warm[slow])
        targets, crosses = _targets_from(below, above, long_only, warmups + 1)
        return GridSignals(targets, warmups, crosses)


def _sides(
    averages: np.ndarray, fast: np.ndarray, slow: np.ndarray, chunk: int = 16
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fast < slow, fast > slow, any close call)`` per set, for the averages at rows
    ``fast`` and ``slow`` of ``averages``. Sets go ``chunk`` at a time, so that their
    averages and differences stay in the processor's cache."""
    rows, n = len(fast), averages.shape[1]
    below = np.empty((rows, n), dtype=bool)
    above = np.empty((rows, n), dtype=bool)
    close_calls = np.zeros(rows, dtype=bool)
    with np.errstate(invalid="ignore"):
        tolerance = 1e-9 * np.abs(averages)  # _close_call's bound, once per window
        for a in range(0, rows, chunk):
            f, s = fast[a : a + chunk], slow[a : a + chunk]
            # fast - slow has the sign of the comparison (it is 0 only when they are equal).
            difference = averages[f] - averages[s]
            np.less(difference, 0, out=below[a : a + chunk])
            np.greater(difference, 0, out=above[a : a + chunk])
            np.abs(difference, out=difference)
            close_calls[a : a + chunk] = (difference <= tolerance[s]).any(axis=1)
    return below, above, close_calls


def _close_call(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """Bars where the two averages are so close that the last bit could decide a cross:
    there, and only there, they are recomputed exactly as pandas computes them."""
    with np.errstate(invalid="ignore"):
        return np.abs(fast - slow) <= 1e-9 * np.abs(slow)


def _targets(fast: np.ndarray, slow: np.ndarray, long_only, first) -> tuple[np.ndarray, np.ndarray]:
    """``(targets, crosses)``: the position after the latest cross, and where crosses are."""
    return _targets_from(fast < slow, fast > slow, long_only, first)


def _targets_from(below: np.ndarray, above: np.ndarray, long_only, first):
    """:func:`_targets` from where fast is below and above slow (a tie is neither)."""
    up = np.zeros(below.shape, dtype=bool)
    down = np.zeros(below.shape, dtype=bool)
    up[..., 1:] = below[..., :-1] & above[..., 1:]
    down[..., 1:] = above[..., :-1] & below[..., 1:]
    short = np.where(long_only, 0, -1).astype(np.int8)
    crosses = up | down
    return hold(crosses, np.where(up, np.int8(1), short), first), crosses
