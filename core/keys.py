"""Every Redis key tradefleet uses, built in one place on one prefix.

Nothing else formats key strings: registries call these functions, and keys
that are scanned have a parser that rejects anything else.
"""

from __future__ import annotations

PREFIX = "tf"


def _key(*parts: str) -> str:
    return ":".join((PREFIX, *parts))


# Registry -------------------------------------------------------------------


def groups() -> str:
    """Set of every group name."""
    return _key("groups")


def group(name: str) -> str:
    """Hash of one group's fields."""
    return _key("group", name)


def group_accounts(name: str) -> str:
    """Set of the account names in a group."""
    return _key("group", name, "accounts")


def group_jobs(name: str) -> str:
    """Sorted set of a group's job ids, scored by creation time (for listing)."""
    return _key("group", name, "jobs")


def group_pending(name: str) -> str:
    """List of a group's unfinished job ids in submission order (the run order)."""
    return _key("group", name, "pending")


def group_risk(name: str) -> str:
    """JSON of a group's risk rules (``strategies.risk``)."""
    return _key("group", name, "risk")


def group_risk_events(name: str) -> str:
    """List of a group's risk refusals (JSON), newest first."""
    return _key("group", name, "risk", "events")


def group_orders_today(name: str, day: str) -> str:
    """Counter of a group's real orders on one UTC day (``YYYY-MM-DD``)."""
    return _key("group", name, "orders", day)


def group_equity_at_open(name: str, day: str) -> str:
    """A group's paper equity at its first risk check of one UTC day."""
    return _key("group", name, "equity", day)


def group_schedules(name: str) -> str:
    """Hash schedule id -> JSON of a group's scheduled orders (``tasks.schedules``)."""
    return _key("group", name, "schedules")


def group_lock(name: str) -> str:
    """Mutex held while a worker advances a group's pending jobs."""
    return _key("group", name, "lock")


def account(group_name: str, name: str) -> str:
    """Hash of one account's fields (never its credentials)."""
    return _key("account", group_name, name)


def credentials(group_name: str, account_name: str) -> str:
    """Fernet token of one account's credentials."""
    return _key("secret", group_name, account_name)


# Jobs -----------------------------------------------------------------------


def job(job_id: str) -> str:
    """Hash of one job record."""
    return _key("job", job_id)


def job_results(job_id: str) -> str:
    """Hash of a job's per-account results, field ``<account>|<symbol>``."""
    return _key("job", job_id, "results")


def job_legs(job_id: str) -> str:
    """Hash brokerage -> ``<state>|<epoch seconds>``: each leg's progress (``core.legs``)."""
    return _key("job", job_id, "legs")


def exec_claim(job_id: str, brokerage: str) -> str:
    """Lease held by the live run of one brokerage leg of a job (``core.legs``)."""
    return _key("exec", job_id, brokerage)


def leg_resent(job_id: str, brokerage: str) -> str:
    """Marker that the sweeper re-sent a stalled leg (expires after the visibility timeout)."""
    return _key("exec", job_id, brokerage, "resent")


def job_waiting(job_id: str) -> str:
    """Hash account -> JSON of the code prompt it waits on now (``core.codes``); short-lived."""
    return _key("job", job_id, "waiting")


def job_code(job_id: str, account: str) -> str:
    """List holding a code on its way to one account's waiting AutoRSA run; popped on read."""
    return _key("job", job_id, "code", account)


def job_captcha(job_id: str, account: str) -> str:
    """Base64 PNG of the captcha one account's AutoRSA run asks about; gone after the answer."""
    return _key("job", job_id, "captcha", account)


def idempotency(group_name: str, idempotency_key: str) -> str:
    """Hash ``job``, ``fingerprint``: the job first created for an ``Idempotency-Key``."""
    return _key("idem", group_name, idempotency_key)


def job_events() -> str:
    """Pub/sub channel of job state changes."""
    return _key("events", "jobs")


# Market data and paper ledgers ---------------------------------------------


def quote(symbol: str) -> str:
    """Hash of a symbol's last quote (``price``, ``as_of``)."""
    return _key("quote", symbol)


def quotes() -> str:
    """Set of symbols with a quote."""
    return _key("quotes")


def quote_events() -> str:
    """Pub/sub channel of new quotes (JSON: symbol, price, as_of, source)."""
    return _key("events", "quotes")


def watchlist() -> str:
    """Hash ``symbols``, ``intervals`` (JSON lists): what beat pulls."""
    return _key("watchlist")


def market_pull(symbol: str, interval: str) -> str:
    """Lock held while one symbol and interval is being pulled (no two pulls overlap)."""
    return _key("market", "pull", symbol, interval)


def market_backfill(provider: str, symbol: str, interval: str, start: int, end: int) -> str:
    """ISO start of the next bar a backfill over ``[start, end)`` (epoch s) still has to fetch."""
    return _key("market", "backfill", provider, symbol, interval, str(start), str(end))


