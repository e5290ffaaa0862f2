"""Domain records built for tests, with only what a test cares about spelled out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from strategies.signals import Signal


def daily_signal(
    group: str,
    symbol: str,
    epoch: int,
    action: str,
    close: float,
    subscription: str = "sub1",
    **fields: Any,
) -> Signal:
    """A ``sma_cross`` signal of ``subscription`` on the daily bar starting at ``epoch``:
    a ``buy`` enters long (target 1 from 0), anything else leaves it."""
    target, previous = (1, 0) if action == "buy" else (0, 1)
    return Signal(
        id=f"{subscription}:{epoch}",
        subscription=subscription,
        group=group,
        strategy="sma_cross",
        symbol=symbol,
        interval="1d",
        bar=datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        close=close,
        action=action,
        target=target,
        previous=previous,
        **{"auto_trade": False, **fields},
    )
