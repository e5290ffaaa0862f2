"""Helpers shared by the AutoRSA adapter tests (accounts, credentials, the stand-in)."""

from __future__ import annotations

from pathlib import Path

from brokers.base import BrokerAccount
from core.models import Account, AccountState

FAKE_BIN = Path(__file__).resolve().parents[2] / "fakes" / "auto_rsa_bot"
GROUP = "g1"


def broker_account(name: str, brokerage: str, **credentials: str) -> BrokerAccount:
    """An account of group ``g1`` with its credentials in memory."""
    account = Account(group=GROUP, name=name, brokerage=brokerage, state=AccountState.ACTIVE)
    return BrokerAccount(account=account, credentials=dict(credentials))


# Valid credentials per brokerage; ``secret`` goes where the stand-in reads its scenario.
def credentials_for(brokerage: str, secret: str, user: str = "alice.smith") -> dict[str, str]:
    return {
        "tradier": {"access_token": secret},
        "public": {"api_secret_key": secret},
        "tastytrade": {"provider_secret": "provsecret77", "refresh_token": secret},
        "robinhood": {"username": user, "password": secret},
        "schwab": {"username": user, "password": secret, "totp_secret": "NA"},
        "firstrade": {"username": user, "password": secret, "second_factor": "4821"},
        "webull": {
            "username": user,
            "password": secret,
            "did": "did0abc123",
            "trading_pin": "739201",
        },
        "chase": {"username": user, "password": secret, "phone_last4": "5521"},
        "fidelity": {"username": user, "password": secret},
        "sofi": {"username": user, "password": secret},
    }[brokerage]