def market_last_bar(symbol: str, interval: str) -> str:
    """ISO start of the last bar stored for a symbol and interval (where the next pull resumes)."""
    return _key("market", "last", symbol, interval)


def paper_account(group_name: str, account_name: str) -> str:
    """Hash with a paper account's ``cash``."""
    return _key("paper", group_name, account_name)


def paper_positions(group_name: str, account_name: str) -> str:
    """Hash symbol -> quantity held by a paper account."""
    return _key("paper", group_name, account_name, "positions")


def paper_fills(group_name: str, account_name: str) -> str:
    """List of a paper account's fills (JSON), oldest first."""
    return _key("paper", group_name, account_name, "fills")


def paper_fill_ids(group_name: str, account_name: str) -> str:
    """Set of ``<job>|<symbol>`` already filled: a second fill is refused."""
    return _key("paper", group_name, account_name, "fill-ids")


def brokerage_rate(brokerage: str, window: int) -> str:
    """Counter of a brokerage's legs started in one rate-limit window."""
    return _key("rate", brokerage, str(window))


def brokerage_slots(brokerage: str) -> str:
    """Sorted set of the legs of a brokerage running now (member token, score expiry)."""
    return _key("slots", brokerage)


# Schwab OAuth and rate -------------------------------------------------------


def schwab_access() -> str:
    """Fernet token of the Schwab access token (JSON); its TTL is the token's life."""
    return _key("schwab", "access")


def schwab_refresh() -> str:
    """Hash: the encrypted refresh token, its creation time, last refresh and last error."""
    return _key("schwab", "refresh")


def schwab_refresh_lock() -> str:
    """Mutex of the one refresher (``brokers.schwab.tokens``)."""
    return _key("schwab", "refresh", "lock")


def schwab_login_state(state: str) -> str:
    """Marker of a login started by us (the OAuth ``state``), expiring with the login."""
    return _key("schwab", "login", state)


def schwab_bucket() -> str:
    """Hash ``tokens``, ``at``: the token bucket of Schwab calls shared by every worker."""
    return _key("schwab", "bucket")


# Notifications --------------------------------------------------------------


def notify_target(target_id: str) -> str:
    """Hash of one notification target (its URL or bot token sealed by the vault)."""
    return _key("notify", "target", target_id)


def notify_targets() -> str:
    """Set of every notification target id."""
    return _key("notify", "targets")


def notify_fleet() -> str:
    """Set of the ids of fleet-wide notification targets (every group's events)."""
    return _key("notify", "fleet")


def notify_group(group_name: str) -> str:
    """Set of the ids of one group's notification targets."""
    return _key("notify", "group", group_name)


def notify_once(event: str, marker: str) -> str:
    """Marker that an event was already announced (e.g. one Schwab login near its expiry)."""
    return _key("notify", "once", event, marker)


# Backtests and live signals ------------------------------------------------


def backtest(backtest_id: str) -> str:
    """Hash of one backtest record (``strategies.backtest_runs``)."""
    return _key("backtest", backtest_id)


def backtest_bars(backtest_id: str) -> str:
    """JSON arrays of a backtest's bars, read by its worker tasks; expiring."""
    return _key("backtest", backtest_id, "bars")


def backtest_chunks(backtest_id: str) -> str:
    """Hash chunk number -> JSON ``[[params, stats], ...]`` of a grid backtest's chunks."""
    return _key("backtest", backtest_id, "chunks")


def group_strategies(name: str) -> str:
    """Hash subscription id -> JSON of a group's strategy subscriptions (``strategies.signals``)."""
    return _key("group", name, "strategies")


def strategy_groups() -> str:
    """Set of the groups that have strategy subscriptions."""
    return _key("strategies", "groups")


def group_signals(name: str) -> str:
    """List of a group's signal ids (``<subscription>:<bar>``), newest first."""
    return _key("group", name, "signals")


def signal(subscription_id: str, bar: str) -> str:
    """JSON of the signal one subscription gave on one bar (its start, epoch s): once per bar."""
    return _key("signal", subscription_id, bar)


# Operations -----------------------------------------------------------------


def api_keys() -> str:
    """Hash sha256(key) -> JSON {name, created_at}."""
    return _key("apikeys")


def api_key_names() -> str:
    """Hash key name -> sha256(key), so keys can be revoked by name."""
    return _key("apikeys", "names")


def worker_heartbeat(hostname: str) -> str:
    """Expiring marker a live, consuming worker refreshes."""
    return _key("worker", hostname)


WORKER_HEARTBEAT_PATTERN = _key("worker", "*")


def worker_from_heartbeat_key(key: str) -> str:
    """The worker hostname in a heartbeat key.

    Raises:
        ValueError: ``key`` is not a heartbeat key.
    """
    head = _key("worker", "")
    if not key.startswith(head) or len(key) == len(head):
        raise ValueError(f"not a worker heartbeat key: {key!r}")
    return key[len(head) :]
