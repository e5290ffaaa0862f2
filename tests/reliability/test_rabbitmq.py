"""The end-to-end flow with RabbitMQ as the Celery broker (``CELERY_BROKER_URL=amqp://…``).

The API process's Celery app reads its broker once, at import, and this session's is the
private Redis. So the proof runs in a second pytest session whose broker is a private
RabbitMQ vhost (``TF_TEST_BROKER_URL``, applied by ``tests/reliability/amqp_plugin.py``
right after ``tests/conftest.py`` configures the session): the API end-to-end tests
(per-group queues, a group created while the worker runs, order inside a group, parallel
groups, paper fills, activation/deactivation, compatibility routes, ``celery queues``,
``/health`` heartbeats) and ``amqp_scenarios.py`` (the worker-direct heartbeat queue, and
SIGKILL of a whole worker in the middle of a slowed paper leg: RabbitMQ requeues, a
restarted worker completes the job, no fill happens twice). Redis stays the registry and the
result backend. Afterwards the vhost itself is checked: the group queues were there and
nothing was left waiting, then it is deleted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.reliability import rabbitmq
from tests.services import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

END_TO_END = (
    "tests/api/test_groups.py",
    "tests/api/test_accounts.py",
    "tests/api/test_transactions.py",
    "tests/api/test_parallel_groups.py",
    "tests/api/test_compat.py",
    "tests/api/test_health.py",
    "tests/tasks/test_queues_command.py",
    "tests/reliability/amqp_scenarios.py",
)
# Set by tests/conftest.py for this session; the inner session sets its own.
_SESSION_VARIABLES = (
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "TRADEFLEET_SECRET_KEY",
    "TRADEFLEET_DATA_DIR",
)


@pytest.fixture(scope="module")
def vhost():
    reason = rabbitmq.unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"RabbitMQ is required in CI: {reason}")
        pytest.skip(reason)
    name = rabbitmq.make_vhost()
    yield name
    rabbitmq.drop_vhost(name)


def test_end_to_end_flow_and_worker_kill_with_rabbitmq_broker(vhost, tmp_path):
    report = tmp_path / "amqp-session.xml"
    env = {k: v for k, v in os.environ.items() if k not in _SESSION_VARIABLES}
    env["TF_TEST_BROKER_URL"] = rabbitmq.broker_url(vhost)
    command = [
        sys.executable, "-m", "pytest",
        "-p", "tests.reliability.amqp_plugin",
        "-p", "no:logging", "-p", "no:cacheprovider",
        "-q", "-x", "--timeout=300", f"--junitxml={report}",
        *END_TO_END,
    ]  # fmt: skip
    run = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    output = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, output

    cases = ET.parse(report).getroot().iter("testcase")
    outcomes = {}
    for case in cases:
        problems = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = problems
    assert len(outcomes) >= 50, outcomes
    assert not {name: p for name, p in outcomes.items() if p}, output
    scenarios = [name for name in outcomes if "amqp_scenarios" in name]
    assert any("really_uses_rabbitmq" in name for name in scenarios), outcomes  # not skipped
    assert any("sigkill" in name for name in scenarios), outcomes

    # The traffic really went through this vhost: every group the tests made has its queue,
    # and no job message was left behind (but in the groups no worker serves, on purpose).
    queues = rabbitmq.list_queues(vhost)
    groups = {name: q for name, q in queues.items() if name.startswith("group.")}
    assert sum(name.startswith(("group.t-", "group.slow-")) for name in groups) >= 20, queues
    assert any(name.startswith("group.kill-") for name in groups), queues
    waiting = {n: q["messages"] for n, q in groups.items() if q["messages"]}
    assert all(name.startswith(("group.x-", "group.b-busy-")) for name in waiting), waiting
    assert {"brokerage.chase", "default"} <= set(queues)
    assert rabbitmq.list_exchanges(vhost).get("celery.pidbox") == "fanout"
