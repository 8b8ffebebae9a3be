"""Settings group: a worker's web server (/metrics, /v1/kpis, health) and its peers.

Workers forward /v1/kpis requests for keys they do not own to the worker that does, so each one
needs to know its own URL, the read token they share, and which hosts it may forward to.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class WorkerWebSettings(BaseModel):
    """Bind address and advertised URL, read token, and the peers a worker may forward to."""

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

    @property
    def advertised_worker_url(self) -> str:
        """The URL this worker publishes to its group: worker_url, else its bind address."""
        return self.worker_url or f"http://{self.worker_host}:{self.worker_web_port}"

    @property
    def peer_host_patterns(self) -> tuple[str, ...]:
        """worker_peer_hosts as lower-case patterns, for ``fnmatch``."""
        return tuple(h.strip().lower() for h in self.worker_peer_hosts.split(",") if h.strip())
