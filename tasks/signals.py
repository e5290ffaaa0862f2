"""Live signals on the ``strategies`` queue: after a bar pull writes new bars
(``tasks.market.pull_bars``), :func:`evaluate_signals` runs every subscription to that
symbol and interval on the stored bars and records what it decides on the newest bar
(``strategies.signals``).

With ``auto_trade`` the decision becomes a transaction job through
``Operations.submit_order`` (the API's path: the group's risk rules apply), with the
idempotency key ``signal-<subscription>-<bar>``: an evaluation that runs twice for the same
bar (a redelivered task, a second pull) finds the signal already recorded and acts no more,
and even two acting at once make one job. A refusal by a risk rule is recorded on the signal (and in
the group's risk audit list).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import redis

from core.errors import NotFound, RiskRuleViolation
from core.models import OrderAction, OrderRequest, from_iso, to_iso, utcnow
from core.settings import Settings
from ingest.providers.base import check_interval
from ingest.store import InfluxUnavailable, MarketStore
from strategies.backtest_runs import bars_from_store
from strategies.errors import StrategyError
from strategies.registry import get_strategy
from strategies.signals import Signal, SignalBook, Subscription, SubscriptionBook, decide
from tasks import context, names
from tasks.celery import app
from tasks.operations import Operations

log = logging.getLogger(__name__)

LOOKBACK_BARS = 1000  # bars read per evaluation (the warm-up of any built-in fits)
ACT_SECONDS = 60


def evaluate_bar(
    connection: redis.Redis,
    settings: Settings,
    store: MarketStore,
    symbol: str,
    interval: str,
) -> list[Signal]:
    """Evaluate every subscription to ``symbol`` at ``interval`` on the newest stored bar;
    returns the signals (new or found)."""
    subscriptions = SubscriptionBook(connection).matching(symbol, interval)
    if not subscriptions:
        return []
    step = check_interval(interval)
    rows = store.bars(symbol, interval, utcnow() - step * LOOKBACK_BARS, utcnow() + timedelta(1))
    if not rows:
        return []
    bars = bars_from_store(rows)
    newest = rows[-1]
    out = []
    for subscription in subscriptions:
        try:
            decision = decide(get_strategy(subscription.strategy), subscription.params, bars)
        except StrategyError as exc:
            log.warning("signal %s: %s", subscription.id, exc.message)
            continue
        signal = Signal(
            id=f"{subscription.id}:{int(newest.start.timestamp())}",
            subscription=subscription.id,
            group=subscription.group,
            strategy=subscription.strategy,
            symbol=symbol,
            interval=interval,
            bar=to_iso(newest.start),
            close=float(newest.close),
            action=decision.action,
            target=decision.target,
            previous=decision.previous,
            auto_trade=subscription.auto_trade,
        )
        out.append(act(connection, settings, subscription, signal))
    return out


def act(
    connection: redis.Redis, settings: Settings, subscription: Subscription, signal: Signal
) -> Signal:
    """Record ``signal`` once and, with ``auto_trade``, submit its order once."""
    book = SignalBook(connection)
    signal, new = book.record(signal)
    wants_trade = signal.auto_trade and signal.action in ("buy", "sell")
    if not wants_trade or signal.outcome in ("submitted", "refused"):
        return signal
    # The evaluation that recorded the signal acts on it; another one only when that one
    # has had ACT_SECONDS and left no outcome (it died). Its idempotency key keeps even
    # two acting at once to one job.
    if not new and (utcnow() - from_iso(signal.at)).total_seconds() < ACT_SECONDS:
        return signal
    order = OrderRequest(
        action=OrderAction(signal.action),
        symbols=(signal.symbol,),
        quantity=Decimal(subscription.quantity),
        dry_run=subscription.dry_run,
    )
    key = f"signal-{subscription.id}-{signal.id.rsplit(':', 1)[1]}"
    try:
        submitted = Operations(connection, settings).submit_order(
            subscription.group, order, idempotency_key=key, origin=f"signal:{signal.id}"
        )
    except RiskRuleViolation as exc:
        signal.outcome, signal.detail = "refused", exc.message
        signal.risk = dict(exc.errors.get("risk") or {})
    except NotFound as exc:  # the group was deleted since
        signal.outcome, signal.detail = "failed", exc.message
    else:
        signal.outcome, signal.job_id = "submitted", submitted.job.id
    book.update(signal)
    return signal


@app.task(
    name=names.EVALUATE_SIGNALS,
    ignore_result=True,
    autoretry_for=(InfluxUnavailable,),
    retry_backoff=True,
    max_retries=3,
)
def evaluate_signals(symbol: str, interval: str) -> int:
    """Evaluate the subscriptions to ``symbol`` at ``interval``; returns how many signals."""
    from tasks.market import store

    market_store = store()
    if market_store is None:
        return 0  # no bars store: nothing to evaluate
    return len(
        evaluate_bar(context.connection(), context.settings(), market_store, symbol, interval)
    )
