"""Why an AutoRSA run failed, in words a user can act on.

AutoRSA's exit code says almost nothing (0 even when every broker failed;
reference 4.5), so the reason is read from its output: start-up failures that
end the run before any brokerage (section 1), and login/broker failure lines
(sections 4.2 and 4.4). Every text returned here is scrubbed by the caller's
scrubber before it is returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

RUN_COMPLETE = "All commands complete in all brokers"
_MAX_REASON = 400

SOFI_BUG = (
    "AutoRSA 2.2.0 cannot run SoFi: its dispatcher calls sofi_run() without the required "
    "'command' argument (upstream bug), so every SoFi run fails before logging in; "
    "nothing was placed. A later AutoRSA release is needed for SoFi."
)

# (pattern searched in the whole output, explanation); first match wins.
_STARTUP_FAILURES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"pypi\.org|auto_rsa_bot/json"),
        "AutoRSA's start-up version check could not reach pypi.org (no network or proxy?); "
        "it stops before any brokerage, so nothing was placed",
    ),
    (
        re.compile(r"Brokers must be set"),
        "AutoRSA did not recognise the brokerage name; nothing was placed",
    ),
    (
        re.compile(r"could not convert string to float"),
        "AutoRSA could not read the amount; nothing was placed",
    ),
    (
        re.compile(r"No arguments given"),
        "AutoRSA was started without arguments; nothing was placed",
    ),
    (
        re.compile(r"^Aborted\.?$", re.MULTILINE),
        "AutoRSA stopped at its confirmation prompt (DANGER_MODE not applied); nothing was placed",
    ),
    (
        re.compile(r"Error importing libraries"),
        "AutoRSA's installation is broken (a library failed to import); nothing was placed",
    ),
    (
        re.compile(r"IndexError"),
        "AutoRSA rejected its arguments (missing positional argument); nothing was placed",
    ),
)

# Lines that explain a login or broker failure (reference 4.2, 4.4).
_REASON_LINE = re.compile(
    r"^(?:"
    r"Error with \w+: .*"
    r"|Error:? [Uu]nable to log ?in.*"
    r"|Error logging in(?:to)?\b.*"
    r"|Error logging into .*"
    r"|Error making request to Tradier API /user.*"
    r"|Error getting Driver: .*"
    r"|Invalid number of parameters for .*"
    r"|\w+ not found, skipping\.\.\."
    r"|WELLSFARGO environment variable not found\."
    r"|.* no longer supports email login.*"
    r"|TimeoutException: Login failed.*"
    r"|Wells Fargo Error: .*"
    r"|Sofi error: .*"
    r")$"
)

_PROMPT = re.compile(r"^(?:(?:Enter (?:security )?code|Otherwise, press ctrl\+c to exit):? ?)+")

_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"EOF ?Error|EOF when reading a line|Enter (?:security )?code|2FA|verification code|"
            r"You have ~?60 seconds|approve",
            re.IGNORECASE,
        ),
        "the brokerage asked for a 2FA code or an app approval, which an unattended run cannot "
        "give: add a TOTP secret where the brokerage supports one, or refresh the session",
    ),
    (
        re.compile(
            r"Executable doesn't exist|could not find a valid browser|Unable to obtain driver|"
            r"playwright install|chromedriver|Error getting Driver",
            re.IGNORECASE,
        ),
        "no browser for this brokerage on this worker: install Firefox (Playwright) or "
        "Chrome/Chromium (Selenium, zendriver) where its queue runs",
    ),
    (
        re.compile(
            r"Name or service not known|NameResolutionError|Failed to resolve|Temporary failure "
            r"in name resolution|Max retries exceeded|Connection refused|ConnectionError|"
            r"Network is unreachable|ProxyError|timed out|cannot access local variable 'response'",
            re.IGNORECASE,
        ),
        "the brokerage could not be reached (network, DNS or proxy problem on this worker)",
    ),
    (
        re.compile(r"not found, skipping|environment variable not found"),
        "AutoRSA did not receive the credentials (empty entry?)",
    ),
    (
        re.compile(
            r"Invalid number of parameters|list index out of range|invalid literal for int",
            re.IGNORECASE,
        ),
        "the stored credentials do not have the fields AutoRSA expects for this brokerage",
    ),
    (
        re.compile(
            r"Unauthorized|Invalid (?:access )?token|invalid_grant|401|incorrect|"
            r"invalid (?:username|password|credentials)|Function did not complete",
            re.IGNORECASE,
        ),
        "login failed: check the credentials",
    ),
)

NETWORK_TEXT = _HINTS[2][0]


def output_lines(output: str) -> list[str]:
    """Non-empty stripped lines of ``output``."""
    return [line.strip() for line in output.splitlines() if line.strip()]


def run_completed(lines: Sequence[str]) -> bool:
    """Whether AutoRSA printed its closing line (it finished normally)."""
    return RUN_COMPLETE in lines


def is_sofi_bug(output: str) -> bool:
    """Whether ``output`` shows AutoRSA 2.2.0's SoFi dispatcher bug (reference 5.6)."""
    return "sofi_run() missing 1 required positional argument" in output


