"""Optional: the real AutoRSA, when AUTORSA_REAL_BIN points at an installation."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from brokers.autorsa import AutoRSABroker
from core.models import OrderAction, OrderRequest, ResultStatus
from tests.brokers.autorsa.support import GROUP, broker_account

REAL_BIN = os.environ.get("AUTORSA_REAL_BIN", "")

pytestmark = pytest.mark.skipif(
    not REAL_BIN or not os.access(REAL_BIN, os.X_OK),
    reason="AUTORSA_REAL_BIN is not set to an executable auto_rsa_bot (a real AutoRSA "
    "installation, e.g. from scripts/install_autorsa.sh); skipped",
)


def test_real_autorsa_login_failure_is_failed_not_success(make_settings) -> None:
    settings = make_settings(AUTORSA_BIN=REAL_BIN, AUTORSA_TIMEOUT="120")
    broker = AutoRSABroker("tradier", settings, GROUP)
    account = broker_account("real", "tradier", access_token="not-a-real-token-123456")
    order = OrderRequest(OrderAction.BUY, ("AAPL",), Decimal("1"), dry_run=True)
    results = broker.place_orders("real-job", order, [account])
    assert len(results) == 1
    # Without network the PyPI check or the login fails; with a bad token the
    # login fails: never a success.
    assert results[0].status in (ResultStatus.FAILED, ResultStatus.UNKNOWN), results[0]
    assert results[0].status is ResultStatus.FAILED, results[0].detail
    assert "not-a-real-token-123456" not in results[0].detail
    activation = broker.activate(account)
    assert activation.status is ResultStatus.FAILED, activation.detail
