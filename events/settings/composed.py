"""The one settings class of salespulse, composed of its groups (one module per concern).

Every process (worker, ingest, tools) reads it; it lives in the events layer so that the ingest
edge and the CRM adapters take it typed without depending on the streaming runtime. Values come
from the environment (prefix ``SALESPULSE_``) or a ``.env`` file; command-line options override
individual fields. Nothing reads the environment anywhere else.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from events.settings.crm_apis import CrmApiSettings
from events.settings.crm_webhooks import CrmWebhookSettings
from events.settings.export_selection import ExportSelectionSettings
from events.settings.ingest import IngestSettings
from events.settings.kafka import KafkaSettings
from events.settings.reporting import ReportingSettings
from events.settings.state import StateHistorySettings, StateStoreSettings
from events.settings.worker_runtime import WorkerRuntimeSettings
from events.settings.worker_web import WorkerWebSettings


# Pydantic collects fields (and runs model validators) from the last base to the first: the groups
# are listed last-first so that the fields keep their documented order, Kafka first.
class Settings(
    StateHistorySettings,
    WorkerRuntimeSettings,
    StateStoreSettings,
    ExportSelectionSettings,
    WorkerWebSettings,
    CrmApiSettings,
    CrmWebhookSettings,
    IngestSettings,
    ReportingSettings,
    KafkaSettings,
    BaseSettings,
):
    """Every setting of every salespulse process; the fields are documented in their groups."""

    model_config = SettingsConfigDict(env_prefix="SALESPULSE_", env_file=".env", extra="ignore")

    log_level: str = Field("INFO", description="Log level of every salespulse process.")

    @field_validator("ingest_token", "worker_read_token", "salesforce_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: object) -> object:
        # SALESPULSE_INGEST_TOKEN= (compose's ${VAR:-}) means "no token", not "the empty token".
        if isinstance(value, str):
            return value.strip() or None
        return value

    @property
    def app_id(self) -> str:
        """Faust app id of the workers: their consumer group and the prefix of internal topics."""
        generation = f".{self.table_generation}" if self.table_generation else ""
        return f"{self.topic_prefix}salespulse{generation}"

    @property
    def internal_topics(self) -> tuple[str, str]:
        """The workers' own topics, under the app id: customer-wins and kpi-deltas."""
        return f"{self.app_id}.customer-wins", f"{self.app_id}.kpi-deltas"

    @property
    def state_topic(self) -> str:
        """The compacted topic of the workers' partition snapshots (design state-engine-v2 §6)."""
        return f"{self.app_id}.state"
