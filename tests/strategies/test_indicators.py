"""Indicators against plain references: ``hold`` against a bar-by-bar forward fill,
``sma_exact`` against pandas' rolling mean."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.indicators import hold, sma_exact


def _held(events, values, first):
    out = np.zeros(events.shape, dtype=np.int8)
    for row in range(events.shape[0]):
        current = 0
        for bar in range(events.shape[1]):
            if events[row, bar] and bar >= first[row]:
                current = int(values[row, bar])
            out[row, bar] = current
    return out


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 5),
    n=st.integers(1, 40),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
    per_row=st.booleans(),
)
def test_hold_is_the_value_at_the_latest_event(rows, n, density, seed, per_row):
    rng = np.random.default_rng(seed)
    events = rng.random((rows, n)) < density
    values = rng.choice(np.array([-1, 0, 1]), size=(rows, n))
    first = rng.integers(0, n + 2, rows) if per_row else np.full(rows, int(rng.integers(0, n + 2)))
    want = _held(events, values, first)
    got = hold(events, values, first if per_row else int(first[0]))
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(hold(events[0], values[0], int(first[0])), want[0])


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 80),
    decimals=st.integers(0, 3),
    window=st.integers(1, 90),
    seed=st.integers(0, 2**32 - 1),
)
def test_sma_exact_is_pandas_rolling_mean_to_the_bit(n, decimals, window, seed):
    """Rounded prices repeat, so windows of equal values (pandas' special case) occur."""
    values = np.round(np.random.default_rng(seed).uniform(1, 3, n), decimals)
    want = pd.Series(values).rolling(window).mean().to_numpy()
    assert sma_exact(values, window).tobytes() == want.tobytes()


def test_sma_exact_on_long_series_is_pandas_rolling_mean_to_the_bit():
    from backtesting.test import EURUSD, GOOG

    for close in (GOOG.Close.to_numpy(), EURUSD.Close.to_numpy()):
        for window in (2, 10, 15, 45, 100, 500):
            want = pd.Series(close).rolling(window).mean().to_numpy()
            assert sma_exact(close, window).tobytes() == want.tobytes(), window
