"""The CRM side of ingest on shutdown: the interpreter stops, then every deal source closes."""

from __future__ import annotations

import pytest

from events.crm.background import CrmBackground


class FakeInterpreter:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.enrichment = {"hubspot_api": True}

    async def stop(self) -> None:
        self.log.append("interpreter stopped")

    def health(self) -> dict:
        return {"running": True, "pending": 0, "last_error": None}


class FakeSource:
    def __init__(self, vendor: str, log: list[str], fails: bool = False) -> None:
        self.vendor, self.log, self.fails = vendor, log, fails

    async def close(self) -> None:
        self.log.append(f"{self.vendor} closed")
        if self.fails:
            raise RuntimeError("connection reset while closing")


async def test_stopping_closes_every_source_after_the_interpreter_stopped():
    log: list[str] = []
    sources = {vendor: FakeSource(vendor, log) for vendor in ("hubspot", "salesforce")}
    crm = CrmBackground(sources, FakeInterpreter(log))

    await crm.stop()

    assert log == ["interpreter stopped", "hubspot closed", "salesforce closed"]


async def test_a_source_that_fails_to_close_does_not_keep_the_others_open():
    log: list[str] = []
    sources = {
        "hubspot": FakeSource("hubspot", log, fails=True),
        "pipedrive": FakeSource("pipedrive", log),
    }

    await CrmBackground(sources, FakeInterpreter(log)).stop()

    assert log == ["interpreter stopped", "hubspot closed", "pipedrive closed"]


async def test_the_sources_close_even_when_the_interpreter_fails_to_stop():
    log: list[str] = []

    class BrokenInterpreter(FakeInterpreter):
        async def stop(self) -> None:
            raise RuntimeError("consumer stuck")

    crm = CrmBackground({"hubspot": FakeSource("hubspot", log)}, BrokenInterpreter(log))

    with pytest.raises(RuntimeError, match="consumer stuck"):
        await crm.stop()
    assert log == ["hubspot closed"]


def test_health_shows_the_interpreter_and_the_api_access_of_the_process():
    crm = CrmBackground({}, FakeInterpreter([]))

    assert crm.health() == {
        "running": True,
        "pending": 0,
        "last_error": None,
        "hubspot_api": True,
    }
