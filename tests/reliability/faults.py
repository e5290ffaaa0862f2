"""Fault-injection helpers: an isolated tradefleet (own Redis, workers, beat) driven without the API.

Each reliability test builds a :class:`Fleet`: a private ``redis-server`` (AOF on), Celery
workers and beat pointed at it, and a Celery client app that sends job tasks by name exactly
as ``tasks/operations.py`` does (job record first, then the task). The in-process
``tasks.celery.app`` is bound to the session broker at import time, so it is never used here.

:func:`check_outcomes` holds the invariants every fault test asserts: every job terminal,
no order filled twice, ledgers equal to their fills, every ``filled`` result backed by exactly
one fill, and jobs of a group run one after another in submission order.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import shutil
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import redis
from celery import Celery

from brokers.paper import PaperLedger
from core import keys
from core.accounts import AccountRegistry
from core.groups import GroupRegistry
from core.jobs import JobRegistry, new_job_id
from core.models import Account, Job, JobKind, OrderAction, OrderRequest, ResultStatus
from core.quotes import QuoteBook
from core.settings import get_settings
from core.vault import Vault
from tasks import names, routing
from tests.processes import ApiProcess, CeleryBeat, CeleryWorker
from tests.services import RedisServer, wait_until

TERMINAL = {"succeeded", "partial", "failed", "unknown", "cancelled"}
STARTING_CASH = Decimal("1000000")
PRICES = {"AAPL": Decimal("10"), "MSFT": Decimal("20")}

# Variables a worker inherits from the test process (the session conftest sets them).
_INHERITED = (
    "TRADEFLEET_SECRET_KEY",
    "TRADEFLEET_DATA_DIR",
    "AUTORSA_BIN",
    "AUTORSA_TIMEOUT",
    "WATCHLIST_SYMBOLS",  # empty in tests: no synthetic quotes over the fixed PRICES
)


def seed() -> int:
    """The random seed of a fault schedule: ``TF_FAULT_SEED`` to replay one, else fixed."""
    return int(os.environ.get("TF_FAULT_SEED", "20240607"))


@dataclass
class Fleet:
    """An isolated tradefleet: own Redis (AOF on), workers, beat and a task-sending client.

    Args:
        visibility_timeout: ``TRADEFLEET_VISIBILITY_TIMEOUT`` of every process (s).
        paper_delay: ``TRADEFLEET_PAPER_DELAY``: seconds each paper order takes.
        fsync_always: ``appendfsync always`` (a crashed Redis loses no acknowledged write).
    """

    visibility_timeout: int = 15
    paper_delay: float = 0.0
    fsync_always: bool = False
    redis_server: RedisServer = field(init=False)
    processes: list = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.redis_server = RedisServer().start(appendonly=True)
        self.conn = redis.Redis.from_url(
            self.redis_server.url, decode_responses=True, socket_timeout=5
        )
        self.apply_redis_config()
        url = self.redis_server.url
        self.client = Celery("tf-faults", broker=url, backend=url, set_as_current=False)
        # Celery prefers CELERY_BROKER_URL from the environment (the session broker, set by
        # tests/conftest.py) over the broker given here: pin the write and read URLs.
        self.client.conf.update(
            broker_write_url=url,
            broker_read_url=url,
            broker_transport_options={"visibility_timeout": self.visibility_timeout},
            task_serializer="json",
            accept_content=["json"],
            broker_connection_retry_on_startup=True,
        )
        self.jobs = JobRegistry(self.conn)
        self.accounts = AccountRegistry(self.conn)
        self.groups = GroupRegistry(self.conn)
        self.vault = Vault(self.conn, get_settings().secret_keys)
        self.ledger = PaperLedger(self.conn)
        for symbol, price in PRICES.items():
            QuoteBook(self.conn).set(symbol, price)

    # Processes ---------------------------------------------------------------

    def apply_redis_config(self) -> None:
        if self.fsync_always:
            self.conn.config_set("appendfsync", "always")

    def env(self, **overrides: str) -> dict[str, str]:
        url = self.redis_server.url
        env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        env.update(
            REDIS_URL=url,
            CELERY_BROKER_URL=url,
            CELERY_RESULT_BACKEND=url,
            TRADEFLEET_VISIBILITY_TIMEOUT=str(self.visibility_timeout),
            TRADEFLEET_PAPER_DELAY=str(self.paper_delay),
            TRADEFLEET_WORKER_GROUPS=None,
            TRADEFLEET_WORKER_BROKERAGES=None,
        )
        env.update(overrides)
        return env

    def worker(
        self,
        name: str,
        concurrency: int = 2,
        start: bool = True,
        extra_args: tuple[str, ...] = (),
        **env,
    ) -> CeleryWorker:
        worker = CeleryWorker(
            self.env(**env),
            concurrency=concurrency,
            hostname=f"{name}-{uuid.uuid4().hex[:6]}@%h",
            extra_args=extra_args,
        )
        self.processes.append(worker)
        return worker.start() if start else worker

    def beat(self, **env) -> CeleryBeat:
        beat = CeleryBeat(self.env(**env))
        self.processes.append(beat)
        return beat.start()

    def api(self, **env) -> ApiProcess:
        """The API under gunicorn on this fleet's Redis (``env`` overrides, e.g. the broker)."""
        api = ApiProcess(self.env(**env))
        self.processes.append(api)
        return api.start()

    def close(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):  # best effort: stop the others too
                process.stop(timeout=10)
        # Keep the logs (service temp dirs are removed at exit): TF_FAULT_LOGS=<dir>.
        if os.environ.get("TF_FAULT_LOGS"):
            keep = Path(os.environ["TF_FAULT_LOGS"]) / uuid.uuid4().hex[:6]
            keep.mkdir(parents=True, exist_ok=True)
            for n, process in enumerate(self.processes):
                with contextlib.suppress(OSError):
                    shutil.copy(process.log_path, keep / f"{n}-{process.log_path.name}")
            with contextlib.suppress(OSError):
                shutil.copy(self.redis_server.log_path, keep / "redis.log")
        with contextlib.suppress(Exception):
            self.client.close()
        self.conn.close()
        self.redis_server.stop()

    # Driving jobs (the writes of tasks/operations.py, through this fleet's client) --

    def create_group(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.groups.create(name)
        return name

    def _enqueue(self, job: Job) -> str:
        self.jobs.create(job)
        self.client.send_task(
            names.ADVANCE_GROUP,
            args=[job.group, job.id],
            queue=routing.group_queue(job.group),
        )
        return job.id

    def add_paper_account(self, group: str, name: str, cash: Decimal = STARTING_CASH) -> str:
        """Register a paper account and queue its activation; returns the job id."""
        with self.conn.pipeline() as pipe:
            self.vault.store(group, name, {"starting_cash": str(cash)}, pipeline=pipe)
            self.accounts.save(Account(group=group, name=name, brokerage="paper"), pipeline=pipe)
            pipe.execute()
        return self._enqueue(Job(id=new_job_id(), kind=JobKind.ACTIVATE, group=group, account=name))

    def deactivate(self, group: str, name: str) -> str:
        return self._enqueue(
            Job(id=new_job_id(), kind=JobKind.DEACTIVATE, group=group, account=name)
        )

    def order(self, group: str, action: str = "buy", symbols=("AAPL",), quantity: int = 1) -> str:
        order = OrderRequest(
            action=OrderAction(action),
            symbols=tuple(symbols),
            quantity=Decimal(quantity),
            dry_run=False,
        )
        return self._enqueue(
            Job(id=new_job_id(), kind=JobKind.TRANSACTION, group=group, order=order)
        )

    def states(self, job_ids) -> dict[str, str]:
        with self.conn.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hget(keys.job(job_id), "state")
            return dict(zip(job_ids, pipe.execute(), strict=True))

    def unfinished(self, job_ids) -> list[str]:
        return [j for j, s in self.states(list(job_ids)).items() if s not in TERMINAL]

    def wait_terminal(self, job_ids, timeout: float) -> float:
        """Wait until every job is terminal; returns the seconds it took."""
        started = time.monotonic()
        try:
            wait_until(lambda: not self.unfinished(job_ids), timeout, interval=0.2)
        except TimeoutError:
            left = self.unfinished(job_ids)
            heads = {g: self.jobs.head(g) for g in self.groups.names()}
            raise AssertionError(
                f"{len(left)} jobs not terminal after {timeout} s, e.g. "
                f"{[self.jobs.fetch(j) for j in left[:2]]}; group heads {heads}; "
                f"locks {[(g, self.conn.pttl(keys.group_lock(g))) for g in heads]}"
            ) from None
        return time.monotonic() - started

    def running_jobs(self, job_ids) -> list[str]:
        return [j for j, s in self.states(list(job_ids)).items() if s == "running"]


def wait_for_running(fleet: Fleet, job_ids, timeout: float = 30) -> bool:
    """Wait until some job is running (a leg is in flight); False if none started in time."""
    try:
        wait_until(lambda: fleet.running_jobs(job_ids), timeout, interval=0.02)
    except TimeoutError:
        return False
    return True


def random_pause(rng: random.Random, low: float, high: float) -> None:
    time.sleep(rng.uniform(low, high))


@dataclass
class Outcome:
    """What :func:`check_outcomes` found, for the test's assertions and the report."""

    jobs: int = 0
    results: Counter = field(default_factory=Counter)
    fills: int = 0
    unknown_with_fill: int = 0
    unknown_without_fill: int = 0


def check_outcomes(
    fleet: Fleet,
    job_ids: list[str],
    *,
    deactivated: set[tuple[str, str]] = frozenset(),
    allow_unknown: bool = True,
) -> Outcome:
    """Assert the safety invariants over ``job_ids`` (all of the fleet's jobs).

    * every job is terminal; activations and deactivations succeeded and the accounts
      ended ``active`` (``inactive`` for those in ``deactivated``);
    * no account has more than one fill for a (job, symbol); every ``filled`` result has
      exactly one fill; a fill without a ``filled`` result belongs to an ``unknown`` one;
    * each ledger's cash and positions equal what its fills imply;
    * jobs of a group ran one at a time, in submission order.
    """
    outcome = Outcome(jobs=len(job_ids))
    jobs = [fleet.jobs.fetch(j) for j in job_ids]
    by_group: dict[str, list[Job]] = defaultdict(list)
    results_by_account: dict[tuple[str, str], dict[tuple[str, str], ResultStatus]] = defaultdict(
        dict
    )
    for job in jobs:
        assert job.state.value in TERMINAL, (job.id, job.state, job.kind)
        by_group[job.group].append(job)
        if job.kind in (JobKind.ACTIVATE, JobKind.DEACTIVATE):
            assert job.state.value == "succeeded", (job.kind, job.state, job.results, job.error)
        for result in job.results:
            outcome.results[result.status.value] += 1
            if job.kind is JobKind.TRANSACTION:
                if not allow_unknown:
                    assert result.status is not ResultStatus.UNKNOWN, result
                assert result.status in (
                    ResultStatus.FILLED,
                    ResultStatus.UNKNOWN,
                    ResultStatus.REJECTED,
                ), result
                key = (job.id, result.symbol)
                results_by_account[(job.group, result.account)][key] = result.status
        if job.kind is JobKind.TRANSACTION:
            expected = {
                (a, s)
                for accounts in job.legs.values()
                for a in accounts
                for s in job.order.symbols
            }
            assert {(r.account, r.symbol) for r in job.results} == expected, (
                f"job {job.id} lacks results: {job.results}"
            )

    for group, group_jobs in by_group.items():
        for account in fleet.accounts.list_group(group):
            wanted = "inactive" if (group, account.name) in deactivated else "active"
            assert account.state.value == wanted, (group, account.name, account.state)
            fills = fleet.ledger.fills(group, account.name)
            counts = Counter((f.job_id, f.symbol) for f in fills)
            doubled = {k: n for k, n in counts.items() if n > 1}
            assert not doubled, f"{group}/{account.name} filled twice: {doubled}"
            outcome.fills += len(fills)
            statuses = results_by_account[(group, account.name)]
            for key, status in statuses.items():
                if status is ResultStatus.FILLED:
                    assert counts[key] == 1, f"{group}/{account.name} {key} filled without fill"
                elif status is ResultStatus.UNKNOWN:
                    if counts[key]:
                        outcome.unknown_with_fill += 1
                    else:
                        outcome.unknown_without_fill += 1
            for key in counts:
                assert statuses.get(key) in (ResultStatus.FILLED, ResultStatus.UNKNOWN), (
                    f"{group}/{account.name}: fill {key} but result {statuses.get(key)}"
                )
            cash, held = STARTING_CASH, Counter()
            for fill in fills:
                sign = 1 if fill.side == "buy" else -1
                cash -= sign * Decimal(fill.quantity) * Decimal(fill.price)
                held[fill.symbol] += sign * Decimal(fill.quantity)
            assert fleet.ledger.cash(group, account.name) == cash, (group, account.name)
            assert fleet.ledger.positions(group, account.name) == {
                s: q for s, q in held.items() if q
            }, (group, account.name)

        ordered = sorted(group_jobs, key=lambda j: j.created_at)
        ran = [j for j in ordered if j.started_at is not None]
        for before, after in itertools.pairwise(ran):
            assert before.finished_at is not None, before
            assert after.started_at >= before.finished_at, (
                f"group {group}: job {after.id} started {after.started_at} before "
                f"{before.id} finished {before.finished_at}"
            )
    return outcome
