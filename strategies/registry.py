"""The strategy registry: names to classes, the built-ins first, user strategies added at
start by :func:`strategies.loader.load_strategy_modules`."""

from __future__ import annotations

from strategies.base import Strategy
from strategies.builtin import BUILTINS
from strategies.errors import InvalidBacktest, StrategyLoadError


class StrategyRegistry:
    """Strategy classes by ``name``; a name is registered once."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Strategy]] = {}

    def register(self, strategy_cls: type[Strategy]) -> type[Strategy]:
        """Add ``strategy_cls`` (usable as a class decorator).

        Raises:
            StrategyLoadError: not a Strategy subclass, no ``name``, abstract, or the name is
                taken by another class.
        """
        where = f"{getattr(strategy_cls, '__module__', '?')}.{getattr(strategy_cls, '__qualname__', strategy_cls)}"
        if not (isinstance(strategy_cls, type) and issubclass(strategy_cls, Strategy)):
            raise StrategyLoadError(f"{where} is not a Strategy subclass")
        if not strategy_cls.name or not strategy_cls.name.isidentifier():
            raise StrategyLoadError(
                f"{where} needs a name (a lower-case identifier, e.g. 'my_cross')"
            )
        if getattr(strategy_cls, "__abstractmethods__", None):
            missing = ", ".join(sorted(strategy_cls.__abstractmethods__))
            raise StrategyLoadError(f"{where} ({strategy_cls.name!r}) does not define {missing}()")
        taken = self._classes.get(strategy_cls.name)
        if taken is not None and taken is not strategy_cls:
            raise StrategyLoadError(
                f"{where}: the strategy name {strategy_cls.name!r} is taken by "
                f"{taken.__module__}.{taken.__qualname__}"
            )
        try:
            strategy_cls.check_params({})
        except InvalidBacktest as exc:
            raise StrategyLoadError(
                f"{where}: its default parameters are invalid: {exc.message}"
            ) from None
        self._classes[strategy_cls.name] = strategy_cls
        return strategy_cls

    def get(self, name: str) -> type[Strategy]:
        """The class registered as ``name``.

        Raises:
            InvalidBacktest: no such strategy (the message lists the known ones).
        """
        try:
            return self._classes[name]
        except KeyError:
            known = ", ".join(sorted(self._classes))
            raise InvalidBacktest(
                f"unknown strategy {name!r} (known: {known})", errors={"strategy": "unknown"}
            ) from None

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes


registry = StrategyRegistry()
for _cls in BUILTINS:
    registry.register(_cls)


def get_strategy(name: str) -> type[Strategy]:
    """The strategy class registered as ``name`` (see :meth:`StrategyRegistry.get`)."""
    return registry.get(name)
