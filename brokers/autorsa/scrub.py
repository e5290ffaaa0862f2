"""Remove secrets from text before tradefleet stores or logs it.

AutoRSA echoes a lot: tracebacks with request URLs holding full account
numbers, ``Self: ...`` dumps of its login objects, usernames, sometimes
tokens. Everything taken from its output (result details, log lines) passes
through a :class:`Scrubber` built from the account's credentials.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"

# Values too short or too common to be secrets; scrubbing them would mangle
# ordinary words ("NA" in "NAME", "true" in a JSON dump).
_NOT_SECRET = {"na", "none", "false", "true", "null"}
_MIN_SECRET_LENGTH = 4

# A run of letters/digits of 5+ characters holding at least 4 digits, not part
# of a money amount or decimal number ("$12345.67", "0.12345"): an account
# number, order id or token fragment. All but its last 4 characters become
# "x", as AutoRSA masks them itself ("6YA00001" → "xxxx0001").
_ACCOUNT_LIKE = re.compile(r"(?<![\w.$,\-])(?=(?:[A-Za-z]*\d){4})[A-Za-z0-9]{5,}(?![\w]|[.,]\d)")


def mask(value: str) -> str:
    """Mask all but the last 4 characters with ``x`` (short values are kept).

    Args:
        value: an account number or similar identifier.

    Returns:
        e.g. ``"5QR12345"`` → ``"xxxx2345"``; ``"123"`` → ``"123"``.
    """
    if len(value) <= 4:
        return value
    return "x" * (len(value) - 4) + value[-4:]


def mask_account_numbers(text: str) -> str:
    """Mask every account-number-like run of letters and digits in ``text``.

    Already masked numbers (``xxxx1234``) come out unchanged; money amounts,
    quantities, dates and versions are left alone.
    """
    return _ACCOUNT_LIKE.sub(lambda match: mask(match.group(0)), text)


def _encodings(value: str) -> set[str]:
    """``value`` as it may appear in output: raw, URL-, JSON-, HTML-escaped, base64."""
    forms = {value, quote(value, safe=""), quote_plus(value), html.escape(value)}
    forms.add(json.dumps(value)[1:-1])
    forms.add(repr(value)[1:-1])
    raw = value.encode()
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode()
        forms.add(text)
        stripped = text.rstrip("=")
        if len(stripped) >= _MIN_SECRET_LENGTH:
            forms.add(stripped)
    return {form for form in forms if len(form) >= _MIN_SECRET_LENGTH}


class Scrubber:
    """Replaces known secret values (and their encodings) and masks numbers.

    Args:
        secrets: credential values of one account; the colon-joined AutoRSA
            entry should be passed too. Values shorter than 4 characters and
            placeholders such as ``NA`` are ignored (they are not secret and
            would mangle ordinary text).

    Example:
        >>> Scrubber(["hunter22"])("password=hunter22 acct 5QR12345")
        'password=[redacted] acct xxxx2345'
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if not isinstance(secret, str):
                continue
            value = secret.strip()
            if len(value) < _MIN_SECRET_LENGTH or value.lower() in _NOT_SECRET:
                continue
            forms |= _encodings(value)
        # Longest first, so an entry "user:pass" goes before "user" alone.
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(re.escape(form) for form in ordered), re.IGNORECASE)
            if ordered
            else None
        )

    def __call__(self, text: str) -> str:
        """Return ``text`` with every secret replaced and account numbers masked."""
        if not text:
            return text
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        return mask_account_numbers(text)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """One-off form of :class:`Scrubber`: ``scrub(text, secrets)``."""
    return Scrubber(secrets)(text)
