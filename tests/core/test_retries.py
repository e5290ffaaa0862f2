from decimal import Decimal

import pytest

from core.errors import Conflict, InvalidRequest
from core.models import (
    Job,
    JobKind,
    JobState,
    LegResult,
    OrderAction,
    OrderRequest,
    ResultStatus,
)
from core.retries import retry_orders

ORDER = OrderRequest(OrderAction.BUY, ("AAPL", "MSFT"), Decimal("1"), dry_run=False)


def _job(*results, state=JobState.UNKNOWN):
    job = Job(id="j", kind=JobKind.TRANSACTION, group="g", state=state, order=ORDER)
    job.results = [LegResult(a, "robinhood", ResultStatus(s), symbol=sym) for a, sym, s in results]
    return job


def test_retry_only_the_pairs_that_did_not_succeed():
    job = _job(
        ("a", "AAPL", "filled"), ("a", "MSFT", "failed"),
        ("b", "AAPL", "failed"), ("b", "MSFT", "failed"),
        ("c", "AAPL", "unknown"), ("c", "MSFT", "failed"),
    )  # fmt: skip
    orders = retry_orders(job, (ResultStatus.FAILED,), checked_brokerage=False)
    assert [(o.symbols, o.accounts) for o in orders] == [
        (("AAPL", "MSFT"), ("b",)),
        (("MSFT",), ("a", "c")),
    ]
    assert all(o.dry_run is False and o.quantity == 1 for o in orders)


def test_unknown_needs_the_brokerage_checked():
    job = _job(("a", "AAPL", "unknown"))
    with pytest.raises(InvalidRequest, match="may already have been placed"):
        retry_orders(job, (ResultStatus.UNKNOWN,), checked_brokerage=False)
    orders = retry_orders(job, (ResultStatus.UNKNOWN,), checked_brokerage=True)
    assert orders[0].accounts == ("a",) and orders[0].symbols == ("AAPL",)


def test_nothing_to_retry_or_not_finished_is_a_conflict():
    with pytest.raises(Conflict, match="no failed results"):
        retry_orders(_job(("a", "AAPL", "filled")), (ResultStatus.FAILED,), checked_brokerage=False)
    with pytest.raises(Conflict, match="wait until it has finished"):
        retry_orders(_job(state=JobState.RUNNING), (ResultStatus.FAILED,), checked_brokerage=False)
    with pytest.raises(InvalidRequest):
        retry_orders(_job(), (ResultStatus.FILLED,), checked_brokerage=False)
