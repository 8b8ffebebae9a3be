"""The ingest benchmark's baseline: a trivial FastAPI app on the same server stack as ingest.

Same uvicorn configuration as ``salespulse ingest`` (``events.ingest_server.server_config``: the
h11 protocol with the head deadline, keep-alive, concurrency limit), one POST that reads the body
and answers 202, and a /readyz. Run as its own process: ``python -m bench.trivial_server PORT``.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request

from events.ingest_server import server_config
from events.settings import Settings


def create_trivial_app() -> FastAPI:
    app = FastAPI(title="trivial")

    @app.post("/v1/events", status_code=202)
    async def post_events(request: Request) -> dict[str, int]:
        await request.body()
        return {"accepted": 0}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main(argv: list[str]) -> None:
    settings = Settings(ingest_port=int(argv[0]), log_level="WARNING")
    uvicorn.Server(server_config(create_trivial_app(), settings)).run()


if __name__ == "__main__":
    main(sys.argv[1:])
