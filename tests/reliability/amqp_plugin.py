"""pytest plugin: run the suite's Celery traffic through the broker in ``TF_TEST_BROKER_URL``.

Load it with ``-p tests.reliability.amqp_plugin``. ``tests/conftest.py`` points
``CELERY_BROKER_URL`` at the session's private Redis in its ``pytest_configure``; this hook runs
after that one (``trylast``) and, when ``TF_TEST_BROKER_URL`` is set, replaces the broker, so
the in-process Celery app (which the API sends with) and every worker the fixtures start use
it. Redis stays the registry and the result backend. Nothing tradefleet reads its settings
before ``pytest_configure`` ends; the hook refuses to run if something already did.
"""

from __future__ import annotations

import os
import sys

import pytest

BROKER_VARIABLE = "TF_TEST_BROKER_URL"


@pytest.hookimpl(trylast=True)
def pytest_configure(config) -> None:
    broker = os.environ.get(BROKER_VARIABLE, "").strip()
    if not broker:
        return
    early = [m for m in ("core.settings", "tasks.config", "tasks.celery") if m in sys.modules]
    if early:
        raise pytest.UsageError(
            f"{BROKER_VARIABLE}: {', '.join(early)} imported before the broker was set"
        )
    os.environ["CELERY_BROKER_URL"] = broker


def pytest_report_header(config) -> str | None:
    broker = os.environ.get(BROKER_VARIABLE, "").strip()
    if not broker:
        return None
    scheme, _, rest = broker.partition("://")
    return f"tradefleet broker: {scheme}://{rest.rpartition('@')[2]} (from {BROKER_VARIABLE})"
