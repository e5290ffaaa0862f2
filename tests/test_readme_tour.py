"""The README's curl tour, run word for word against the live API and a real worker."""

import json
import re
import shutil
import subprocess

import pytest

from tests.services import REPO_ROOT

pytestmark = pytest.mark.integration


def _tour_script() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    tour = [b for b in blocks if "auth=(" in b]
    assert len(tour) == 1, "the README should have exactly one tour block"
    return tour[0]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_tour_works_as_written(api, live_server, api_key):
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _tour_script()],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "TF": live_server.url, "KEY": api_key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    group, quote, activation, job, positions = replies
    assert group == {
        "name": "family",
        "queue": "group.family",
        "accounts": [],
        "created_at": group["created_at"],
    }
    assert quote["price"] == "190.00"
    assert activation["status_url"].startswith("/api/v1/jobs/")
    assert job["state"] == "succeeded", job
    assert job["results"][0]["status"] == "filled"
    assert job["results"][0]["detail"] == "buy 2 AAPL filled at 190.00"
    assert positions[0]["cash"] == "9620.00"
    assert positions[0]["positions"] == [
        {"symbol": "AAPL", "quantity": "2", "price": "190.00", "value": "380.00"}
    ]
