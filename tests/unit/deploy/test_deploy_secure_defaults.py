"""Compose and the Prometheus scrape configurations are closed by default (issue 13).

``docker compose`` is not installed here, so compose's variable interpolation is emulated on the
parsed file: the same ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``, ``${VAR:+alt}`` (and
colon-less) forms compose resolves before it starts anything.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from events.settings import Settings
from streams.peer_hosts import PeerHosts

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "docker-compose.yml"
PROMETHEUS = REPO / "deploy" / "prometheus"
SCRAPE_CONFIGS = ("prometheus.yml", "kubernetes.yml")
WORKER_JOB = "salespulse-workers"
SECRETS = ("SALESPULSE_INGEST_TOKEN", "SALESPULSE_WORKER_READ_TOKEN", "GRAFANA_ADMIN_PASSWORD")
LOOPBACK = {"127.0.0.1", "::1", "[::1]"}
INTERPOLATION = re.compile(r"\$(?:(\$)|\{(\w+)(?:(:?[-?+])([^}]*))?\}|(\w+))")

pytestmark = pytest.mark.timeout(900)  # a fresh machine installs promtool (apt) first


class MissingVariable(Exception):
    """What compose reports for ``${VAR:?message}`` with VAR unset or empty: it starts nothing."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name


def _substitute(match: re.Match, env: dict[str, str]) -> str:
    escaped, braced, operator, argument, bare = match.groups()
    if escaped:
        return "$"
    name = braced or bare
    value = env.get(name)
    present = bool(value) if (operator or "").startswith(":") else value is not None
    if operator in (":-", "-"):
        return value if present else argument
    if operator in (":?", "?"):
        if not present:
            raise MissingVariable(name, argument)
        return value
    if operator in (":+", "+"):
        return argument if present else ""
    return value or ""


def _interpolate(node: object, env: dict[str, str]) -> object:
    if isinstance(node, str):
        return INTERPOLATION.sub(lambda match: _substitute(match, env), node)
    if isinstance(node, dict):
        return {key: _interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolate(item, env) for item in node]
    return node


@pytest.fixture
def resolved_compose() -> Callable[..., dict]:
    """docker-compose.yml as compose resolves it, with every secret set unless overridden."""

    def resolve(**overrides: str | None) -> dict:
        env = {name: f"secret-of-{name.lower()}" for name in SECRETS} | overrides
        env = {name: value for name, value in env.items() if value is not None}
        return _interpolate(yaml.safe_load(COMPOSE.read_text()), env)

    return resolve


def _published_host_ip(port: str | int | dict) -> str:
    """The host address of a published port ("" = every interface), short or long syntax."""
    if isinstance(port, dict):
        return port.get("host_ip", "")
    parts = str(port).rsplit(":", 2)
    return parts[0] if len(parts) == 3 else ""


def _scrape_config(name: str) -> dict:
    return yaml.safe_load((PROMETHEUS / name).read_text())


def _worker_jobs(config: dict) -> list[dict]:
    return [job for job in config["scrape_configs"] if job["job_name"] == WORKER_JOB]


@pytest.mark.parametrize("missing", SECRETS)
@pytest.mark.parametrize("absent_as", [None, ""], ids=["unset", "empty"])
def test_compose_refuses_to_start_while_a_secret_is_unset_or_empty(
    resolved_compose, missing, absent_as
):
    with pytest.raises(MissingVariable) as refusal:
        resolved_compose(**{missing: absent_as})

    assert refusal.value.name == missing


def test_ingest_and_only_the_workers_receive_their_tokens(resolved_compose):
    services = resolved_compose()["services"]
    workers = {name: s for name, s in services.items() if name.startswith("worker-")}

    assert services["ingest"]["environment"]["SALESPULSE_INGEST_TOKEN"] == (
        "secret-of-salespulse_ingest_token"
    )
    assert workers
    for worker in workers.values():
        assert worker["environment"]["SALESPULSE_WORKER_READ_TOKEN"] == (
            "secret-of-salespulse_worker_read_token"
        )
    for name, service in services.items():
        if name not in workers:
            assert "SALESPULSE_WORKER_READ_TOKEN" not in service.get("environment", {}), name


@pytest.mark.parametrize("service", sorted(yaml.safe_load(COMPOSE.read_text())["services"]))
def test_no_compose_port_is_published_beyond_the_loopback_interface(resolved_compose, service):
    ports = resolved_compose()["services"][service].get("ports", [])

    assert all(_published_host_ip(port) in LOOPBACK for port in ports), ports


def test_prometheus_scrapes_every_worker_with_the_read_token_file_compose_mounts(
    resolved_compose,
):
    compose = resolved_compose()
    workers = {name for name in compose["services"] if name.startswith("worker-")}
    mounted = {
        f"/run/secrets/{secret}": compose["secrets"][secret]
        for secret in compose["services"]["prometheus"]["secrets"]
    }
    [job] = _worker_jobs(_scrape_config("prometheus.yml"))
    authorization = job["authorization"]

    assert authorization.get("type", "Bearer") == "Bearer"
    assert mounted[authorization["credentials_file"]] == {
        "environment": "SALESPULSE_WORKER_READ_TOKEN"
    }
    assert {t for c in job["static_configs"] for t in c["targets"]} == {
        f"{worker}:6066" for worker in workers
    }


@pytest.mark.parametrize(
    "foreign_url",
    [
        "http://evil.example.com:6066",
        "http://worker-1.evil.example.com:6066",
        "http://ingest:8080",
        "http://kafka:9093",
        "http://127.0.0.1:6066",
        "http://worker-9:6066",
    ],
)
def test_compose_workers_forward_reads_to_each_other_and_to_no_other_host(
    resolved_compose, foreign_url
):
    services = resolved_compose()["services"]
    workers = [s["environment"] for name, s in services.items() if name.startswith("worker-")]
    urls = [env["SALESPULSE_WORKER_URL"] for env in workers]

    for env in workers:
        settings = Settings(_env_file=None, worker_peer_hosts=env["SALESPULSE_WORKER_PEER_HOSTS"])
        peers = PeerHosts(settings.peer_host_patterns)
        assert all(peers.allows(url) for url in urls)
        assert not peers.allows(foreign_url)


@pytest.mark.parametrize("config_name", SCRAPE_CONFIGS)
def test_every_worker_scrape_job_sends_the_read_token_from_a_file(config_name):
    jobs = _worker_jobs(_scrape_config(config_name))

    assert jobs
    for job in jobs:
        authorization = job["authorization"]
        assert authorization.get("type", "Bearer") == "Bearer"
        assert authorization["credentials_file"].startswith("/")
        assert "credentials" not in authorization  # never the token itself
        assert "bearer_token" not in job


@pytest.mark.parametrize("config_name", SCRAPE_CONFIGS)
def test_shipped_scrape_configurations_pass_promtool_once_their_token_file_exists(
    promtool, tmp_path, config_name
):
    # promtool refuses a credentials_file that does not exist: give it one where the deployment
    # mounts the Secret, and the repository's rules where compose mounts them.
    config = _scrape_config(config_name)
    token = tmp_path / "token"
    token.write_text("a-read-token\n")
    for job in config["scrape_configs"]:
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
    if "rule_files" in config:
        config["rule_files"] = [str(PROMETHEUS / "rules" / "*.yml")]
    checked = tmp_path / config_name
    checked.write_text(yaml.safe_dump(config))

    result = subprocess.run(
        [promtool, "check", "config", str(checked)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
