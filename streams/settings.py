"""The one settings class of salespulse: every process (worker, ingest, tools) reads it.

Values come from the environment (prefix ``SALESPULSE_``) or a ``.env`` file; command-line options
override individual fields. Nothing reads the environment anywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from projections.effects import SCOPES
from projections.export_selection import normalized
from projections.kpis import KPI_DEFINITIONS
from projections.windows import WINDOWS
from streams.state.faults import SETTING_PATTERN as FAULT_SETTING_PATTERN


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SALESPULSE_", env_file=".env", extra="ignore")

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092",
        description="Kafka bootstrap servers, comma-separated host:port. Point it at an existing "
        "cluster to use that instead of the local broker.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How every salespulse process (ingest, workers, tools) talks to Kafka: "
        "PLAINTEXT (the local dev broker), SSL (TLS), SASL_PLAINTEXT or SASL_SSL (authenticated; "
        "SASL_SSL for anything outside one trusted host).",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512",
        description="SASL mechanism when kafka_security_protocol is SASL_*; PLAIN sends the "
        "password itself, so only over SASL_SSL.",
    )
    kafka_sasl_username: str | None = Field(
        None, description="SASL user name; required with a SASL_* security protocol."
    )
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password; required with a SASL_* security protocol. Never logged."
    )
    kafka_ssl_cafile: Path | None = Field(
        None,
        description="PEM file of the CA(s) that signed the brokers' certificates (SSL, SASL_SSL). "
        "Unset: the system's default trust store.",
    )
    kafka_ssl_certfile: Path | None = Field(
        None,
        description="PEM client certificate, for brokers that require mutual TLS (with "
        "kafka_ssl_keyfile).",
    )
    kafka_ssl_keyfile: Path | None = Field(
        None, description="PEM private key of kafka_ssl_certfile."
    )
    topic_prefix: str = Field(
        "",
        description="Prefix for every topic and consumer group (tests, several tenants on one "
        "cluster), e.g. 'acme.' gives 'acme.sales.deal-events'.",
    )
    partitions: int = Field(
        8,
        ge=1,
        le=1024,
        description="Partitions of every topic created by salespulse. All topics share it, so "
        "that keys and their state stay co-partitioned; changing it later needs a rebuild.",
    )
    replication_factor: int = Field(
        1, ge=1, description="Replication factor of created topics (1 for a single dev broker)."
    )
    reporting_currency: str = Field(
        "EUR",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code all amounts are reported in; events in another currency "
        "need a configured rate.",
    )
    currency_rates_file: Path | None = Field(
        None,
        description="CSV file 'date,currency,rate' of conversion rates into the reporting "
        "currency (rate = value of 1 unit of currency on that UTC day; a day without a line uses "
        "the latest earlier one; format in events/currency.py and docs/OPERATIONS.md). Events in "
        "a currency without a rate are refused. Unset: only the reporting currency is accepted.",
    )
    time_zone: str = Field("UTC", description="IANA time zone of the calendar windows (mtd, qtd).")
    ingest_token: SecretStr | None = Field(
        None,
        description="When set, POST /v1/events requires 'Authorization: Bearer <token>' (compared "
        "in constant time; never logged). Empty: no authentication.",
    )
    ingest_host: str = Field("127.0.0.1", description="Address the ingest HTTP server binds.")
    ingest_port: int = Field(8080, ge=1, le=65535, description="Port of the ingest HTTP server.")
    ingest_max_body_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1024,
        description="Largest accepted request body; larger requests get 413.",
    )
    ingest_max_batch: int = Field(
        1000, ge=1, le=1000, description="Most events accepted in one POST /v1/events."
    )
    ingest_ack_timeout_s: float = Field(
        15.0,
        gt=0,
        description="How long ingest waits for the broker's acknowledgement before answering 503.",
    )
    ingest_header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Time a client has to send a complete request line and headers, counted from "
        "the connection's opening or its previous response; then the connection is closed "
        "(slow-header clients, idle connections).",
    )
    ingest_body_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Time a client has to send a whole request body once its headers are in; a "
        "slower body is refused with 408 and the connection is closed (slow-body clients).",
    )
    ingest_max_connections: int = Field(
        1000,
        ge=1,
        description="Most concurrent connections (and requests) the ingest server handles; beyond "
        "it a request gets 503 at once (uvicorn's limit_concurrency).",
    )
    crm_mapping_file: Path | None = Field(
        None,
        description="TOML or JSON file mapping CRM data to native events (owners to reps and "
        "teams, deal stages, customer fields; docs/CRM.md). Unset: the documented defaults.",
    )
    webhook_public_url: str | None = Field(
        None,
        description="Public base URL the CRMs call (e.g. https://kpis.example.com), used to "
        "rebuild the URI that HubSpot signs when ingest sits behind a proxy. Unset: the request's "
        "own scheme and Host header.",
    )
    hubspot_client_secret: SecretStr | None = Field(
        None,
        description="Client secret of the HubSpot app whose webhooks POST /v1/webhooks/hubspot "
        "receives; it keys the request signatures. Unset: the endpoint answers 404.",
    )
    hubspot_signature_versions: str = Field(
        "v3",
        description="Comma-separated HubSpot signature versions accepted: v3 (HMAC with a "
        "timestamp, the default), and the older v2 and v1 (no replay protection) if listed.",
    )
    pipedrive_user: str | None = Field(
        None,
        description="HTTP Basic user name configured on the Pipedrive webhook (Settings > "
        "Webhooks > HTTP Auth). Both user and password unset: the endpoint answers 404.",
    )
    pipedrive_password: SecretStr | None = Field(
        None, description="HTTP Basic password configured on the Pipedrive webhook."
    )
    salesforce_organization_id: str | None = Field(
        None,
        description="Salesforce org id (15 or 18 characters) whose Outbound Messages are "
        "accepted; others are refused. Unset: the endpoint answers 404.",
    )
    salesforce_token: SecretStr | None = Field(
        None,
        description="Secret the Salesforce endpoint URL must carry as ?token=<value> (Outbound "
        "Messages cannot send an Authorization header; the org id alone is not a secret). "
        "Required whenever salesforce_organization_id is set: a worker or ingest refuses to "
        "start without it.",
    )
    webhook_ack_timeout_s: float = Field(
        3.0,
        gt=0,
        le=9.0,
        description="How long a CRM webhook waits for the broker to acknowledge the delivery's "
        "raw record before answering 503 (the CRM retries). Well inside the CRMs' own delivery "
        "timeouts (HubSpot 5 s, Pipedrive 10 s, Salesforce 60 s: docs/CRM.md).",
    )
    crm_interpreter_retry_max_s: float = Field(
        30.0,
        gt=0,
        description="Longest pause of the CRM delivery interpreter between two attempts at a "
        "delivery it could not finish (broker or vendor API unavailable); pauses double from "
        "0.5 s up to it.",
    )
    hubspot_private_app_token: SecretStr | None = Field(
        None,
        description="Access token of a HubSpot private app (scopes crm.objects.deals.read, "
        "crm.objects.companies.read; docs/CRM.md): enriches webhook deliveries with the "
        "deal's current properties and company, and lets `salespulse crm sync --crm hubspot` "
        "run. Unset: no HubSpot API calls.",
    )
    hubspot_api_base_url: str = Field(
        "https://api.hubapi.com",
        description="Base URL of HubSpot's API (changed only to point tests at a local fake).",
    )
    pipedrive_api_token: SecretStr | None = Field(
        None,
        description="Pipedrive API token (Personal preferences > API) of a user with global "
        "permissions, for `salespulse crm sync --crm pipedrive`. Unset: no Pipedrive API calls.",
    )
    pipedrive_api_base_url: str | None = Field(
        None,
        description="Your Pipedrive company domain, e.g. https://acme.pipedrive.com; needed "
        "with pipedrive_api_token.",
    )
    salesforce_instance_url: str | None = Field(
        None,
        description="Your Salesforce instance URL, e.g. https://acme.my.salesforce.com; with "
        "salesforce_access_token, enables `salespulse crm sync --crm salesforce`.",
    )
    salesforce_access_token: SecretStr | None = Field(
        None,
        description="OAuth access token of a Salesforce connected app user allowed to read "
        "Opportunities (sent as a Bearer token to the REST API).",
    )
    salesforce_api_version: str = Field(
        "62.0",
        pattern=r"^\d{2,3}\.0$",
        description="Salesforce REST API version used for queries, e.g. 62.0.",
    )
    crm_api_timeout_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Seconds one CRM API request may take (connect, read, write each).",
    )
    crm_api_max_retries: int = Field(
        4,
        ge=0,
        le=10,
        description="Retries of one CRM API request after a 429, a 5xx or a timeout, with "
        "exponential backoff and jitter (429: the vendor's Retry-After); past them, or past "
        "60 s of waiting in all, the call fails and is retried later.",
    )
    worker_host: str = Field("127.0.0.1", description="Address a worker's web server binds.")
    worker_web_port: int = Field(
        6066,
        ge=1,
        le=65535,
        description="Port of a worker's web server (/metrics, /v1/kpis, health).",
    )
    worker_url: str | None = Field(
        None,
        description="URL other workers use to reach this one's web server, for forwarded "
        "/v1/kpis requests (default http://<worker_host>:<worker_web_port>; set it when binding "
        "0.0.0.0, e.g. http://worker-1:6066).",
    )
    worker_read_token: SecretStr | None = Field(
        None,
        description="When set, every route of a worker's web server but /healthz and /readyz "
        "(/metrics, /v1/kpis, /v1/keys, unknown paths) requires 'Authorization: Bearer <token>' "
        "(401 otherwise), and requests forwarded between workers carry it: every worker of a "
        "deployment needs the same value. Prometheus then scrapes with 'authorization: "
        "{credentials_file: ...}'. Empty: no authentication (only for a loopback-bound dev stack).",
    )
    worker_peer_hosts: str = Field(
        "127.0.0.1,localhost,::1",
        description="Comma-separated host names (shell wildcards allowed, e.g. 'worker-*' or "
        "'*.salespulse-worker.salespulse.svc.cluster.local'; a '*' stays within one dot-separated "
        "label, as in DNS wildcards) of the workers a worker may forward "
        "/v1/kpis and /v1/keys requests to, with the read token. Peer URLs come from the "
        "consumer group's metadata, which anyone who can join the group writes: a peer whose "
        "host is not listed is never contacted (its keys answer 503 / count as incomplete).",
    )
    metrics_scopes: str = Field(
        "*",
        description="Scopes whose KPI series a worker's /metrics exports: '*' (or empty) for all, "
        "else a comma-separated list of rep, team, company, channel (e.g. 'team,company,channel' "
        "to keep 10k reps out of Prometheus). /v1/kpis still answers every scope.",
    )
    metrics_windows: str = Field(
        "*",
        description="Windows exported on /metrics: '*' (or empty) for all, else a "
        "comma-separated list of 1h, 24h, 7d, 30d, mtd, qtd. /v1/kpis still answers every window.",
    )
    metrics_kpis: str = Field(
        "*",
        description="KPIs exported on /metrics (the 'sales_' families): '*' (or empty) for all, "
        "else a comma-separated list of contract names (revenue, opportunities, deals_won, "
        "deals_lost, conversion_ratio, win_ratio, active_reps, revenue_per_rep, calls, "
        "calls_per_opportunity, calls_per_rep, customers, average_basket, new_customers, "
        "cost_marketing, cost_sales, cac); an unlisted family is not exported at all. /v1/kpis "
        "still answers every KPI.",
    )
    data_dir: Path = Field(
        Path(".local/state/worker-0"),
        description="Directory for a worker's local state (its RocksDB under 'state-v2').",
    )
    table_store: str = Field(
        "memory://",
        pattern=r"^(rocksdb|memory)://$",
        description="The worker's state store: 'rocksdb://' (kept in data_dir; a restart resumes "
        "from the last checkpoint) or 'memory://' (the state directory is wiped at each start, "
        "so every start rebuilds its partitions by replaying their logs).",
    )
    table_generation: str = Field(
        "",
        pattern=r"^[a-z0-9-]{0,32}$",
        description="Generation of the worker's state: a non-empty value (e.g. 'g2') gives the "
        "workers their own consumer group, internal topics and local state directory "
        "('<prefix>salespulse.g2'), so they fold the whole log from the start into fresh state "
        "beside the running generation (a rebuild: docs/OPERATIONS.md). Empty: the original "
        "generation.",
    )
    ready_after_catch_up: bool = Field(
        False,
        description="When true, a worker is not ready (/readyz 503, no KPI series, /v1/kpis 503) "
        "until its consumer group has caught up with the whole log once: for the workers of a new "
        "table_generation, so that a rebuild never serves half-built numbers "
        "(streams/catch_up.py).",
    )
    batch_max_events: int = Field(
        2000, ge=1, description="Most events an agent folds per batch (one state write per key)."
    )
    batch_within_s: float = Field(
        0.2, gt=0, description="Longest an agent waits to fill a batch before folding it."
    )
    worker_session_timeout_s: float = Field(
        10.0,
        ge=6,
        le=300,
        description="How long the consumer group waits for a silent worker before moving its "
        "partitions to the others: the pause in KPI updates after a worker crash. Too low and a "
        "worker starved of CPU is dropped needlessly (Faust's default is 60 s; brokers accept "
        "6 s and more by default).",
    )
    worker_heartbeat_interval_s: float = Field(
        3.0,
        gt=0,
        description="How often a worker tells its group it is alive; at most a third of the "
        "session timeout.",
    )
    worker_request_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Deadline of one worker request to Kafka, and of the seek to each "
        "partition's checkpoint after a rebalance: a request lost to a dying broker holds a "
        "worker up this long at most (Faust's default is 90 s). At least the session timeout.",
    )
    worker_metadata_max_age_s: float = Field(
        15.0,
        gt=0,
        description="How often a worker refreshes topic metadata. A group assignment made while "
        "a topic's metadata was missing (a broker just restarted) leaves that topic's partitions "
        "to nobody until a refresh shows them and the group rebalances: this bounds that gap "
        "(Faust's default is 5 minutes).",
    )
    worker_producer_linger_s: float = Field(
        0.01,
        ge=0,
        description="How long a worker's producer waits to fill a batch of records (internal "
        "topics, dead letters) before sending it. Faust's default, 0, sends many tiny "
        "requests: 10 ms measured 1.8x the throughput (docs/BENCHMARKS.md) for at most 10 ms more "
        "per hop.",
    )
    worker_producer_batch_bytes: int = Field(
        1024 * 1024,
        ge=16 * 1024,
        description="Largest batch of records a worker's producer sends per partition at once "
        "(Faust's default is 16 KiB).",
    )
    worker_stuck_after_s: float = Field(
        180.0,
        ge=0,
        description="A worker that stays unready (rebalancing or replaying its partitions) this "
        "long without replay progress reports itself unhealthy: /healthz answers 503, so that a "
        "liveness probe restarts it (a restart is a safe replay). 0: never.",
    )
    fault_kill_at: str = Field(
        "",
        pattern=FAULT_SETTING_PATTERN,
        description="TEST ONLY (chaos scenarios 1b and 7b), never set in production: "
        "'<point>:<n>' makes a worker kill itself with SIGKILL the n-th time it reaches point: "
        "'before-checkpoint-write' (producer flushed, checkpoint batch not written), "
        "'after-checkpoint-write' (batch written, Kafka commit not made), 'in-spill' (a spill "
        "batch written, no meta) or 'in-snapshot' (a snapshot's chunks sent, not its "
        "manifest), e.g. 'after-checkpoint-write:3' (streams/state/faults.py). Empty: off.",
    )
    retention_days: int = Field(
        100,
        ge=100,
        description="How many days of event time the KPI state keeps, measured back from stream "
        "time (the latest occurred_at a partition has seen), never from the wall clock "
        "(contract section 3). Day values of older UTC days and the call and cost ids first "
        "seen on them are deleted; open-deal stocks stay exact. At least 100, which covers the "
        "longest window (qtd, 92 days). /v1/kpis answers 400 for an as_of whose window starts "
        "before the horizon. Raise it to read older as_of windows (replays of long histories).",
    )
    snapshot_interval_s: float = Field(
        60.0,
        ge=0,
        description="How often at most a worker writes the snapshot of a partition that changed "
        "to the state topic (<app id>.state, compacted), right after a checkpoint. A worker "
        "that takes a partition over without a local checkpoint of it (a fresh host, an empty "
        "data dir, memory://) restores the latest complete snapshot and replays only the logs "
        "after it. 0: after every checkpoint with changes.",
    )
    snapshots_enabled: bool = Field(
        True,
        description="Write and restore partition snapshots on the state topic. Off: a worker "
        "without a local checkpoint replays its partitions' logs from their start.",
    )
    log_level: str = Field("INFO", description="Log level of every salespulse process.")

    @field_validator("ingest_token", "worker_read_token", "salesforce_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: object) -> object:
        # SALESPULSE_INGEST_TOKEN= (compose's ${VAR:-}) means "no token", not "the empty token".
        if isinstance(value, str):
            return value.strip() or None
        return value

    @model_validator(mode="after")
    def _salesforce_needs_token(self) -> Settings:
        # The org id travels in every Outbound Message and is no secret: alone it lets anyone forge
        # deliveries. Refuse to start rather than run an endpoint that authenticates nothing.
        if self.salesforce_organization_id and self.salesforce_token is None:
            raise ValueError(
                "salesforce_organization_id enables the Salesforce endpoint, which then needs "
                "salesforce_token (the endpoint URL's ?token=): the org id alone is not a secret"
            )
        return self

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "kafka_sasl_username and kafka_sasl_password"
            )
        plain_text = self.kafka_security_protocol == "SASL_PLAINTEXT"
        if plain_text and self.kafka_sasl_mechanism == "PLAIN":
            raise ValueError(
                "kafka_sasl_mechanism PLAIN sends the password itself: use it only with SASL_SSL, "
                "or use SCRAM-SHA-256/512"
            )
        return self

    @model_validator(mode="after")
    def _group_timeouts_fit(self) -> Settings:
        if self.worker_request_timeout_s < self.worker_session_timeout_s:
            raise ValueError("worker_request_timeout_s must be at least worker_session_timeout_s")
        if self.worker_heartbeat_interval_s * 3 > self.worker_session_timeout_s:
            raise ValueError(
                "worker_heartbeat_interval_s must be at most a third of worker_session_timeout_s"
            )
        return self

    @field_validator("metrics_scopes", "metrics_windows", "metrics_kpis")
    @classmethod
    def _known_export_names(cls, value: str, info: ValidationInfo) -> str:
        # A typo must stop the worker at start, not silently export nothing.
        known, what = {
            "metrics_scopes": (SCOPES, "scope"),
            "metrics_windows": (WINDOWS, "window"),
            "metrics_kpis": (KPI_DEFINITIONS, "KPI"),
        }[info.field_name]
        return normalized(value, known, what)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("hubspot_signature_versions")
    @classmethod
    def _known_signature_versions(cls, value: str) -> str:
        versions = [v.strip().lower() for v in value.split(",") if v.strip()]
        unknown = sorted(set(versions) - {"v1", "v2", "v3"})
        if not versions or unknown:
            raise ValueError(f"expected a comma-separated list of v1, v2, v3; got {value!r}")
        return ",".join(versions)

    @property
    def hubspot_versions(self) -> frozenset[str]:
        """The accepted HubSpot signature versions, e.g. frozenset({"v3"})."""
        return frozenset(self.hubspot_signature_versions.split(","))

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

    @property
    def advertised_worker_url(self) -> str:
        return self.worker_url or f"http://{self.worker_host}:{self.worker_web_port}"

    @property
    def peer_host_patterns(self) -> tuple[str, ...]:
        """worker_peer_hosts as lower-case patterns, for ``fnmatch``."""
        return tuple(h.strip().lower() for h in self.worker_peer_hosts.split(",") if h.strip())

    @property
    def bootstrap_servers(self) -> list[str]:
        return [server.strip() for server in self.kafka_bootstrap.split(",") if server.strip()]
