"""Secret removal from AutoRSA output."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from brokers.autorsa.scrub import REDACTED, Scrubber, mask, mask_account_numbers, scrub


def test_scrubber_removes_credential_values_and_encodings() -> None:
    secret = "p@ss:w/rd+42"
    encoded = [
        secret,
        quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode(),
        secret.upper(),
    ]
    text = " | ".join(encoded)
    cleaned = Scrubber(["alice.smith", secret])(text)
    for form in encoded:
        assert form not in cleaned
    assert cleaned.count(REDACTED) == len(encoded)


def test_scrubber_removes_whole_entry_before_its_parts() -> None:
    cleaned = scrub(
        "Login: 'alice.smith:hunter22'", ["alice.smith:hunter22", "alice.smith", "hunter22"]
    )
    assert cleaned == f"Login: '{REDACTED}'"


def test_scrubber_ignores_short_and_placeholder_values() -> None:
    assert Scrubber(["NA", "abc", "true"])("NAME is true, abc") == "NAME is true, abc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acct 5QR12345 ok", "acct xxxx2345 ok"),
        ("/accounts/6YA00001/orders", "/accounts/xxxx0001/orders"),
        ("already xxxx1234", "already xxxx1234"),
        ("Order: 123456789 Status", "Order: xxxxx6789 Status"),
        ("Total: $12345.67", "Total: $12345.67"),
        ("AAPL: 12345.5 @ $1.00 = $12345.50", "AAPL: 12345.5 @ $1.00 = $12345.50"),
        ("RSA Version: 2.2.0, Python 3.11.7", "RSA Version: 2.2.0, Python 3.11.7"),
        ("Robinhood 1 transactions complete", "Robinhood 1 transactions complete"),
        ("pin 1234", "pin 1234"),
    ],
)
def test_mask_account_numbers(text: str, expected: str) -> None:
    assert mask_account_numbers(text) == expected


def test_mask_keeps_last_four() -> None:
    assert mask("Z12345678") == "xxxxx5678"
    assert mask("123") == "123"


def test_scrubber_without_secrets_still_masks_numbers() -> None:
    assert Scrubber([])("number 98765432") == "number xxxx5432"
