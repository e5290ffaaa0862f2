"""Brokerage adapters behind one interface (``brokers.base.Broker``).

Which adapter serves a brokerage, and what kind of brokerage it is
(:class:`~brokers.base.BrokerTraits`), is decided here and nowhere else.
"""

from __future__ import annotations

from decimal import Decimal

import redis
from redis.client import Pipeline

from brokers.base import Broker, BrokerTraits
from core.settings import Settings

PAPER = "paper"


def adapter_class(brokerage: str) -> type[Broker]:
    """The adapter class for ``brokerage`` (paper, or AutoRSA for every other brokerage)."""
    if brokerage == PAPER:
        from brokers.paper import PaperBroker

        return PaperBroker
    from brokers.autorsa import AutoRSABroker

    return AutoRSABroker


def traits_of(brokerage: str) -> BrokerTraits:
    """What kind of brokerage ``brokerage`` is: inline or not, ledger, worker state."""
    return adapter_class(brokerage).traits


def get_broker(
    brokerage: str, *, connection: redis.Redis, settings: Settings, group: str
) -> Broker:
    """The adapter that trades ``brokerage`` for accounts of ``group``."""
    cls = adapter_class(brokerage)
    if cls.traits.keeps_ledger:
        return cls(
            connection,
            group,
            default_starting_cash=Decimal(settings.paper_starting_cash),
            delay=settings.paper_delay,
            quote_max_age=settings.quote_max_age,
        )
    return cls(brokerage, settings, group, connection=connection)


def wipe_ledger(
    connection: redis.Redis, group: str, account: str, pipeline: Pipeline | None = None
) -> None:
    """Forget a deleted account's ledger, for brokerages that keep one in Redis."""
    from brokers.paper_ledger import PaperLedger

    PaperLedger(connection).wipe(group, account, pipeline=pipeline)
