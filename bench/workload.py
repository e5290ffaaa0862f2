"""What the benches ask of tradefleet: one symbol, paper accounts with plenty of cash, real orders.

Every order is ``buy 1 BNCH`` with ``dry_run: false``, so every result is a real paper fill;
the quote is 1.00 and every account starts with 100,000,000, so no order is refused for cash.
"""

from __future__ import annotations

from core.models import TERMINAL_JOB_STATES

SYMBOL = "BNCH"
PRICE = "1.00"
STARTING_CASH = "100000000"
ORDER = {"action": "buy", "symbols": [SYMBOL], "quantity": 1, "dry_run": False}
NOOP_TASK = "bench.noop"  # bench/noop_task.py: the no-op baseline task, run by real workers
TERMINAL = frozenset(TERMINAL_JOB_STATES)  # a job in one of these states is done