def startup_failure(output: str, returncode: int | None) -> str | None:
    """The reason a run ended before any brokerage, or ``None``.

    Only exit code 1 counts: AutoRSA exits 1 for argument errors, an
    unreachable PyPI, an import failure and an aborted prompt, all before a
    brokerage is touched (reference 4.5). For a trade, pass only the output
    before its order step began: the same text after it is a crash while
    ordering, which proves nothing about the order (:mod:`brokers.autorsa.parser`).
    """
    if returncode != 1 or RUN_COMPLETE in output:
        return None
    for pattern, explanation in _STARTUP_FAILURES:
        if pattern.search(output):
            return explanation
    return None


def reason_lines(lines: Sequence[str]) -> list[str]:
    """The lines that explain a login or broker failure, in order.

    A prompt answered by EOF leaves its text in front of the next line
    (``Enter code: Error logging in to ...``), so prompts are cut off first.
    """
    cleaned = (_PROMPT.sub("", line) for line in lines)
    return [line for line in cleaned if _REASON_LINE.match(line)]


def unanswered(prompt_text: str, approval: bool, waited: float, scrub: Callable[[str], str]) -> str:
    """Why a run was stopped at a prompt nobody answered in time, scrubbed.

    Args:
        prompt_text: the prompt AutoRSA printed last (raw).
        approval: whether it asked for an approval in the app rather than a code.
        waited: the wait allowance that ran out (``AUTORSA_CODE_TIMEOUT``), in seconds.
        scrub: the account's scrubber.
    """
    asked = _shorten(scrub(prompt_text.strip())) or "a code"
    if approval:
        return (
            f"the login was not approved in the brokerage's app within {waited:g}s "
            f"(AutoRSA: {asked!r}); the run was stopped"
        )
    return (
        f"no code came within {waited:g}s for AutoRSA's prompt {asked!r} (post it to "
        "/api/v1/jobs/<id>/codes while the job lists the account as waiting); the run was "
        "stopped"
    )


def hint_for(text: str) -> str | None:
    """A short explanation of what to do about ``text``, if one is known."""
    for pattern, hint in _HINTS:
        if pattern.search(text):
            return hint
    return None


def failure_reason(output: str, scrub: Callable[[str], str], *, fallback: str) -> str:
    """A one-paragraph reason for a failed login or broker, scrubbed.

    Args:
        output: the raw output of the run.
        scrub: the account's scrubber.
        fallback: the text to use when no line explains the failure.

    Returns:
        e.g. ``"Error: Unable to log in to Robinhood: ... (login failed: check
        the credentials)"``.
    """
    if is_sofi_bug(output):
        return SOFI_BUG
    lines = output_lines(output)
    reasons = reason_lines(lines)
    # AutoRSA's "Error with <b>: ... Function did not complete successfully" only
    # repeats that something failed; a line saying what failed is preferred.
    specific = [line for line in reasons if not line.endswith("did not complete successfully")]
    text = (specific or reasons or [fallback])[0]
    # A hint may hide in a traceback rather than in the reason line itself.
    hint = hint_for(text) or hint_for(output)
    text = _shorten(scrub(text))
    return f"{text} ({hint})" if hint and hint not in text else text


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
