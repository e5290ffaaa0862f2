"""JobRegistry on a real Redis: one atomic create, idempotency keys, idempotent finish and fail.

Groups are named ``jobs-*``, which no test worker serves, so only these tests move their jobs.
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal

import pytest

from core import keys
from core.groups import GroupRegistry
from core.jobs import IDEMPOTENCY_TTL_SECONDS, Created, JobRegistry, Write, new_job_id
from core.leases import new_token
from core.legs import Claim, LegBook
from core.models import (
    Job,
    JobKind,
    JobState,
    LegResult,
    OrderAction,
    OrderRequest,
    ResultStatus,
    to_iso,
    utcnow,
)

pytestmark = pytest.mark.integration

ORDER = OrderRequest(action=OrderAction.BUY, symbols=("AAPL",), quantity=Decimal("2"))


@pytest.fixture
def group(redis_client):
    """A fresh group; every job, key and record left in it is removed at teardown."""
    name = f"jobs-{uuid.uuid4().hex[:10]}"
    GroupRegistry(redis_client).create(name)
    yield name
    ids = redis_client.zrange(keys.group_jobs(name), 0, -1)
    JobRegistry(redis_client).retire_group_jobs(name, 1)
    GroupRegistry(redis_client).delete(name)
    leftovers = [keys.exec_claim(i, b) for i in ids for b in ("paper", "robinhood")]
    leftovers += redis_client.keys(f"{keys.idempotency(name, '')}*")
    leftovers += [keys.account(name, "a1"), keys.credentials(name, "a1")]
    redis_client.delete(*leftovers)


def _job(group: str) -> Job:
    return Job(id=new_job_id(), kind=JobKind.TRANSACTION, group=group, order=ORDER)


def _also(group: str) -> list[Write]:
    return [
        Write("HSET", keys.account(group, "a1"), "name", "a1", "state", "pending"),
        Write("SADD", keys.group_accounts(group), "a1"),
        Write("SET", keys.credentials(group, "a1"), "sealed-token"),
    ]


def _run(redis_client, job: Job, outcomes: dict[str, list[ResultStatus]], report=None) -> None:
    """Plan ``job`` with one leg per brokerage, record ``outcomes`` and report the legs named
    in ``report`` (default: all)."""
    book = LegBook(redis_client)
    legs = {b: [f"{b}-{i}" for i in range(len(s))] for b, s in outcomes.items()}
    assert book.plan(job.id, json.dumps(legs, sort_keys=True), legs, to_iso(utcnow()))
    for brokerage, statuses in outcomes.items():
        token = new_token()
        assert book.claim(job.id, brokerage, token, 10_000) is Claim.CLAIMED
        results = [
            LegResult.for_order(account, brokerage, ORDER, "AAPL", status, "")
            for account, status in zip(legs[brokerage], statuses, strict=True)
        ]
        reporting = report is None or brokerage in report
        assert book.record(job.id, brokerage, token, results, report=reporting) >= 0


# create ----------------------------------------------------------------------


def test_create_writes_job_run_order_and_also_together(redis_client, group):
    registry = JobRegistry(redis_client)
    first, second = _job(group), _job(group)
    assert registry.create(first, also=_also(group)) == Created(first.id, created=True)
    assert registry.create(second) == Created(second.id, created=True)

    assert redis_client.hgetall(keys.job(first.id)) == first.to_hash()
    assert redis_client.zscore(keys.group_jobs(group), first.id) == pytest.approx(
        first.created_at.timestamp()
    )
    assert registry.count_group(group) == 2
    assert registry.pending(group) == [first.id, second.id]  # the run order
    assert registry.head(group) == first.id
    assert redis_client.hgetall(keys.account(group, "a1")) == {"name": "a1", "state": "pending"}
    assert redis_client.smembers(keys.group_accounts(group)) == {"a1"}
    assert redis_client.get(keys.credentials(group, "a1")) == "sealed-token"

    fetched = registry.fetch(first.id)
    assert (fetched.id, fetched.group, fetched.state, fetched.order) == (
        first.id,
        group,
        JobState.QUEUED,
        ORDER,
    )
    assert fetched.results == [] and fetched.leg_states == {}


def test_create_in_a_missing_group_writes_nothing(redis_client):
    missing = f"jobs-missing-{uuid.uuid4().hex[:8]}"
    job = _job(missing)
    also = _also(missing)
    created = JobRegistry(redis_client).create(
        job, idempotency_key="k-1", fingerprint="fp", also=also
    )
    assert created is None
    written = [
        keys.group(missing),
        keys.job(job.id),
        keys.job_results(job.id),
        keys.job_legs(job.id),
        keys.group_jobs(missing),
        keys.group_pending(missing),
        keys.idempotency(missing, "k-1"),
        *(w.key for w in also),
    ]
    assert {key: redis_client.exists(key) for key in written} == dict.fromkeys(written, 0)


def test_create_same_idempotency_key_returns_the_first_job(redis_client, group):
    registry = JobRegistry(redis_client)
    first, again = _job(group), _job(group)
    assert registry.create(first, idempotency_key="order-1", fingerprint="fp-first") == Created(
        first.id, created=True
    )
    idem = keys.idempotency(group, "order-1")
    assert redis_client.hgetall(idem) == {"job": first.id, "fingerprint": "fp-first"}
    assert 0 < redis_client.ttl(idem) <= IDEMPOTENCY_TTL_SECONDS

    repeated = registry.create(
        again, idempotency_key="order-1", fingerprint="fp-other", also=_also(group)
    )
    assert repeated == Created(first.id, created=False, fingerprint="fp-first")
    # Nothing of the second job was written, not even what it brought along.
    assert not redis_client.exists(keys.job(again.id))
    assert registry.pending(group) == [first.id]
    assert registry.count_group(group) == 1
    assert not redis_client.exists(keys.account(group, "a1"))
    assert not redis_client.exists(keys.credentials(group, "a1"))
    assert redis_client.hgetall(idem) == {"job": first.id, "fingerprint": "fp-first"}

    # Another key, or no key, is another job.
    other = _job(group)
    assert registry.create(other, idempotency_key="order-2", fingerprint="fp-first").created
    assert registry.create(_job(group)).created
    assert registry.count_group(group) == 3


def test_create_idempotency_key_is_scoped_to_its_group(redis_client, group):
    registry = JobRegistry(redis_client)
    other_group = f"jobs-{uuid.uuid4().hex[:10]}"
    GroupRegistry(redis_client).create(other_group)
    try:
        here, there = _job(group), _job(other_group)
        assert registry.create(here, idempotency_key="shared", fingerprint="fp").created
        assert registry.create(there, idempotency_key="shared", fingerprint="fp") == Created(
            there.id, created=True
        )
    finally:
        registry.retire_group_jobs(other_group, 1)
        GroupRegistry(redis_client).delete(other_group)
        redis_client.delete(keys.idempotency(other_group, "shared"))


def test_write_refuses_commands_other_than_set_hset_sadd():
    with pytest.raises(ValueError):
        Write("DEL", "tf:anything")
    assert Write("HSET", "k", "n", 1).args == ("n", "1")


# finish ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "state"),
    [
        ({"paper": [ResultStatus.DRY_RUN, ResultStatus.DRY_RUN]}, JobState.SUCCEEDED),
        ({"paper": [ResultStatus.FILLED], "robinhood": [ResultStatus.REJECTED]}, JobState.PARTIAL),
        ({"paper": [ResultStatus.FAILED, ResultStatus.REJECTED]}, JobState.FAILED),
        ({"paper": [ResultStatus.FILLED], "robinhood": [ResultStatus.UNKNOWN]}, JobState.UNKNOWN),
    ],
    ids=["succeeded", "partial", "failed", "unknown"],
)
def test_finish_is_idempotent_and_takes_its_state_from_the_results(
    redis_client, group, outcomes, state
):
    registry = JobRegistry(redis_client)
    job = _job(group)
    assert registry.create(job).created
    _run(redis_client, job, outcomes)

    finished = registry.finish(job.id)
    assert finished is not None
    assert finished.state is state
    assert finished.finished_at is not None
    stored = redis_client.hgetall(keys.job(job.id))
    assert stored["state"] == state
    assert stored["finished_at"] == to_iso(finished.finished_at)

    assert registry.finish(job.id) is None
    assert redis_client.hgetall(keys.job(job.id)) == stored
    assert registry.fail(job.id, "too late") is None
    assert redis_client.hgetall(keys.job(job.id)) == stored


def test_finish_refuses_while_a_leg_is_unreported(redis_client, group):
    registry = JobRegistry(redis_client)
    job = _job(group)
    assert registry.create(job).created
    outcomes = {"paper": [ResultStatus.FILLED], "robinhood": [ResultStatus.FILLED]}
    _run(redis_client, job, outcomes, report={"paper"})

    assert registry.finish(job.id) is None
    stored = redis_client.hgetall(keys.job(job.id))
    assert stored["state"] == JobState.RUNNING
    assert stored["finished_at"] == ""

    book = LegBook(redis_client)
    redis_client.delete(keys.exec_claim(job.id, "robinhood"))
    token = new_token()
    assert book.claim(job.id, "robinhood", token, 10_000) is Claim.ORPHANED
    assert book.record(job.id, "robinhood", token, [], report=True) == 0
    finished = registry.finish(job.id)
    assert finished is not None and finished.state is JobState.SUCCEEDED


def test_fail_ends_a_queued_job_once(redis_client, group):
    registry = JobRegistry(redis_client)
    job = _job(group)
    assert registry.create(job).created

    failed = registry.fail(job.id, "no active accounts")
    assert failed is not None
    assert (failed.state, failed.error) == (JobState.FAILED, "no active accounts")
    stored = redis_client.hgetall(keys.job(job.id))
    assert (stored["state"], stored["error"]) == ("failed", "no active accounts")
    assert stored["finished_at"]

    assert registry.fail(job.id, "another reason") is None
    assert registry.finish(job.id) is None
    assert redis_client.hgetall(keys.job(job.id)) == stored


# job events ------------------------------------------------------------------


def _events(pubsub, ids: set[str], settle: float = 0.5) -> list[dict]:
    """Every job event about ``ids`` until none has come for ``settle`` seconds."""
    seen: list[dict] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < settle:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is None:
            continue
        quiet_since = time.monotonic()
        event = json.loads(message["data"])
        if event["id"] in ids:  # other tests' jobs share the channel
            seen.append(event)
    return seen


def test_job_events_one_message_per_create_and_finish(redis_client, group):
    registry = JobRegistry(redis_client)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(keys.job_events())
    try:
        assert pubsub.get_message(timeout=2)["type"] == "subscribe"
        ran, failed, repeated = _job(group), _job(group), _job(group)
        stray = _job(f"jobs-missing-{uuid.uuid4().hex[:8]}")

        assert registry.create(ran, idempotency_key="once", fingerprint="fp").created
        assert not registry.create(repeated, idempotency_key="once", fingerprint="fp").created
        assert registry.create(stray) is None
        assert registry.create(failed).created
        _run(redis_client, ran, {"paper": [ResultStatus.DRY_RUN]})
        assert registry.finish(ran.id) is not None
        assert registry.finish(ran.id) is None
        assert registry.fail(failed.id, "nothing to do") is not None
        assert registry.fail(failed.id, "nothing to do") is None

        events = _events(pubsub, {ran.id, failed.id, repeated.id, stray.id})
    finally:
        pubsub.close()
    base = {"group": group, "kind": "transaction"}
    assert events == [
        {**base, "id": ran.id, "state": "queued"},
        {**base, "id": failed.id, "state": "queued"},
        {**base, "id": ran.id, "state": "succeeded"},
        {**base, "id": failed.id, "state": "failed"},
    ]
