"""The deployment files we cannot run here (no Docker engine) are at least valid and consistent."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "docker-compose.yml"


def test_docker_compose_file_is_valid_against_the_compose_specification():
    checker = Path(sys.executable).with_name("check-jsonschema")

    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_workers_advertise_distinct_urls_and_use_persistent_state():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    workers = {name: s for name, s in services.items() if name.startswith("worker-")}

    urls = {s["environment"]["SALESPULSE_WORKER_URL"] for s in workers.values()}

    assert len(workers) == 2
    assert urls == {f"http://{name}:6066" for name in workers}
    assert all(s["environment"]["SALESPULSE_TABLE_STORE"] == "rocksdb://" for s in workers.values())


def test_compose_files_the_image_builds_from_exist():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    dockerfile = services["ingest"]["build"]["dockerfile"]
    scrape = REPO / "deploy" / "prometheus" / "prometheus.yml"

    assert (REPO / dockerfile).is_file()
    assert scrape.is_file()
    assert "worker-1:6066" in scrape.read_text()


GRAFANA_PROVISIONING = REPO / "deploy" / "grafana" / "provisioning"
ALERTMANAGER_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _mounts(service: dict) -> dict[str, str]:
    """Container path -> host source of a service's short-syntax volumes."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        mounts[target] = source
    return mounts


def test_compose_adds_alertmanager_and_grafana_from_pinned_official_images():
    services = _services()
    images = {name: services[name]["image"] for name in ("prometheus", "alertmanager", "grafana")}

    assert images["alertmanager"].startswith("prom/alertmanager:v")
    assert images["grafana"].startswith("grafana/grafana:")
    for image in images.values():
        tag = image.rpartition(":")[2]
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{image} is not pinned to a release"


def test_every_compose_service_has_a_health_check():
    services = _services()

    missing = [name for name, service in services.items() if "healthcheck" not in service]

    assert not missing
    for name in ("prometheus", "alertmanager", "grafana"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name


def test_compose_monitoring_services_keep_their_data_in_named_volumes():
    compose = yaml.safe_load(COMPOSE.read_text())
    expected = {
        "prometheus": "/prometheus",
        "alertmanager": "/alertmanager",
        "grafana": "/var/lib/grafana",
    }

    for name, data_dir in expected.items():
        volume = _mounts(compose["services"][name])[data_dir]
        assert volume in compose["volumes"], f"{name} keeps {data_dir} in {volume!r}"


def test_prometheus_mounts_the_rules_directory_and_starts_after_alertmanager():
    prometheus = _services()["prometheus"]

    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in prometheus["volumes"]
    assert "alertmanager" in prometheus["depends_on"]


def test_grafana_provisioning_files_exist_and_are_mounted_where_grafana_reads_them():
    grafana = _services()["grafana"]
    mounts = _mounts(grafana)
    provider_file = GRAFANA_PROVISIONING / "dashboards" / "salespulse.yml"
    [provider] = yaml.safe_load(provider_file.read_text())["providers"]

    for kind in ("datasources", "dashboards"):
        source = mounts[f"/etc/grafana/provisioning/{kind}"]
        assert (REPO / source).resolve() == GRAFANA_PROVISIONING / kind
        assert list((GRAFANA_PROVISIONING / kind).glob("*.yml"))
    assert provider["type"] == "file"
    assert provider["folder"] == "salespulse"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert mounts["/var/lib/grafana/dashboards"] == "./deploy/grafana/dashboards"


def test_grafana_default_datasource_is_the_compose_prometheus_with_a_stable_uid():
    datasource_file = GRAFANA_PROVISIONING / "datasources" / "prometheus.yml"
    [datasource] = yaml.safe_load(datasource_file.read_text())["datasources"]
    prometheus_ports = [port.split(":")[-1] for port in _services()["prometheus"]["ports"]]

    assert datasource["uid"] == "prometheus"
    assert datasource["type"] == "prometheus"
    assert datasource["isDefault"] is True
    assert datasource["url"] == "http://prometheus:9090"
    assert "9090" in prometheus_ports


def test_alertmanager_routes_everything_to_a_webhook_whose_url_compose_reads_from_env():
    compose = yaml.safe_load(COMPOSE.read_text())
    alertmanager = compose["services"]["alertmanager"]
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    [webhook] = receivers[config["route"]["receiver"]]["webhook_configs"]
    [mounted] = alertmanager["configs"]

    assert _mounts(alertmanager)["/etc/alertmanager/alertmanager.yml"] == (
        "./deploy/alertmanager/alertmanager.yml"
    )
    assert all(route["receiver"] in receivers for route in config["route"].get("routes", []))
    assert "url" not in webhook
    assert webhook["url_file"] == mounted["target"]
    assert compose["configs"][mounted["source"]]["content"].startswith(
        "${ALERTMANAGER_WEBHOOK_URL:-"
    )


def test_compose_takes_secrets_from_the_environment_only():
    services = _services()

    assert services["ingest"]["environment"]["SALESPULSE_INGEST_TOKEN"].startswith(
        "${SALESPULSE_INGEST_TOKEN:?"
    )
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith(
        "${GRAFANA_ADMIN_PASSWORD:?"
    )


def test_the_image_builds_the_compiled_apply_core_and_its_workers_require_it():
    dockerfile = (REPO / "deploy" / "docker" / "Dockerfile").read_text()
    ignored = (REPO / ".dockerignore").read_text().split()

    assert "COPY native /native" in dockerfile
    assert re.search(r"maturin build --release --manifest-path /native/Cargo.toml", dockerfile)
    assert re.search(r"pip install \. /wheels/\*\.whl", dockerfile)
    assert "ENV SALESPULSE_APPLY_ENGINE=native" in dockerfile
    assert {"native/target/", ".venv/", ".local/"} <= set(ignored)
