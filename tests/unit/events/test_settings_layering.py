"""The settings live in the events layer, and splitting them into groups changed no setting.

``Settings`` moved from ``streams/`` to ``events/settings/`` so that the ingest edge and the CRM
adapters take it typed; that only holds while nothing under ``events/`` or ``projections/`` imports
the streaming runtime. The names below are the fields of the single class before the split: a
group dropped from the composition, or a field renamed, would silently stop reading its variable.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from events.settings import FAULT_POINTS, Settings
from streams.state import faults

REPO = Path(__file__).resolve().parents[3]
LOWER_LAYERS = ("events", "projections")
RUNTIME = "streams"

FIELDS_BEFORE_THE_SPLIT = (
    "kafka_bootstrap",
    "kafka_security_protocol",
    "kafka_sasl_mechanism",
    "kafka_sasl_username",
    "kafka_sasl_password",
    "kafka_ssl_cafile",
    "kafka_ssl_certfile",
    "kafka_ssl_keyfile",
    "topic_prefix",
    "partitions",
    "replication_factor",
    "reporting_currency",
    "currency_rates_file",
    "time_zone",
    "ingest_token",
    "ingest_host",
    "ingest_port",
    "ingest_max_body_bytes",
    "ingest_max_batch",
    "ingest_ack_timeout_s",
    "ingest_header_timeout_s",
    "ingest_body_timeout_s",
    "ingest_max_connections",
    "crm_mapping_file",
    "webhook_public_url",
    "hubspot_client_secret",
    "hubspot_signature_versions",
    "pipedrive_user",
    "pipedrive_password",
    "salesforce_organization_id",
    "salesforce_token",
    "webhook_ack_timeout_s",
    "crm_interpreter_retry_max_s",
    "hubspot_private_app_token",
    "hubspot_api_base_url",
    "pipedrive_api_token",
    "pipedrive_api_base_url",
    "salesforce_instance_url",
    "salesforce_access_token",
    "salesforce_api_version",
    "crm_api_timeout_s",
    "crm_api_max_retries",
    "worker_host",
    "worker_web_port",
    "worker_url",
    "worker_read_token",
    "worker_peer_hosts",
    "metrics_scopes",
    "metrics_windows",
    "metrics_kpis",
    "data_dir",
    "table_store",
    "table_generation",
    "state_memory_mb",
    "ready_after_catch_up",
    "batch_max_events",
    "batch_within_s",
    "apply_within_s",
    "apply_engine",
    "worker_gc_young_threshold",
    "worker_session_timeout_s",
    "worker_heartbeat_interval_s",
    "worker_request_timeout_s",
    "worker_metadata_max_age_s",
    "worker_producer_linger_s",
    "worker_producer_batch_bytes",
    "worker_stuck_after_s",
    "fault_kill_at",
    "retention_days",
    "closed_deal_memory_days",
    "snapshot_interval_s",
    "snapshot_every_records",
    "snapshots_enabled",
    "log_level",
)
"""``Settings.model_fields`` in order: those of ``streams/settings.py`` before the split, and
``state_memory_mb``, ``apply_within_s``, ``apply_engine``, ``worker_gc_young_threshold`` and
``snapshot_every_records`` added after it."""


def runtime_imports(path: Path, root: Path = REPO) -> list[str]:
    """``file:line imports module`` (file relative to ``root``) for each import of the runtime in
    ``path``, wherever it sits (module level, a function, an ``if TYPE_CHECKING:`` block)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            if module == RUNTIME or module.startswith(f"{RUNTIME}."):
                found.append(f"{path.relative_to(root)}:{node.lineno} imports {module}")
    return found


def test_nothing_under_events_or_projections_imports_the_streaming_runtime():
    sources = [path for layer in LOWER_LAYERS for path in sorted((REPO / layer).rglob("*.py"))]
    assert len(sources) > 20, "the walk found too few modules: wrong repository root?"
    offenders = [found for path in sources for found in runtime_imports(path)]
    assert offenders == [], "the lower layers must not import streams:\n" + "\n".join(offenders)


def test_the_walk_flags_every_form_of_runtime_import(tmp_path):
    module = tmp_path / "events" / "probe.py"
    module.parent.mkdir()
    module.write_text(
        "import streams.app\n"
        "from streams.settings import Settings\n"
        "def late():\n"
        "    from streams import web\n"
        "import streamsx\n"
        "from . import streams\n"
    )
    assert runtime_imports(module, root=tmp_path) == [
        "events/probe.py:1 imports streams.app",
        "events/probe.py:2 imports streams.settings",
        "events/probe.py:4 imports streams",
    ]


def test_the_composed_class_has_exactly_the_fields_of_the_single_class_it_replaced():
    fields = set(Settings.model_fields)
    assert fields - set(FIELDS_BEFORE_THE_SPLIT) == set(), "fields added without updating the list"
    assert set(FIELDS_BEFORE_THE_SPLIT) - fields == set(), "fields lost in the split"
    assert tuple(Settings.model_fields) == FIELDS_BEFORE_THE_SPLIT, "fields out of their order"


def test_every_setting_is_read_from_the_same_environment_variable_as_before():
    assert Settings.model_config["env_prefix"] == "SALESPULSE_"
    assert not Settings.model_config.get("case_sensitive")
    renamed = {
        name: (field.alias, field.validation_alias)
        for name, field in Settings.model_fields.items()
        if field.alias or field.validation_alias
    }
    assert renamed == {}, "an alias would change the variable a setting is read from"


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("SALESPULSE_KAFKA_BOOTSTRAP", "a:1,b:2", "bootstrap_servers", ["a:1", "b:2"]),
        ("SALESPULSE_REPORTING_CURRENCY", "USD", "reporting_currency", "USD"),
        ("SALESPULSE_INGEST_PORT", "9090", "ingest_port", 9090),
        ("SALESPULSE_HUBSPOT_SIGNATURE_VERSIONS", "V2, v3", "hubspot_signature_versions", "v2,v3"),
        ("SALESPULSE_CRM_API_MAX_RETRIES", "2", "crm_api_max_retries", 2),
        ("SALESPULSE_WORKER_WEB_PORT", "7077", "worker_web_port", 7077),
        ("SALESPULSE_METRICS_WINDOWS", "7d, mtd", "metrics_windows", "7d,mtd"),
        ("SALESPULSE_TABLE_GENERATION", "g2", "app_id", "salespulse.g2"),
        ("SALESPULSE_BATCH_MAX_EVENTS", "50", "batch_max_events", 50),
        ("SALESPULSE_RETENTION_DAYS", "400", "retention_days", 400),
        ("SALESPULSE_CLOSED_DEAL_MEMORY_DAYS", "120", "deal_memory_days", 120),
        ("SALESPULSE_LOG_LEVEL", "DEBUG", "log_level", "DEBUG"),
    ],
)
def test_each_group_of_the_composed_class_reads_its_environment_variables(
    monkeypatch, variable, value, field, expected
):
    monkeypatch.setenv(variable, value)
    assert getattr(Settings(_env_file=None), field) == expected


def test_every_setting_keeps_its_description():
    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undocumented == []


def test_the_runtime_names_every_crash_point_the_fault_setting_accepts():
    named = (
        faults.BEFORE_CHECKPOINT_WRITE,
        faults.AFTER_CHECKPOINT_WRITE,
        faults.IN_SPILL,
        faults.IN_SNAPSHOT,
    )
    assert named == FAULT_POINTS
