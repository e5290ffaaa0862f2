"""User strategies named by TRADEFLEET_STRATEGY_MODULES are loaded when the API starts; a
broken one stops the start with one line."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from core.settings import get_settings


def test_api_start_loads_user_strategies_and_refuses_a_broken_module(tmp_path, monkeypatch):
    from api import create_app
    from strategies import get_strategy

    (tmp_path / "my_strategies.py").write_text(
        "import numpy as np\n"
        "from strategies import Strategy\n\n"
        "class AlwaysIn(Strategy):\n"
        "    name = 'always_in_test'\n\n"
        "    def signals(self, bars, **params):\n"
        "        return np.ones(len(bars.close))\n"
    )
    (tmp_path / "broken_strategies.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = dataclasses.replace(get_settings(), strategy_modules=("my_strategies",))
    create_app(settings)
    assert get_strategy("always_in_test").name == "always_in_test"

    broken = dataclasses.replace(get_settings(), strategy_modules=("broken_strategies",))
    with pytest.raises(SystemExit) as stopped:
        create_app(broken)
    message = str(stopped.value)
    assert message.startswith("tradefleet: TRADEFLEET_STRATEGY_MODULES") and "boom" in message
    assert "\n" not in message
    sys.modules.pop("my_strategies", None)
