"""Backtest speed (issue 10, point 3): tradefleet's backtester against backtesting.py and
vectorbt, in one run on GOOG daily (2,148 bars, shipped with backtesting.py).

* one ``sma_cross(10, 20)`` run: ours (``strategies.run_backtest``) vs ``Backtest.run``;
* the grid of every ``fast < slow`` pair from 5..100 step 5 (190 sets): ours
  (``strategies.run_grid``) vs ``Backtest.optimize``;
* the same against vectorbt where it is installed (``pip install -e .[bench]``): its first
  call, which compiles with Numba, is shown apart from the warm figures.

Each comparison times ours and theirs turn about (or ours just before and after a long
``optimize``), so both see the same load. Ours is timed from a cold start too (the first call in this process, nothing compiled), so a
worker has no warm-up to wait out. Each figure is the median of several repeats; the machine
is shared, so read the ratios, measured in the same run, rather than absolute times.

    .venv/bin/python bench/backtest.py            # about 1 minute (most of it backtesting.py)
    .venv/bin/python bench/backtest.py --quick    # fewer repeats; optimize on 45 sets, scaled

Prints each ratio as ``N`` and a multiplication sign, one run and grid against backtesting.py first, and writes
``bench/results/backtest-<timestamp>.json``. A missed goal prints ``MISSED``; exit status 1
only when a measurement could not be made (backtesting.py missing, results disagreeing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# backtesting.py draws a tqdm bar per run (hundreds during optimize): keep the report readable.
os.environ.setdefault("TQDM_DISABLE", "1")
sys.path.insert(0, str(ROOT))

TIMES = "\N{MULTIPLICATION SIGN}"
GOALS = {"one_run": 10.0, "grid": 50.0}
WINDOWS = list(range(5, 101, 5))


try:  # the oracle; a module-level class, so that optimize's worker processes can unpickle it
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross(Strategy):
        """backtesting.py's README example."""

        fast = 10
        slow = 20

        def init(self):
            self.sma1 = self.I(SMA, self.data.Close, self.fast)
            self.sma2 = self.I(SMA, self.data.Close, self.slow)

        def next(self):
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()
                self.sell()

