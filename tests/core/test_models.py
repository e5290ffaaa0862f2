from decimal import Decimal

import pytest

from core import keys
from core.models import (
    Job,
    JobKind,
    JobState,
    LegResult,
    OrderAction,
    OrderRequest,
    ResultStatus,
    is_valid_name,
    summarise,
)


def _results(*statuses):
    return [LegResult(f"a{i}", "paper", ResultStatus(s)) for i, s in enumerate(statuses)]


@pytest.mark.parametrize(
    ("statuses", "state"),
    [
        (("filled", "dry_run"), JobState.SUCCEEDED),
        (("filled", "rejected"), JobState.PARTIAL),
        (("rejected", "failed"), JobState.FAILED),
        (("filled", "unknown"), JobState.UNKNOWN),
        (("ok",), JobState.SUCCEEDED),
        ((), JobState.FAILED),
    ],
)
def test_summarise_unknown_wins_and_never_succeeds(statuses, state):
    assert summarise(_results(*statuses)) is state


def test_job_round_trips_through_a_redis_hash():
    order = OrderRequest(
        action=OrderAction.BUY, symbols=("AAPL",), quantity=Decimal("0.25"), dry_run=False
    )
    job = Job(id="j1", kind=JobKind.TRANSACTION, group="g", order=order, legs={"paper": ["a"]})
    restored = Job.from_hash(job.to_hash())
    assert restored.order == order
    assert restored.legs == {"paper": ["a"]}
    assert restored.created_at == job.created_at
    assert all(isinstance(v, str) for v in job.to_hash().values())


def test_order_request_defaults_to_dry_run():
    order = OrderRequest.from_dict({"action": "buy", "symbols": ["X"], "quantity": "1"})
    assert order.dry_run is True


@pytest.mark.parametrize("name", ["a", "0group", "fam-1_b", "x" * 64])
def test_valid_names(name):
    assert is_valid_name(name)


@pytest.mark.parametrize("name", ["", "-a", "_a", "A", "a b", "x" * 65, "a:b", None, 5])
def test_invalid_names(name):
    assert not is_valid_name(name)


def test_keys_share_one_prefix_and_heartbeat_parser_rejects_foreign_keys():
    assert keys.group("g") == "tf:group:g"
    assert keys.exec_claim("j", "chase") == "tf:exec:j:chase"
    assert keys.worker_from_heartbeat_key(keys.worker_heartbeat("w@h")) == "w@h"
    with pytest.raises(ValueError):
        keys.worker_from_heartbeat_key("tf:group:w")
