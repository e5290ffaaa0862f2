"""User strategies: loaded from TRADEFLEET_STRATEGY_MODULES, with clear errors when broken."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest
from backtesting.test import GOOG

from core.settings import Settings
from strategies import (
    StrategyError,
    StrategyLoadError,
    StrategyRegistry,
    load_strategy_modules,
    run_backtest,
)
from strategies.builtin import BUILTINS

GOOD = """
    import numpy as np
    from strategies import Param, Strategy
    from strategies.indicators import sma

    class AboveAverage(Strategy):
        name = "above_average"
        params = {"window": Param(30, 2, 400)}

        def indicators(self, bars, **kwargs):
            return {"sma": sma(bars.close, self.p["window"])}

        def signals(self, bars, indicators, **kwargs):
            return np.where(bars.close > indicators["sma"], 1, 0)
"""


@pytest.fixture
def modules(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    written = []

    def write(name, source):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        sys.modules.pop(name, None)
        importlib.invalidate_caches()
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.fixture
def fresh():
    registry = StrategyRegistry()
    for cls in BUILTINS:
        registry.register(cls)
    return registry


def test_settings_read_strategy_modules():
    env = {"REDIS_URL": "redis://x", "TRADEFLEET_SECRET_KEY": "A" * 43 + "="}
    assert Settings.from_env(env).strategy_modules == ()
    env["TRADEFLEET_STRATEGY_MODULES"] = " a.b , c "
    assert Settings.from_env(env).strategy_modules == ("a.b", "c")


def test_load_registers_the_module_strategies_and_they_backtest(modules, fresh):
    name = modules("tf_user_good", GOOD)
    (cls,) = load_strategy_modules([name], into=fresh)
    assert fresh.get("above_average") is cls
    result = run_backtest(GOOG, cls, {"window": 50}, finalize_trades=True)
    assert result.stats["trades"] > 0


def test_loading_the_same_module_twice_is_harmless(modules, fresh):
    name = modules("tf_user_twice", GOOD)
    load_strategy_modules([name], into=fresh)
    load_strategy_modules([name], into=fresh)
    assert "above_average" in fresh.names()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import numpy as np\nx = 1\n", "defines no Strategy subclass"),
        ("def broken(:\n", "syntax error at .*tf_user_case.py:1"),
        (
            "raise RuntimeError('no config')\n",
            r"raised RuntimeError\('no config'\) at .*tf_user_case.py:1",
        ),
        (
            "import tf_not_installed_anywhere\n",
            "imports 'tf_not_installed_anywhere', which is not installed",
        ),
        (
            "from strategies import Strategy\nclass S(Strategy):\n    def signals(self, bars, i):\n        return 0\n",
            "needs a name",
        ),
        (
            "from strategies import Strategy\nclass S(Strategy):\n    name = 'no_signals'\n",
            r"'no_signals'\) does not define signals\(\)",
        ),
        (
            "from strategies import Strategy\nclass S(Strategy):\n    name = 'sma_cross'\n"
            "    def signals(self, bars, i):\n        return 0\n",
            "the strategy name 'sma_cross' is taken by strategies.builtin.sma_cross.SmaCross",
        ),
        (
            "from strategies import Param, Strategy\nclass S(Strategy):\n    name = 'bad_default'\n"
            "    params = {'n': Param(1, 5, 10)}\n    def signals(self, bars, i):\n        return 0\n",
            "default parameters are invalid: parameter n must be between 5 and 10",
        ),
    ],
    ids=[
        "no-strategy",
        "syntax",
        "raises",
        "missing-dependency",
        "no-name",
        "abstract",
        "duplicate",
        "bad-default",
    ],
)
def test_broken_module_is_a_clear_load_error(modules, fresh, source, message):
    name = modules("tf_user_case", source)
    with pytest.raises(StrategyLoadError, match=message) as caught:
        load_strategy_modules([name], into=fresh)
    assert (
        "TRADEFLEET_STRATEGY_MODULES" in caught.value.message
        or "tf_user_case" in caught.value.message
    )


def test_missing_module_names_the_setting(fresh):
    with pytest.raises(
        StrategyLoadError, match=r"TRADEFLEET_STRATEGY_MODULES: no module named 'tf_nowhere\.mod'"
    ):
        load_strategy_modules(["tf_nowhere.mod"], into=fresh)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "raise ZeroDivisionError('oops')",
            r"'user_fails' failed in signals\(\): ZeroDivisionError",
        ),
        ("return np.zeros(3)", r"signals\(\) returned shape \(3,\), expected \(2148,\)"),
        ("return np.full(len(bars), 2)", "must hold only -1, 0 and \\+1"),
        ("return ['buy'] * len(bars)", "did not return numbers"),
    ],
)
def test_strategy_code_failing_at_run_time_is_a_strategy_error(modules, fresh, body, message):
    source = f"""
import numpy as np
from strategies import Strategy

class UserFails(Strategy):
    name = "user_fails"

    def signals(self, bars, indicators, **kwargs):
        {body}
"""
    name = modules("tf_user_fails", source)
    (cls,) = load_strategy_modules([name], into=fresh)
    with pytest.raises(StrategyError, match=message):
        run_backtest(GOOG, cls)
