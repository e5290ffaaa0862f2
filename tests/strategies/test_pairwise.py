"""``strategies._pairwise.segment_sums`` adds as numpy does, to the bit, both ways: a few
runs summed by numpy itself, many runs in the vectorised passes."""

import numpy as np
import pytest

from strategies._pairwise import _FEW, segment_sums


def _runs(rng, lengths):
    values = rng.standard_normal(int(sum(lengths))) * 10 ** rng.uniform(-6, 6, int(sum(lengths)))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    return values, starts, np.asarray(lengths, dtype=np.int64)


def _check(values, starts, lengths):
    want = np.array(
        [np.add.reduce(values[s : s + n]) for s, n in zip(starts, lengths, strict=True)]
    )
    assert segment_sums(values, starts, lengths).tobytes() == want.tobytes()
    # The same runs again and again, so that there are too many for the few-runs shortcut.
    times = _FEW // len(starts) + 1
    many = segment_sums(values, np.tile(starts, times), np.tile(lengths, times))
    assert many.tobytes() == np.tile(want, times).tobytes()


def test_segment_sums_equal_numpy_for_every_length_up_to_2000():
    rng = np.random.default_rng(7)
    _check(*_runs(rng, list(range(2001))))


@pytest.mark.parametrize("length", [4095, 8192, 8193, 30_001])
def test_segment_sums_equal_numpy_for_long_runs(length):
    rng = np.random.default_rng(length)
    _check(*_runs(rng, [3, length, 9]))


def test_segment_sums_keep_nan_inf_and_zero_signs_as_numpy():
    values = np.array([np.nan, 1.0, -0.0, -0.0, np.inf, -np.inf, 2.0] + [-0.0] * 9)
    starts = np.array([0, 1, 2, 4, 4, 6, 7])
    lengths = np.array([2, 1, 2, 1, 2, 1, 9])
    with np.errstate(invalid="ignore"):  # inf - inf
        _check(values, starts, lengths)