except ImportError:
    Backtest = None


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median seconds of ``repeats`` calls, and the last result."""
    times = []
    result = None
    for _ in range(repeats):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def interleaved(ours, theirs, repeats: int) -> tuple[float, float, object]:
    """Medians of ``ours`` and ``theirs`` timed turn about, so both see the same load."""
    a, b = [], []
    result = None
    for _ in range(repeats):
        began = time.perf_counter()
        ours()
        a.append(time.perf_counter() - began)
        began = time.perf_counter()
        result = theirs()
        b.append(time.perf_counter() - began)
    return statistics.median(a), statistics.median(b), result


def ratio(slow: float, fast: float) -> str:
    value = slow / fast
    return f"{value:,.0f}{TIMES}" if value >= 10 else f"{value:.1f}{TIMES}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a smaller optimize")
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else 20

    began = time.perf_counter()
    import numpy as np

    from strategies import get_strategy, run_backtest, run_grid

    sma_cross = get_strategy("sma_cross")
    import_ours = time.perf_counter() - began
    if Backtest is None:
        print("backtesting.py is not installed: pip install -e .[dev]", file=sys.stderr)
        return 1
    from backtesting.test import GOOG

    grid = {"fast": WINDOWS, "slow": WINDOWS}
    report: dict = {"machine": _machine(), "bars": len(GOOG), "import_strategies_s": import_ours}

    # --- ours, cold first, then warm ---
    began = time.perf_counter()
    ours_one = run_backtest(GOOG, sma_cross, {"fast": 10, "slow": 20})
    cold_one = time.perf_counter() - began
    began = time.perf_counter()
    ours_grid = run_grid(GOOG, sma_cross, grid)
    cold_grid = time.perf_counter() - began
    one, _ = timed(lambda: run_backtest(GOOG, sma_cross, {"fast": 10, "slow": 20}), repeats)
    grid_s, _ = timed(lambda: run_grid(GOOG, sma_cross, grid), max(3, repeats // 4))
    sets = len(ours_grid)
    report["ours"] = {
        "one_run_s": one,
        "one_run_cold_s": cold_one,
        "grid_s": grid_s,
        "grid_cold_s": cold_grid,
        "grid_sets": sets,
        "grid_sets_per_s": sets / grid_s,
    }

    # --- backtesting.py ---
    bt = Backtest(GOOG, SmaCross, cash=10_000, commission=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_bt, bt_one, stats = interleaved(
            lambda: run_backtest(GOOG, sma_cross, {"fast": 10, "slow": 20}),
            lambda: bt.run(fast=10, slow=20),
            max(3, repeats // 2),
        )
    if abs(stats["Equity Final [$]"] - ours_one.stats["equity_final"]) >= 0.005:
        print("results disagree with backtesting.py: not timing apples to apples", file=sys.stderr)
        return 1
    windows = WINDOWS[::2] if args.quick else WINDOWS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        began = time.perf_counter()
        best = bt.optimize(
            fast=windows,
            slow=windows,
            constraint=lambda p: p.fast < p.slow,
            maximize="Equity Final [$]",
        )
        bt_opt = time.perf_counter() - began
    grid_after, _ = timed(lambda: run_grid(GOOG, sma_cross, grid), 3)
    grid_bt = statistics.median([grid_s, grid_after])  # ours just before and after optimize
    bt_sets = sum(1 for f in windows for s in windows if f < s)
    bt_grid = bt_opt * sets / bt_sets  # scaled to 190 sets when --quick
    ours_best = max(ours_grid, key=lambda row: row[1]["equity_final"])
    if args.quick is False and (best._strategy.fast, best._strategy.slow) != (
        ours_best[0]["fast"],
        ours_best[0]["slow"],
    ):
        print("optimize found other best parameters than run_grid", file=sys.stderr)
        return 1
    report["backtesting_py"] = {
        "version": _version("backtesting"),
        "one_run_s": bt_one,
        "optimize_s": bt_opt,
        "optimize_sets": bt_sets,
        "grid_s_for_190": bt_grid,
    }

    rows = [
        ("one run vs backtesting.py Backtest.run", bt_one / one_bt, GOALS["one_run"]),
        ("grid vs backtesting.py Backtest.optimize", bt_grid / grid_bt, GOALS["grid"]),
    ]
    print(f"GOOG daily, {len(GOOG)} bars; sma_cross(10, 20); grid of {sets} sets (5..100 step 5)")
    print(f"  load average at start {_load(report['machine']['load_average'])}, now {_load()}")
    print(
        f"  ours: one run {one * 1e3:.2f} ms (first call {cold_one * 1e3:.1f} ms), "
        f"grid {grid_s * 1e3:.0f} ms = {sets / grid_s:,.0f} sets/s (first call {cold_grid * 1e3:.0f} ms)"
    )
    print(
        f"  backtesting.py {_version('backtesting')}: run {bt_one * 1e3:.1f} ms, optimize "
        f"{bt_opt:.1f} s for {bt_sets} sets"
    )

    # --- vectorbt ---
    try:
        import vectorbt as vbt
    except ImportError:
        vbt = None
        print("  vectorbt: not installed (pip install -e .[bench]); no comparison")
        report["vectorbt"] = None
    if vbt is not None:
        close = GOOG["Close"]
        pairs = [(f, s) for f in WINDOWS for s in WINDOWS if f < s]

        def vbt_grid(pairs=pairs):
            fast, slow = vbt.MA.run_combs(close, window=WINDOWS, r=2, short_names=["fast", "slow"])
            entries = fast.ma_crossed_above(slow)
            exits = fast.ma_crossed_below(slow)
            pf = vbt.Portfolio.from_signals(
                close, entries, exits, short_entries=exits, short_exits=entries, init_cash=10_000
            )
            return pf.final_value()

        def vbt_one():
            fast = vbt.MA.run(close, 10)
            slow = vbt.MA.run(close, 20)
            entries = fast.ma_crossed_above(slow)
            exits = fast.ma_crossed_below(slow)
            pf = vbt.Portfolio.from_signals(
                close, entries, exits, short_entries=exits, short_exits=entries, init_cash=10_000
            )
            return pf.final_value()

        began = time.perf_counter()
        vbt_one()
        vbt_first = time.perf_counter() - began
        one_v, v_one, _ = interleaved(
            lambda: run_backtest(GOOG, sma_cross, {"fast": 10, "slow": 20}),
            vbt_one,
            max(3, repeats // 2),
        )
        grid_v, v_grid, values = interleaved(lambda: run_grid(GOOG, sma_cross, grid), vbt_grid, 5)
        v_sets = len(values)
        report["vectorbt"] = {
            "version": vbt.__version__,
            "first_call_s": vbt_first,
            "one_run_s": v_one,
            "grid_s": v_grid,
            "grid_sets": v_sets,
            "grid_sets_per_s": v_sets / v_grid,
        }
        print(
            f"  vectorbt {vbt.__version__}: first call {vbt_first:.1f} s (Numba compiling), "
            f"then run {v_one * 1e3:.1f} ms, grid {v_grid * 1e3:.0f} ms = {v_sets / v_grid:,.0f} sets/s"
        )
        rows += [
            ("one run vs vectorbt (warm)", v_one / one_v, None),
            ("grid vs vectorbt (warm)", (v_grid / v_sets) / (grid_v / sets), 1.0),
            ("first call vs vectorbt's (compile)", vbt_first / cold_one, None),
        ]
    print()
    missed = 0
    for label, value, goal in rows:
        verdict = ""
        if goal is not None:
            verdict = f"  goal ≥ {goal:g}{TIMES}: " + ("ok" if value >= goal else "MISSED")
            missed += value < goal
        print(f"  {label:<42} {ratio(value, 1.0):>8}{verdict}")
    report["ratios"] = {label: value for label, value, _ in rows}
    report["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"\n  load average at the end {_load()} (the machine is shared: read ratios with it)")
    out = ROOT / "bench" / "results" / f"backtest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=float))
    print(f"\n  report: {out.relative_to(ROOT)}" + (f"; {missed} goal(s) MISSED" if missed else ""))
    _ = np  # imported with strategies: counted in import_strategies_s
    return 0


def _load(values: tuple[float, float, float] | None = None) -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    if values is None and hasattr(os, "getloadavg"):
        values = os.getloadavg()
    return "?" if values is None else ", ".join(f"{v:.2f}" for v in values)


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def _machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "pandas": _version("pandas"),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


if __name__ == "__main__":
    sys.exit(main())
