"""Brokerage adapters behind one interface (``brokers.base.Broker``)."""

from __future__ import annotations

from decimal import Decimal

import redis

from brokers.base import Broker
from core.settings import Settings


def get_broker(
    brokerage: str, *, connection: redis.Redis, settings: Settings, group: str
) -> Broker:
    """The adapter that trades ``brokerage`` for accounts of ``group``."""
    if brokerage == "paper":
        from brokers.paper import PaperBroker

        return PaperBroker(
            connection,
            group,
            default_starting_cash=Decimal(settings.paper_starting_cash),
            delay=settings.paper_delay,
        )
    from brokers.autorsa import AutoRSABroker

    return AutoRSABroker(brokerage, settings, group)


def calls_out(brokerage: str) -> bool:
    """Whether legs of ``brokerage`` leave this machine (and so fan out to their own queue)."""
    return brokerage != "paper"
