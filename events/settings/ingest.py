"""Settings group: the ingest HTTP edge (address, authentication, request limits, deadlines).

Only the ingest process reads these; the limits bound what one slow or oversized client can cost
it (docs/OPERATIONS.md).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class IngestSettings(BaseModel):
    """Where ingest listens, who may post, and how large and slow a request may be."""

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
