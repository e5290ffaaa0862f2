"""The deployment files agree with the code: docker-compose.yml, Procfile, .env.example."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = ("api", "worker", "beat", "flower")
FLOWER_CONF = "--conf=scripts/flowerconfig.py"  # the Dockerfile's WORKDIR is /app
REQUIRED_SETTINGS = {"REDIS_URL", "TRADEFLEET_SECRET_KEY"}

# Settings.from_env reads every variable as env.get("X"...) or helper(env, "X", ...).
_ENV_READ = re.compile(r'\benv(?:\.get\(|,\s*)"([A-Z][A-Z0-9_]+)"')


def setting_names() -> set[str]:
    """Environment variable names read by ``core/settings.py``."""
    names = set(_ENV_READ.findall((ROOT / "core" / "settings.py").read_text()))
    assert names >= REQUIRED_SETTINGS | {"CELERY_BROKER_URL", "FLOWER_BASIC_AUTH", "INFLUX_URL"}, (
        f"core/settings.py changed shape; found only {sorted(names)}"
    )
    return names


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command_line(service: dict) -> str:
    command = service.get("command", "")
    return command if isinstance(command, str) else shlex.join(command)


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def test_compose_has_every_service(compose):
    assert set(compose["services"]) >= {*APP_SERVICES, "redis", "influxdb", "grafana"}


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("api", ["gunicorn", "api:create_app()"]),
        ("worker", ["celery", "-A tasks worker", "-Q default,market,strategies"]),
        ("beat", ["celery", "-A tasks beat"]),
        ("flower", ["celery", "-A tasks flower", "--basic-auth=", FLOWER_CONF]),
    ],
)
def test_compose_app_service_runs_right_program(compose, service, expected):
    line = command_line(compose["services"][service])

    for fragment in expected:
        assert fragment in line


@pytest.mark.parametrize("service", APP_SERVICES)
def test_compose_app_env_names_are_real_settings(compose, service):
    environment = compose["services"][service]["environment"]
    names = set(environment)

    assert names <= setting_names(), f"unknown settings: {sorted(names - setting_names())}"
    assert names >= REQUIRED_SETTINGS
    assert environment["REDIS_URL"] == "redis://redis:6379/0"


def test_compose_app_services_wait_for_healthy_redis(compose):
    for service in APP_SERVICES:
        depends_on = compose["services"][service]["depends_on"]
        assert depends_on["redis"]["condition"] == "service_healthy", service


def test_compose_redis_keeps_data(compose):
    redis = compose["services"]["redis"]
    line = command_line(redis)

    assert "--appendonly yes" in line
    assert "--maxmemory-policy noeviction" in line
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


def test_compose_influxdb_is_set_up_on_first_start(compose):
    environment = compose["services"]["influxdb"]["environment"]

    assert environment["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    for name in ("USERNAME", "PASSWORD", "ORG", "BUCKET", "ADMIN_TOKEN"):
        assert environment[f"DOCKER_INFLUXDB_INIT_{name}"]


def test_compose_grafana_mounts_provisioning(compose):
    volumes = compose["services"]["grafana"]["volumes"]

    assert any(v.startswith("./grafana/provisioning:/etc/grafana/provisioning") for v in volumes)
    assert any(v.startswith("./grafana/dashboards:/var/lib/grafana/dashboards") for v in volumes)


def test_dockerfile_runs_as_non_root():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]

    assert users and users[-1] not in ("root", "0")


def test_procfile_runs_every_process():
    entries = procfile()

    assert list(entries) == ["web", "worker", "beat", "flower"]  # honcho gives web $PORT
    assert "gunicorn 'api:create_app()'" in entries["web"]
    assert "${PORT:-8000}" in entries["web"]
    assert "celery -A tasks worker" in entries["worker"]
    assert "-Q default,market,strategies" in entries["worker"]
    assert "celery -A tasks beat" in entries["beat"]
    assert "celery -A tasks flower" in entries["flower"]
    assert "--basic-auth=$FLOWER_BASIC_AUTH" in entries["flower"]
    assert FLOWER_CONF in entries["flower"]  # puts /metrics behind the basic auth


def test_compose_mounts_the_flower_config_it_names(compose):
    volumes = compose["services"]["flower"]["volumes"]
    assert "./scripts/flowerconfig.py:/app/scripts/flowerconfig.py:ro" in volumes
    assert any(volume.endswith(":/data") for volume in volumes)  # kept from the app anchor
    assert (ROOT / "scripts" / "flowerconfig.py").is_file()


def test_env_example_lists_every_setting():
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))

    missing = setting_names() - listed
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_compose_grafana_env_fills_the_provisioned_datasource(compose):
    """Every ``${VAR}`` in grafana/provisioning is set in the grafana service's environment,
    and the dashboards provider reads the directory compose mounts."""
    grafana = compose["services"]["grafana"]
    provisioning = ROOT / "grafana" / "provisioning"
    used = set()
    for path in provisioning.rglob("*.yaml"):
        used |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)\}?", path.read_text()))
    assert used >= {"INFLUX_URL", "INFLUX_BUCKET", "INFLUX_TOKEN"}
    assert used <= set(grafana["environment"]), sorted(used - set(grafana["environment"]))
    providers = yaml.safe_load((provisioning / "dashboards" / "tradefleet.yaml").read_text())
    mounted = {v.split(":")[1] for v in grafana["volumes"] if v.startswith("./grafana/dashboards")}
    assert {p["options"]["path"] for p in providers["providers"]} <= mounted
    assert list((ROOT / "grafana" / "dashboards").glob("*.json"))


def test_compose_influxdb_is_2x_initialised_with_the_apps_bucket(compose):
    influx = compose["services"]["influxdb"]
    assert influx["image"].startswith("influxdb:2")
    env = influx["environment"]
    app_env = compose["services"]["worker"]["environment"]
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert env["DOCKER_INFLUXDB_INIT_BUCKET"] == app_env["INFLUX_BUCKET"]
    assert env["DOCKER_INFLUXDB_INIT_ORG"] == app_env["INFLUX_ORG"]
    assert app_env["INFLUX_URL"] == "http://influxdb:8086"
    assert app_env["INFLUX_VERSION"].endswith("2}")


def test_compose_influxdb_init_scripts_exist(compose):
    mounts = [v for v in compose["services"]["influxdb"]["volumes"] if v.startswith("./")]
    for mount in mounts:
        source = ROOT / mount.split(":")[0]
        assert source.is_dir() and any(source.glob("*.sh")), mount
        for script in source.glob("*.sh"):
            assert script.stat().st_mode & 0o111, f"{script} is not executable"
            assert "DOCKER_INFLUXDB_INIT_BUCKET_ID" in script.read_text()
