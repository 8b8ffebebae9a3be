"""``deploy/kafka/kafka.sh``'s opt-in SASL/SCRAM mode, read from the broker config it writes
(the script sourced in bash: no Java, no broker). A real SCRAM broker is in
tests/integration/test_kafka_sasl.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

KAFKA_SH = Path(__file__).resolve().parents[3] / "deploy" / "kafka" / "kafka.sh"


def kafka_sh(function: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run kafka.sh's functions (``node_config_lines``, ...) with ``env``; output captured."""
    script = f'source "{KAFKA_SH}"; {function}'
    return subprocess.run(
        ["bash", "-c", script],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "KAFKA_STATE_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def config_of(tmp_path: Path, **env: str) -> dict[str, str]:
    done = kafka_sh("node_config_lines 1 1@127.0.0.1:9093", tmp_path, **env)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "=" in line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_without_scram_credentials_the_broker_stays_plaintext(tmp_path):
    config = config_of(tmp_path)
    assert config["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert config["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert "sasl.enabled.mechanisms" not in config


def test_scram_credentials_make_clients_and_brokers_authenticate_with_scram_sha_512(tmp_path):
    config = config_of(tmp_path, KAFKA_SASL_SCRAM_USER="alice", KAFKA_SASL_SCRAM_PASSWORD="pw-1")
    assert config["listeners"] == "SASL_PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert config["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:9092"
    assert config["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    assert config["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert config["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert (
        'username="alice" password="pw-1";'
        in config["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    )


def test_the_scram_user_is_created_when_the_storage_is_formatted(tmp_path):
    done = kafka_sh(
        'scram_format_args; printf "%s\\n" "${SCRAM_FORMAT_ARGS[@]}"',
        tmp_path,
        KAFKA_SASL_SCRAM_USER="alice",
        KAFKA_SASL_SCRAM_PASSWORD="pw-1",
    )
    assert done.stdout.splitlines() == ["--add-scram", "SCRAM-SHA-512=[name=alice,password=pw-1]"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_SASL_SCRAM_USER": "alice"}, "set both KAFKA_SASL_SCRAM_USER and"),
        ({"KAFKA_SASL_SCRAM_PASSWORD": "pw"}, "set both KAFKA_SASL_SCRAM_USER and"),
        (
            {"KAFKA_SASL_SCRAM_USER": "alice", "KAFKA_SASL_SCRAM_PASSWORD": 'p",w]'},
            "may hold only letters, digits",
        ),
    ],
    ids=["user-only", "password-only", "quote-in-password"],
)
def test_half_or_unsafe_scram_credentials_are_refused_before_the_broker_starts(
    tmp_path, env, message
):
    done = kafka_sh("node_config_lines 1 x; scram_format_args", tmp_path, **env)
    assert done.returncode == 1
    assert message in done.stderr
