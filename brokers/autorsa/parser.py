"""Turn one AutoRSA trade run into one result per symbol for one account.

Rules, in order (reference sections 4 and 5):

1. The run never started (binary missing, state busy) → ``failed``.
2. It timed out → ``unknown`` (a live order may have reached the brokerage;
   a dry run never places, and its detail says so). It was stopped at a prompt
   nobody answered in time (``AUTORSA_CODE_TIMEOUT``) → ``failed`` if the order
   step had not begun (a login prompt), else as a timeout (``unknown`` live).
3. It ended at start-up (PyPI check, argument error, aborted prompt; exit 1)
   before any order step began → ``failed``: nothing was placed. Only the
   output before the first order-step line counts (a broker's order banner
   or a "buying/selling ... of" line, or the runner's "output dropped" mark,
   which may hide one): the same text after it means AutoRSA crashed during
   the order step, and rules 4 and 5 apply (a live run gives ``unknown`` for
   every symbol without a result line). A dry run never places (reference
   1.2), so there such a crash gives ``failed`` for those symbols.
   SoFi's 2.2.0 bug → ``failed``.
4. Every symbol with a result line gets the brokerage's verdict
   (``filled``/``dry_run``/``rejected``/``failed``/``unknown``) with the
   brokerage's own message as detail. Several real accounts behind one entry
   are merged (see :func:`_merge`).
5. A symbol without a result line:
   * ``unknown`` if its order step began (a "buying ... of SYM" line, output
     nobody recognises after the order banner, a broker error after the
     banner, or an abnormal end of a live run);
   * otherwise ``failed``: AutoRSA never reached the order step (login failed,
     including the false "Logged in" with zero account lines, quirk 1), with
     the login error as detail when there is one.

Exit code 0 is never taken as success on its own, and nothing unrecognised is
ever reported as success. Every detail passes through the account's scrubber.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from brokers.autorsa import diagnosis
from brokers.autorsa.lines import Kind, LineClassifier, judge_message
from brokers.autorsa.runner import RunOutcome
from core.codes import PromptKind
from core.models import LegResult, OrderRequest, ResultStatus

_BANNER_RULE = re.compile(r"^=+$")
# The runner keeps only the start and the end of a huge output (output.OutputCollector).
_DROPPED_MARK = re.compile(r"^\[\.\.\. \d+ bytes of output dropped \.\.\.\]$")
_MAX_UNKNOWN_LINES = 8
_MAX_DETAIL = 1000
# Precedence when several real accounts behind one entry disagree: anything
# unknown or filled must show (money may have moved), then refusals.
_PRECEDENCE = (
    ResultStatus.UNKNOWN,
    ResultStatus.FILLED,
    ResultStatus.REJECTED,
    ResultStatus.FAILED,
    ResultStatus.DRY_RUN,
)


@dataclass
class _SymbolState:
    began: bool = False  # its order step began
    verdicts: dict[str, tuple[ResultStatus, str]] = field(default_factory=dict)  # per sub-account
    unknown_lines: list[str] = field(default_factory=list)


def parse_trade(
    outcome: RunOutcome,
    *,
    brokerage: str,
    label: str,
    account: str,
    order: OrderRequest,
    scrub: Callable[[str], str],
) -> list[LegResult]:
    """One :class:`LegResult` per symbol of ``order`` for ``account``.

    Args:
        outcome: the run, from :func:`brokers.autorsa.runner.run_autorsa`.
        brokerage: the AutoRSA name, e.g. ``tradier``.
        label: AutoRSA's account label prefix, e.g. ``Tradier``.
        account: our account name (the results' ``account``).
        order: the order that was run.
        scrub: the account's scrubber; applied to every detail.
    """
    symbols = [s.strip().upper() for s in order.symbols]
    live = order.dry_run is False

    def results(status: ResultStatus, detail: str) -> list[LegResult]:
        return [
            LegResult.for_order(account, brokerage, order, symbol, status, detail)
            for symbol in symbols
        ]

    if not outcome.started:
        return results(ResultStatus.FAILED, f"{outcome.problem}; nothing was placed")
    lines = diagnosis.output_lines(outcome.output)
    classifier = LineClassifier(brokerage, label)
    order_step = _order_step_start(lines, classifier)
    startup = diagnosis.startup_failure("\n".join(lines[:order_step]), outcome.returncode)
    if startup:
        return results(ResultStatus.FAILED, startup)
    if diagnosis.is_sofi_bug(outcome.output):
        return results(ResultStatus.FAILED, diagnosis.SOFI_BUG)
    # The same text after the order step began: AutoRSA crashed while ordering.
    crashed = diagnosis.startup_failure(outcome.output, outcome.returncode) is not None

    states, broker_error_after_banner = _scan(lines, classifier, symbols, live=live, scrub=scrub)
    completed = diagnosis.run_completed(lines)
    abnormal = outcome.timed_out or not completed or outcome.returncode != 0
    leg_results = []
    for symbol in symbols:
        state = states[symbol]
        if state.verdicts:
            status, detail = _merge(state.verdicts)
        elif outcome.waited_out:
            began = order_step < len(lines)
            status, detail = _waited_out(outcome, brokerage, scrub, began=began, live=live)
        elif outcome.timed_out:
            status, detail = ResultStatus.UNKNOWN, _timeout_detail(outcome, brokerage, live=live)
        elif crashed and not live:
            status, detail = ResultStatus.FAILED, _dry_crash_detail(outcome, state)
        elif state.began or state.unknown_lines or broker_error_after_banner or (abnormal and live):
            # A live run that died without a word about the order cannot rule it out.
            status, detail = (
                ResultStatus.UNKNOWN,
                _unknown_detail(outcome, state, brokerage, live=live, completed=completed),
            )
        else:
            status = ResultStatus.FAILED
            detail = "never reached the order step: " + diagnosis.failure_reason(
                outcome.output,
                scrub,
                fallback=f"AutoRSA printed no line for this account at {brokerage} "
                "(the login most likely failed without saying so)",
            )
            if not completed:
                detail += f"; AutoRSA ended abnormally (exit code {outcome.returncode})"
        leg_results.append(LegResult.for_order(account, brokerage, order, symbol, status, detail))
    return leg_results


def _is_order_banner(lines: Sequence[str], index: int) -> bool:
    """Whether ``lines[index:index + 3]`` is a broker's order banner.

    That is "=====", "<Name>", "=====" (a holdings banner says "<Name> Holdings").
    """
    return (
        index + 2 < len(lines)
        and _BANNER_RULE.match(lines[index]) is not None
        and _BANNER_RULE.match(lines[index + 2]) is not None
        and not lines[index + 1].endswith("Holdings")
    )


def _order_step_start(lines: Sequence[str], classifier: LineClassifier) -> int:
    """The index of the first line showing that an order step may have begun.

    That is a broker's order banner, any line about an order (a "buying ...
    of SYM" line or a result), or the runner's "output dropped" mark, behind
    which such a line may hide; ``len(lines)`` when there is none.
    """
    for index, line in enumerate(lines):
        if _is_order_banner(lines, index) or _DROPPED_MARK.match(line):
            return index
        match = classifier.classify(line)
        if match is not None and match.kind is not Kind.INFO:
            return index
    return len(lines)


def _scan(
    lines: Sequence[str],
    classifier: LineClassifier,
    symbols: Sequence[str],
    *,
    live: bool,
    scrub: Callable[[str], str],
) -> tuple[dict[str, _SymbolState], bool]:
    """Walk the output once; collect verdicts and unknown lines per symbol."""
    states = {symbol: _SymbolState() for symbol in symbols}
    current: str | None = None  # the symbol the latest lines are about
    last_account: dict[str | None, str] = {}
    in_order_step = False
    broker_error_after_banner = False
    request_error = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line == diagnosis.RUN_COMPLETE:
            in_order_step = False
            continue
        if _is_order_banner(lines, index - 1):
            in_order_step = True
            index += 2
            continue
        match = classifier.classify(line)
        if match is None:
            if line.startswith("Error with "):
                broker_error_after_banner = broker_error_after_banner or in_order_step
            elif in_order_step and not _BANNER_RULE.match(line):
                targets = [current] if current else list(symbols)
                for symbol in targets:
                    states[symbol].unknown_lines.append(scrub(line))
            continue
        if match.symbol and match.symbol in states:
            current = match.symbol
        elif match.symbol:
            continue  # a symbol we did not order: not ours to judge
        in_order_step = in_order_step or match.kind is not Kind.INFO
        symbol = current or (symbols[0] if len(symbols) == 1 else None)
        kind = match.kind
        if kind is Kind.PRE_ORDER:
            states[current].began = True  # type: ignore[index]
            continue
        if kind is Kind.REQUEST_ERROR:
            request_error = match.message
            continue
        if kind is Kind.SKIPPED:
            # AutoRSA left this real account out (for every symbol when none is named).
            for target in [symbol] if symbol else symbols:
                states[target].verdicts[scrub(match.account or "")] = (
                    ResultStatus.FAILED,
                    f"skipped by AutoRSA: {scrub(line)}",
                )
            continue
        if kind is Kind.INFO:
            continue
        sub_account = scrub(match.account or "")
        if symbol is None:
            # A result line that names no symbol (Public's errors): AutoRSA loops
            # symbols in sorted order, so it is this sub-account's first symbol
            # still without a verdict.
            symbol = next(
                (s for s in sorted(symbols) if sub_account not in states[s].verdicts), None
            )
            if symbol is None:
                continue
        state = states[symbol]
        if kind is Kind.DETAIL:
            key = sub_account if sub_account in state.verdicts else last_account.get(symbol)
            if key in state.verdicts:
                status, detail = state.verdicts[key]
                state.verdicts[key] = (status, f"{detail}: {scrub(match.message)}")
            continue
        if kind is Kind.JUDGE:
            if match.message == "JSON response is None":
                # Tradier's POST failed; its request error says whether it was refused.
                kind = Kind.ERROR if diagnosis.NETWORK_TEXT.search(request_error) else Kind.REJECTED
                line = f"{line}: {request_error}" if request_error else line
            else:
                kind = judge_message(classifier.brokerage, match.message, dry_run=not live)
        status = _status_of(kind, live=live)
        state.verdicts[sub_account] = (status, scrub(line))
        last_account[symbol] = sub_account
    return states, broker_error_after_banner


def _status_of(kind: Kind, *, live: bool) -> ResultStatus:
    if kind is Kind.DRY_OK:
        # A "dry" line in a live run means the order was not placed.
        return ResultStatus.DRY_RUN if not live else ResultStatus.FAILED
    if kind is Kind.VERIFIED:
        return ResultStatus.FILLED if live else ResultStatus.DRY_RUN
    if kind is Kind.FILLED:
        return ResultStatus.FILLED if live else ResultStatus.UNKNOWN
    if kind is Kind.REJECTED:
        return ResultStatus.REJECTED
    if kind is Kind.FAILED:
        return ResultStatus.FAILED
    # ERROR: an exception while submitting may come after the request left.
    return ResultStatus.UNKNOWN if live else ResultStatus.FAILED


def _merge(verdicts: dict[str, tuple[ResultStatus, str]]) -> tuple[ResultStatus, str]:
    """One verdict from those of every real account behind the entry."""
    statuses = {status for status, _ in verdicts.values()}
    status = next(s for s in _PRECEDENCE if s in statuses)
    details = [detail for _, detail in verdicts.values()]
    detail = details[0] if len(details) == 1 else "; ".join(details)
    return status, _shorten(detail)


def _waited_out(
    outcome: RunOutcome, brokerage: str, scrub: Callable[[str], str], *, began: bool, live: bool
) -> tuple[ResultStatus, str]:
    """A run stopped at a prompt nobody answered: ``failed`` before the order step (a
    login prompt), ``unknown`` for a live order whose step had begun (as for a timeout)."""
    prompt = outcome.prompts[-1] if outcome.prompts else None
    reason = diagnosis.unanswered(
        prompt.text if prompt else "",
        prompt is not None and prompt.kind is PromptKind.APPROVAL,
        outcome.code_timeout,
        scrub,
    )
    if not began:
        return ResultStatus.FAILED, f"never reached the order step: {reason}; nothing was placed"
    if live:
        return (
            ResultStatus.UNKNOWN,
            f"{reason} after the order step began: the order may have reached "
            f"{brokerage}; check the brokerage before retrying",
        )
    return ResultStatus.FAILED, f"dry run: {reason}; a dry run places nothing"


def _timeout_detail(outcome: RunOutcome, brokerage: str, *, live: bool) -> str:
    if live:
        return (
            f"timed out after {outcome.timeout:g}s: the order may have reached {brokerage}; "
            "check the brokerage before retrying"
        )
    return (
        f"timed out after {outcome.timeout:g}s during a dry run: nothing should have been "
        "placed, but the check did not finish"
    )


def _dry_crash_detail(outcome: RunOutcome, state: _SymbolState) -> str:
    parts = [
        f"dry run: AutoRSA crashed (exit code {outcome.returncode}) after its order step "
        "began, before printing a result for this symbol; a dry run places nothing"
    ]
    if state.unknown_lines:
        parts.append("output: " + " | ".join(state.unknown_lines[-_MAX_UNKNOWN_LINES:]))
    return _shorten("; ".join(parts))


def _unknown_detail(
    outcome: RunOutcome, state: _SymbolState, brokerage: str, *, live: bool, completed: bool
) -> str:
    parts = []
    if not completed:
        parts.append(f"AutoRSA ended abnormally (exit code {outcome.returncode})")
    parts.append(
        "AutoRSA reached the order step but printed no result this adapter recognises"
        if state.began or state.unknown_lines
        else "AutoRSA printed no result for this symbol"
    )
    if state.unknown_lines:
        parts.append("output: " + " | ".join(state.unknown_lines[-_MAX_UNKNOWN_LINES:]))
    parts.append(
        f"the order may have reached {brokerage}; check the brokerage before retrying"
        if live
        else "dry run: nothing should have been placed"
    )
    return _shorten("; ".join(parts))


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
