"""Loading user strategies from the modules named by ``TRADEFLEET_STRATEGY_MODULES``.

A user strategy is a small :class:`~strategies.base.Strategy` subclass in an importable
module (``mypkg.strategies``). Every subclass *defined* in the module (not imported into it)
is registered. Call :func:`load_strategy_modules` once at start (the API and the workers
do it with ``settings.strategy_modules``); a broken module stops the start with a
:class:`~strategies.errors.StrategyLoadError` that names the module and what is wrong.
"""

from __future__ import annotations

import importlib
import inspect
import traceback
from collections.abc import Iterable

from core.settings import Settings
from strategies.base import Strategy
from strategies.errors import StrategyLoadError
from strategies.registry import StrategyRegistry, registry

SETTING = "TRADEFLEET_STRATEGY_MODULES"


def load_user_strategies(settings: Settings) -> None:
    """Load ``TRADEFLEET_STRATEGY_MODULES`` at a process's start; a broken module stops the
    start with one line saying what is wrong (``SystemExit``)."""
    try:
        load_strategy_modules(settings.strategy_modules)
    except StrategyLoadError as exc:
        raise SystemExit(f"tradefleet: {exc.message}") from None


def load_strategy_modules(
    modules: Iterable[str], *, into: StrategyRegistry | None = None
) -> list[type[Strategy]]:
    """Import each module and register the strategies it defines; returns them in order.

    Raises:
        StrategyLoadError: a module cannot be imported, raises while importing, defines no
            strategy, or defines one that cannot be registered.
    """
    target = registry if into is None else into
    loaded: list[type[Strategy]] = []
    for name in modules:
        name = name.strip()
        if not name:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                raise StrategyLoadError(
                    f"{SETTING}: no module named {name!r} (is it installed or on PYTHONPATH?)"
                ) from exc
            raise StrategyLoadError(
                f"{SETTING}: {name!r} imports {exc.name!r}, which is not installed"
            ) from exc
        except SyntaxError as exc:
            raise StrategyLoadError(
                f"{SETTING}: {name!r} has a syntax error at {exc.filename}:{exc.lineno}: {exc.msg}"
            ) from exc
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            raise StrategyLoadError(
                f"{SETTING}: importing {name!r} raised {exc!r} at {where.filename}:{where.lineno}"
            ) from exc
        found = [
            obj
            for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, Strategy)
            and obj is not Strategy
            and obj.__module__ == module.__name__
        ]
        if not found:
            raise StrategyLoadError(
                f"{SETTING}: {name!r} defines no Strategy subclass "
                "(subclass strategies.Strategy and give it a name)"
            )
        for cls in found:
            if inspect.isabstract(cls) and not cls.name:
                continue  # a base class of the module's own strategies
            target.register(cls)
            loaded.append(cls)
    return loaded
