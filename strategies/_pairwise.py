"""Sums of many short runs of one array at once, each equal to the bit to numpy's own sum.

The statistics of a grid need, per parameter set, sums over its trades (their returns,
PnLs, commissions). Summing them one set at a time (``values[row][mask].sum()``) costs a
numpy call per set and per statistic; adding them up another way (``np.add.reduceat``, or
masked rows with zeros in between) changes the order of the additions and so the last bit.
:func:`segment_sums` adds each run in the order numpy's ``np.add.reduce`` does for a
contiguous float64 array (its pairwise summation: below 8 values one after the other; up to
128, eight interleaved partial sums combined as a tree, then the rest; beyond that the two
halves, split at a multiple of 8, summed apart), for every run in one vectorised pass.
``tests/strategies/test_pairwise.py`` checks it against numpy for every length up to 2,000
and some far longer, so a numpy that sums otherwise fails there, not silently here.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

_BLOCK = 128  # numpy's PW_BLOCKSIZE: runs up to this long are summed without splitting
_LANES = 8  # numpy's unrolling: eight partial sums
_FEW = 16  # up to this many runs, each is summed by numpy itself


def segment_sums(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``[values[s : s + n].sum() for s, n in zip(starts, lengths)]``, bit for bit, vectorised.

    Args:
        values: 1-D float64 array holding the runs (anywhere in it, overlapping or not).
        starts: where each run starts in ``values``.
        lengths: how many values each run has (0 gives 0.0).
    """
    values = np.asarray(values, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(starts) <= _FEW:
        # A single backtest has a handful of runs: numpy's own sums cost less than the
        # vectorised passes below (and are, by definition, the same floats).
        return np.array(
            [
                np.add.reduce(values[s : s + n])
                for s, n in zip(starts.tolist(), lengths.tolist(), strict=True)
            ],
            dtype=np.float64,
        )
    # Gathers read up to 8 values past a run's end: pad so they stay in bounds.
    padded = np.concatenate((values, np.zeros(_LANES)))
    # np.add.reduce starts from its identity, 0.0 (which also turns a -0.0 result into 0.0).
    return 0.0 + _pairwise(padded, starts, lengths)


def _pairwise(padded: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    # numpy splits a run longer than 128 in two, at n2 = n / 2 less n2 % 8, and adds the two
    # halves' sums. Split every run down to its leaves first, so that one _block_sums call
    # sums all the leaves, then add the halves back up, deepest level first.
    levels = []  # per level: which nodes are split, and where their leaves are
    leaf_starts, leaf_lengths = [], []
    leaves = 0
    s, n = starts, lengths
    while len(s):
        long = n > _BLOCK
        short = ~long
        leaf_at = np.full(len(s), -1)
        leaf_at[short] = leaves + np.arange(int(short.sum()))
        leaves += int(short.sum())
        leaf_starts.append(s[short])
        leaf_lengths.append(n[short])
        levels.append((long, leaf_at))
        half = n[long] // 2
        half -= half % _LANES
        s = np.concatenate((s[long], s[long] + half))
        n = np.concatenate((half, n[long] - half))
    sums = _block_sums(padded, np.concatenate(leaf_starts), np.concatenate(leaf_lengths))
    below = np.empty(0)
    for long, leaf_at in reversed(levels):
        out = np.empty(len(long))
        out[~long] = sums[leaf_at[~long]]
        split = len(below) // 2
        out[long] = below[:split] + below[split:]
        below = out
    return below


def _block_sums(padded: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Runs of at most 128 values, summed as numpy's ``pairwise_sum`` does them."""
    # Row k of ``eights`` is padded[k : k + 8] (a view: nothing is copied).
    eights = as_strided(padded, (len(padded) - _LANES + 1, _LANES), padded.strides * 2)
    # A run of 8 or more puts the values up to its last multiple of 8 in eight partial sums
    # r[j] = a[j] + a[j + 8] + ... combined as a tree, then adds the rest one by one (all of
    # a shorter run is rest). The runs are taken longest first, so that those with an i-th
    # block of 8 are the first ``have[i]``.
    whole = np.where(lengths >= _LANES, lengths - lengths % _LANES, 0)
    order = np.argsort(-whole, kind="stable")
    by_size, first = whole[order], starts[order]
    have = np.searchsorted(-by_size, -np.arange(0, _BLOCK, _LANES), side="left").tolist()
    r = np.zeros((len(starts), _LANES))
    r[: have[0]] = eights[first[: have[0]]]
    for i in range(1, _BLOCK // _LANES):
        if not have[i]:
            break
        r[: have[i]] += eights[first[: have[i]] + i * _LANES]
    res = np.empty(len(starts))
    res[order] = ((r[:, 0] + r[:, 1]) + (r[:, 2] + r[:, 3])) + (
        (r[:, 4] + r[:, 5]) + (r[:, 6] + r[:, 7])
    )
    # The rest, at most 7 values; a run without a j-th one adds 0.0 (x + 0.0 is x but for
    # a zero's sign, which no non-zero sum depends on and the 0.0 + of segment_sums
    # settles as numpy's own start from 0.0 does).
    rest = lengths - whole
    at = starts + whole
    for j in range(int(rest.max(initial=0))):
        res += np.where(j < rest, padded[at + j], 0.0)
    return res
