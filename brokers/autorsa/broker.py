"""``AutoRSABroker``: the :class:`~brokers.base.Broker` for AutoRSA brokerages.

Every account runs in its own AutoRSA process (see :mod:`brokers.autorsa.runner`),
one after another, so each result belongs to exactly one account of ours.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from brokers.autorsa.command import build_holdings_argv, build_trade_argv
from brokers.autorsa.holdings import HoldingsReading, parse_holdings
from brokers.autorsa.parser import parse_trade
from brokers.autorsa.runner import TERM_GRACE_SECONDS, RunOutcome, run_autorsa
from brokers.autorsa.scrub import Scrubber
from brokers.base import AccountHoldings, BrokerAccount, BrokerTraits
from brokers.credentials import BROKERAGES, autorsa_entry
from core.errors import InvalidRequest
from core.models import LegResult, OrderRequest, OrderType, ResultStatus
from core.settings import Settings

log = logging.getLogger(__name__)

LIMIT_UNSUPPORTED = (
    "limit orders are not supported through AutoRSA 2.2.0 (its command line places market "
    "orders only); nothing was placed"
)


@dataclass
class ActivationResult(LegResult):
    """The result of :meth:`AutoRSABroker.activate`: a ``LegResult`` plus details.

    ``account_details`` (only when ``status`` is ``ok``) is what the job runner
    records on ``Account.details``: ``{"masked_numbers": ["xxxx1234", ...],
    "total": "1234.56" or None, "positions": <count>}``. It never holds a
    secret. ``to_json`` drops it, so the job's result hash stores a plain
    ``LegResult``.
    """

    account_details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        base = {f.name: getattr(self, f.name) for f in fields(LegResult)}
        return LegResult(**base).to_json()


class AutoRSABroker:
    """Trades one brokerage's accounts of one group through AutoRSA.

    Args:
        brokerage: an AutoRSA brokerage name (``robinhood``, ``tradier``, ...).
        settings: ``autorsa_bin``, ``autorsa_timeout_for(brokerage)`` and
            ``data_dir`` (account state lives in ``<data_dir>/autorsa/<group>/<account>/``).
        group: the group whose accounts this adapter runs.
        extra_env: variables added to every AutoRSA run's environment (e.g. a
            test stand-in's switches). Never put credentials here.

    Raises:
        ValueError: ``brokerage`` is not run through AutoRSA.
    """

    # Calls out to the brokerage (own queue), keeps no ledger of its own (an interrupted
    # leg is ``unknown``), keeps sessions in per-account state dirs on its workers.
    traits = BrokerTraits(
        runs_inline=False,
        keeps_ledger=False,
        keeps_worker_state=True,
        trades_with_credentials=True,
    )

    def __init__(
        self,
        brokerage: str,
        settings: Settings,
        group: str,
        *,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        info = BROKERAGES.get(brokerage)
        if info is None or info.env_var is None or info.label is None:
            raise ValueError(f"{brokerage!r} is not an AutoRSA brokerage")
        self.name = brokerage
        self.settings = settings
        self.group = group
        self._env_var = info.env_var
        self._label = info.label
        self._extra_env = dict(extra_env or {})

    # --- Broker protocol -------------------------------------------------------

    def account_time_bound(self) -> float:
        """One run at its time limit, then killing what is left of it.

        A run also waits for the account's state lock when another run of the same
        account holds it; within a group's order that only happens to a stale copy of
        a leg, which the leg's lease keeps from running, so the wait is not budgeted.
        """
        return self.settings.autorsa_timeout_for(self.name) + TERM_GRACE_SECONDS + 5

    def activate(self, account: BrokerAccount) -> ActivationResult:
        """Log in and read holdings for ``account`` alone.

        Returns:
            ``ok`` with a summary and ``account_details`` (masked numbers,
            total), or ``failed`` with the reason (wrong password, 2FA needed,
            browser missing, network, ...). Never places an order.
        """
        reading = self._read_holdings(account)
        if reading.holdings is None:
            return ActivationResult(
                account=account.name,
                brokerage=self.name,
                status=ResultStatus.FAILED,
                detail=reading.error,
            )
        holdings = reading.holdings
        return ActivationResult(
            account=account.name,
            brokerage=self.name,
            status=ResultStatus.OK,
            detail=_summary(holdings, prefix="logged in"),
            account_details={
                "masked_numbers": list(holdings.masked_numbers),
                "total": holdings.total,
                "positions": len(holdings.positions),
            },
        )

    def deactivate(self, account: BrokerAccount) -> LegResult:
        """Nothing to release: AutoRSA keeps no connection between runs.

        The account's session files stay until :func:`brokers.autorsa.wipe_state`
        is called when the account is deleted.
        """
        return LegResult(account.name, self.name, ResultStatus.OK, "nothing to release")

    def place_orders(
        self, job_id: str, order: OrderRequest, accounts: list[BrokerAccount]
    ) -> list[LegResult]:
        """Run ``order`` for each account, one AutoRSA process per account.

        Returns:
            One result per account and symbol. A limit order is ``rejected``
            without running anything (AutoRSA's CLI has market orders only).
        """
        if order.order_type is OrderType.LIMIT:
            return [
                LegResult.for_order(
                    account.name, self.name, order, symbol, ResultStatus.REJECTED, LIMIT_UNSUPPORTED
                )
                for account in accounts
                for symbol in order.symbols
            ]
        results: list[LegResult] = []
        for account in accounts:
            results.extend(self._place_for(job_id, order, account))
        return results

    def holdings(
        self, accounts: list[BrokerAccount]
    ) -> tuple[list[AccountHoldings], list[LegResult]]:
        """Read each account's holdings; one ``ok``/``failed`` result per account."""
        found: list[AccountHoldings] = []
        results: list[LegResult] = []
        for account in accounts:
            reading = self._read_holdings(account)
            if reading.holdings is None:
                results.append(
                    LegResult(account.name, self.name, ResultStatus.FAILED, reading.error)
                )
                continue
            found.append(reading.holdings)
            results.append(
                LegResult(account.name, self.name, ResultStatus.OK, _summary(reading.holdings))
            )
        return found, results

    # --- internals -------------------------------------------------------------

    def _place_for(
        self, job_id: str, order: OrderRequest, account: BrokerAccount
    ) -> list[LegResult]:
        try:
            argv = build_trade_argv(
                self.settings.autorsa_bin,
                order.action,
                order.quantity,
                order.symbols,
                self.name,
                dry_run=order.dry_run,
            )
        except ValueError as exc:
            return [
                LegResult.for_order(
                    account.name,
                    self.name,
                    order,
                    symbol,
                    ResultStatus.REJECTED,
                    f"{exc}; nothing was placed",
                )
                for symbol in order.symbols
            ]
        prepared = self._prepare(account)
        if isinstance(prepared, str):
            return [
                LegResult.for_order(
                    account.name, self.name, order, symbol, ResultStatus.FAILED, prepared
                )
                for symbol in order.symbols
            ]
        entry, scrubber = prepared
        log.info(
            "job %s: %s %s for %s/%s (%s)",
            job_id,
            "LIVE" if order.dry_run is False else "dry run",
            order.action.value,
            self.group,
            account.name,
            self.name,
        )
        outcome = self._run(argv, account, entry)
        results = parse_trade(
            outcome,
            brokerage=self.name,
            label=self._label,
            account=account.name,
            order=order,
            scrub=scrubber,
        )
        _log_output(outcome, scrubber, f"job {job_id} {self.group}/{account.name}")
        return results

    def _read_holdings(self, account: BrokerAccount) -> HoldingsReading:
        prepared = self._prepare(account)
        if isinstance(prepared, str):
            return HoldingsReading(None, prepared)
        entry, scrubber = prepared
        argv = build_holdings_argv(self.settings.autorsa_bin, self.name)
        outcome = self._run(argv, account, entry)
        _log_output(outcome, scrubber, f"holdings {self.group}/{account.name}")
        return parse_holdings(
            outcome,
            brokerage=self.name,
            label=self._label,
            account=account.name,
            scrub=scrubber,
        )

    def _prepare(self, account: BrokerAccount) -> tuple[str, Scrubber] | str:
        """The account's AutoRSA entry and scrubber, or why there is none."""
        try:
            entry = autorsa_entry(self.name, dict(account.credentials))
        except InvalidRequest as exc:
            # The message is a fixed text: it never repeats a submitted value.
            return f"the stored credentials cannot be used with AutoRSA: {exc.message}"
        secrets = [entry, *account.credentials.values(), *entry.split(":")]
        return entry, Scrubber(secrets)

    def _run(self, argv: list[str], account: BrokerAccount, entry: str) -> RunOutcome:
        return run_autorsa(
            argv,
            env_var=self._env_var,
            entry=entry,
            data_dir=self.settings.data_dir,
            group=self.group,
            account=account.name,
            timeout=self.settings.autorsa_timeout_for(self.name),
            extra_env=self._extra_env,
        )


def _summary(holdings: AccountHoldings, prefix: str = "") -> str:
    numbers = ", ".join(holdings.masked_numbers) or "no account number shown"
    count = len(holdings.masked_numbers)
    parts = [f"{count} account{'s' if count != 1 else ''} ({numbers})"]
    if holdings.total is not None:
        parts.append(f"total ${holdings.total}")
    parts.append(f"{len(holdings.positions)} positions")
    text = ", ".join(parts)
    return f"{prefix}: {text}" if prefix else text


def _log_output(outcome: RunOutcome, scrub: Scrubber, what: str) -> None:
    if outcome.output and log.isEnabledFor(logging.DEBUG):
        log.debug("autorsa output (%s):\n%s", what, scrub(outcome.output))
