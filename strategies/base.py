"""The strategy interface: typed parameters, vectorised indicators and target positions.

A strategy is a small class, like Freqtrade's ``IStrategy``: class attributes declare it
(``name``, ``params``), one abstract method computes its **target position** for every bar,
and hooks have neutral defaults::

    class SmaCross(Strategy):
        name = "sma_cross"
        params = {"fast": Param(10, 2, 500), "slow": Param(20, 2, 1000)}

        def indicators(self, bars):
            return {"fast": sma(bars.close, self.p["fast"]), "slow": sma(bars.close, self.p["slow"])}

        def signals(self, bars, indicators):
            ...  # +1 long, 0 flat, -1 short, one value per bar

The value at bar *i* is what the strategy wants to hold after seeing bar *i*'s close; the
backtester fills the change at bar *i + 1*'s open (see :mod:`strategies.backtest`). A value
equal to the position already held does nothing, unless :meth:`Strategy.reentries` marks
the bar. An event on a bar before the first decision must not set the target (backtesting.py
never shows that bar to ``next()``): :func:`strategies.indicators.hold` takes that bar.

Warm-up: the backtester makes no decision before ``1 +`` the first bar at which every array
returned by :meth:`Strategy.indicators` is defined (not NaN), as backtesting.py does for
``Strategy.I`` indicators. An indicator that is never defined (a window longer than the data)
counts as defined from bar 0, again as backtesting.py counts it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from strategies.bars import Bars
from strategies.errors import InvalidBacktest, StrategyError

INTERFACE_VERSION = 1


@dataclass(frozen=True)
class Param:
    """One typed strategy parameter: its default and inclusive range.

    The type is the default's (``int``, ``float`` or ``bool``); ``low``/``high`` are ignored
    for ``bool``.
    """

    default: int | float | bool
    low: float | None = None
    high: float | None = None
    help: str = ""

    @property
    def kind(self) -> type:
        return type(self.default)

    def check(self, name: str, value: Any) -> int | float | bool:
        """``value`` converted to this parameter's type; :class:`InvalidBacktest` if it can't be."""
        kind = self.kind
        if kind is bool:
            if isinstance(value, bool | np.bool_):
                return bool(value)
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
                return value.lower() in ("true", "1")
            raise _bad(name, f"must be true or false, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _bad(name, f"must be a number, got {value!r}") from None
        if isinstance(value, bool) or not math.isfinite(number):
            raise _bad(name, f"must be a number, got {value!r}")
        if kind is int:
            if number != int(number):
                raise _bad(name, f"must be a whole number, got {value!r}")
            number = int(number)
        if (self.low is not None and number < self.low) or (
            self.high is not None and number > self.high
        ):
            raise _bad(name, f"must be between {self.low:g} and {self.high:g}, got {value!r}")
        return number


def _bad(name: str, what: str) -> InvalidBacktest:
    return InvalidBacktest(f"parameter {name} {what}", errors={name: what})


class Strategy(ABC):
    """Base class of every strategy (built-in or user-written).

    Class attributes:
        name: the registry name (``sma_cross``), unique.
        params: ``{name: Param}``; instances read the checked values in ``self.p``.
        timeframe: the bar interval it is meant for (``"1d"``), or ``None`` for any.
        symbols: symbols it is meant for; empty for any.
    """

    INTERFACE_VERSION: ClassVar[int] = INTERFACE_VERSION
    name: ClassVar[str] = ""
    params: ClassVar[Mapping[str, Param]] = {}
    timeframe: ClassVar[str | None] = None
    symbols: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        self.p: dict[str, Any] = self.check_params(params)

    @classmethod
    def summary(cls) -> str:
        """The docstring's first paragraph on one line, without reST markup (for lists)."""
        first = (cls.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(first.replace("``", "").split())

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults filled in, types and ranges checked, then :meth:`constraint`.

        Raises:
            InvalidBacktest: an unknown name, or a value of the wrong type or out of range;
                ``errors`` maps the parameter to what is wrong.
        """
        unknown = sorted(set(params) - set(cls.params))
        if unknown:
            known = ", ".join(cls.params) or "none"
            raise InvalidBacktest(
                f"{cls.name} has no parameter {', '.join(unknown)} (it has: {known})",
                errors={u: "unknown parameter" for u in unknown},
            )
        checked = {
            key: spec.check(key, params.get(key, spec.default)) for key, spec in cls.params.items()
        }
        problem = cls.constraint(checked)
        if problem:
            raise InvalidBacktest(f"{cls.name}: {problem}", errors={"params": problem})
        return checked

    @classmethod
    def constraint(cls, params: Mapping[str, Any]) -> str | None:
        """Hook: what is wrong with this combination of parameters, or ``None``.

        A grid skips the combinations this rejects (e.g. ``fast >= slow``).
        """
        return None

    def indicators(self, bars: Bars, **kwargs: Any) -> Mapping[str, np.ndarray]:
        """Hook: the indicator arrays (one value per bar, NaN while undefined) that set the
        warm-up. Default: none, so decisions start at bar 1."""
        return {}

    @abstractmethod
    def signals(
        self, bars: Bars, indicators: Mapping[str, np.ndarray], **kwargs: Any
    ) -> np.ndarray:
        """The target position after each bar's close: +1 long, 0 flat, -1 short.

        Vectorised: one array of ``len(bars)`` values, computed from whole arrays.
        """

    def reentries(
        self, bars: Bars, indicators: Mapping[str, np.ndarray], **kwargs: Any
    ) -> np.ndarray | None:
        """Hook: bars whose target, even if it equals the position held, closes the trade
        and opens a new one in the same direction (``True``). Default ``None``: never.

        ``sma_cross`` uses it to act on every cross, as backtesting.py's example does.
        """
        return None

    @classmethod
    def signals_grid(cls, bars: Bars, param_sets: Sequence[Mapping[str, Any]]) -> GridSignals:
        """Targets, warm-ups and re-entries of many checked parameter sets at once.

        The default runs :func:`evaluate` per set; built-ins override it to vectorise across
        parameter sets.
        """
        n = len(bars)
        targets = np.zeros((len(param_sets), n), dtype=np.int8)
        warmups = np.zeros(len(param_sets), dtype=np.int64)
        reentries = None
        for row, params in enumerate(param_sets):
            one = evaluate(cls(**params), bars)
            targets[row], warmups[row] = one.targets, one.warmup
            if one.reentries is not None:
                if reentries is None:
                    reentries = np.zeros((len(param_sets), n), dtype=bool)
                reentries[row] = one.reentries
        return GridSignals(targets, warmups, reentries)


class Signals(NamedTuple):
    """What one parameter set decided: ``targets`` (``int8``, one per bar), the ``warmup``
    bar and the optional ``reentries`` (``bool``, one per bar)."""

    targets: np.ndarray
    warmup: int
    reentries: np.ndarray | None = None


class GridSignals(NamedTuple):
    """:class:`Signals` of many parameter sets: arrays with one row per set."""

    targets: np.ndarray
    warmups: np.ndarray
    reentries: np.ndarray | None = None


def warmup_bar(indicators: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> int:
    """The first bar at which every indicator is defined (backtesting.py's rule: an indicator
    that is all NaN counts as defined from bar 0)."""
    arrays = indicators.values() if isinstance(indicators, Mapping) else indicators
    bars = 0
    for array in arrays:
        nan = np.isnan(np.asarray(array, dtype=np.float64))
        bars = max(bars, int(nan.argmin(axis=-1).max()) if nan.size else 0)
    return bars


def evaluate(strategy: Strategy, bars: Bars) -> Signals:
    """Run ``strategy``'s indicators, signals and re-entries.

    User code runs here only, so whatever it raises or returns wrongly becomes a
    :class:`StrategyError` naming the strategy and the method.
    """
    label = strategy.name or type(strategy).__name__
    try:
        indicators = strategy.indicators(bars)
        indicators = dict(indicators or {})
    except Exception as exc:
        raise StrategyError(f"strategy {label!r} failed in indicators(): {exc!r}") from exc
    n = len(bars)
    for key, values in indicators.items():
        if np.shape(values)[-1:] != (n,):
            raise StrategyError(
                f"strategy {label!r}: indicator {key!r} has shape {np.shape(values)}, "
                f"expected {n} values (one per bar)"
            )
    try:
        raw = strategy.signals(bars, indicators)
    except Exception as exc:
        raise StrategyError(f"strategy {label!r} failed in signals(): {exc!r}") from exc
    try:
        again = strategy.reentries(bars, indicators)
    except Exception as exc:
        raise StrategyError(f"strategy {label!r} failed in reentries(): {exc!r}") from exc
    if again is not None:
        again = np.asarray(again, dtype=bool)
        if again.shape != (n,):
            raise StrategyError(
                f"strategy {label!r}: reentries() returned shape {again.shape}, expected ({n},)"
            )
    return Signals(check_targets(raw, n, label), warmup_bar(indicators), again)


def check_targets(raw: Any, n: int, label: str) -> np.ndarray:
    """``raw`` as an ``int8`` array of -1/0/+1 (NaN counts as 0, flat)."""
    try:
        values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StrategyError(f"strategy {label!r}: signals() did not return numbers") from exc
    if values.shape != (n,):
        raise StrategyError(
            f"strategy {label!r}: signals() returned shape {values.shape}, expected ({n},)"
        )
    values = np.nan_to_num(values, nan=0.0)
    if not np.isin(values, (-1.0, 0.0, 1.0)).all():
        raise StrategyError(f"strategy {label!r}: signals() must hold only -1, 0 and +1")
    return values.astype(np.int8)
