"""Task names, shared by the tasks, the routing, beat and the API (which sends by name)."""

ADVANCE_GROUP = "tasks.advance_group"
RUN_LEG = "tasks.run_leg"
SWEEP_GROUPS = "tasks.sweep_groups"
REFRESH_HOLDINGS = "tasks.refresh_holdings"
HEARTBEAT = "tasks.heartbeat"
FORGET_ACCOUNT = "tasks.forget_account"
RUN_SCHEDULE = "tasks.run_schedule"
REFRESH_SCHWAB_TOKEN = "tasks.refresh_schwab_token"
DELIVER_NOTIFICATION = "tasks.deliver_notification"

# Remote-control command: workers re-read the groups and adjust their queues.
SYNC_GROUPS_COMMAND = "tradefleet_sync_groups"

# Market data (tasks.market)
PULL_WATCHLIST = "tasks.pull_watchlist"
PULL_BARS = "tasks.pull_bars"
REFRESH_QUOTES = "tasks.refresh_quotes"
WRITE_METRICS = "tasks.write_metrics"

# Backtests and live signals (tasks.backtests, tasks.signals), on the strategies queue
RUN_BACKTEST_CHUNK = "tasks.run_backtest_chunk"
EVALUATE_SIGNALS = "tasks.evaluate_signals"
