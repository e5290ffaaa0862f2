"""Charts served by the API: a backtest's equity and drawdown as a PNG (matplotlib, Agg)."""

from __future__ import annotations

import io

import numpy as np


def equity_png(equity: np.ndarray, time: np.ndarray | None, *, title: str = "") -> bytes:
    """A PNG of ``equity`` (top) and its drawdown from the running peak in % (bottom)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    from matplotlib.figure import Figure

    x = np.arange(len(equity)) if time is None else time
    peak = np.maximum.accumulate(np.nan_to_num(equity, nan=0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        drawdown = np.where(peak > 0, (equity / peak - 1) * 100, 0.0)
    figure = Figure(figsize=(9, 5), dpi=100)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot(x, equity, color="#1f77b4", linewidth=1.2)
    top.set_ylabel("equity")
    top.set_title(title)
    top.grid(alpha=0.3)
    bottom.fill_between(x, drawdown, 0, color="#d62728", alpha=0.4, linewidth=0)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
