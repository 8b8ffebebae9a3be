"""The deployment files we cannot run here (no Docker engine) are at least valid and consistent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
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
