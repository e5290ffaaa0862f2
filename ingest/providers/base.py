"""The provider interface: where bars and quotes come from.

A provider is any object with a ``name`` and two methods, ``bars`` and
``quote`` (:class:`Provider`). Providers are built by name through
:func:`get_provider`; each provider module exposes ``create(settings,
connection) -> Provider`` and is imported only when asked for, so the
``schwab`` module's dependencies are not loaded for ``synthetic``.

Conventions every provider keeps:

* Times are timezone-aware UTC ``datetime`` values. ``bars(symbol, interval,
  start, end)`` returns the bars whose **start** lies in ``[start, end)``,
  oldest first, each at most once.
* ``interval`` is one of :data:`INTERVALS` (``"1m"``, ``"5m"``, ``"15m"``,
  ``"30m"``, ``"1h"``, ``"1d"``).
* Prices are ``Decimal``; volume an ``int``.
* Symbols arrive normalised (``core.quotes.normalise_symbol``).
* A provider that cannot answer now (network, rate limit, token refreshing)
  raises :class:`ProviderUnavailable` so tasks may retry; one that will never
  answer this request (unknown symbol, interval it does not serve, bad file)
  raises :class:`ProviderError`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol, runtime_checkable

import redis

from core.errors import InvalidRequest, ServiceUnavailable
from core.quotes import Quote
from core.settings import Settings

__all__ = [
    "INTERVALS",
    "PROVIDERS",
    "Bar",
    "Provider",
    "ProviderError",
    "ProviderUnavailable",
    "Quote",
    "align",
    "check_interval",
    "get_provider",
]

# Bar length per interval name.
INTERVALS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}

# Provider name -> module exposing ``create(settings, connection) -> Provider``.
PROVIDERS: dict[str, str] = {
    "synthetic": "ingest.providers.synthetic",
    "csv": "ingest.providers.csv",
    "schwab": "ingest.providers.schwab",
}


class ProviderError(InvalidRequest):
    """The provider cannot serve this request (unknown symbol, bad file or row): fix the input."""


class ProviderUnavailable(ServiceUnavailable, ProviderError):
    """The provider cannot answer right now (network, rate limit, token): retry later."""


@dataclass(frozen=True)
class Bar:
    """One OHLCV bar; ``start`` is the bar's opening time (UTC)."""

    symbol: str
    interval: str
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    source: str


@runtime_checkable
class Provider(Protocol):
    """Where bars and quotes come from (see the module docstring for conventions)."""

    name: str

    def bars(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Bar]:
        """Bars of ``symbol`` whose start lies in ``[start, end)``, oldest first.

        Raises:
            ProviderError: the request cannot be served.
            ProviderUnavailable: try again later.
        """
        ...

    def quote(self, symbol: str) -> Quote:
        """The latest quote of ``symbol`` (``Quote.source`` names the provider).

        Raises:
            ProviderError: the request cannot be served.
            ProviderUnavailable: try again later.
        """
        ...


def get_provider(name: str, settings: Settings, connection: redis.Redis | None = None) -> Provider:
    """Build the provider called ``name``.

    Raises:
        ProviderError: no provider of that name.
    """
    module_name = PROVIDERS.get(name)
    if module_name is None:
        raise ProviderError(
            f"unknown provider {name!r}",
            errors={"provider": [f"must be one of {', '.join(sorted(PROVIDERS))}"]},
        )
    return importlib.import_module(module_name).create(settings, connection)


def check_interval(interval: str) -> timedelta:
    """The length of ``interval``.

    Raises:
        ProviderError: not one of :data:`INTERVALS` (errors on ``interval``).
    """
    try:
        return INTERVALS[interval]
    except KeyError:
        raise ProviderError(
            f"unknown interval {interval!r}",
            errors={"interval": [f"must be one of {', '.join(INTERVALS)}"]},
        ) from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def align(moment: datetime, interval: str) -> datetime:
    """The start of the ``interval`` bar holding ``moment`` (bars align to the Unix epoch)."""
    step = check_interval(interval)
    return _EPOCH + ((moment - _EPOCH) // step) * step
