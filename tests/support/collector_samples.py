"""A small company history and the views of it that the /metrics tests scrape.

Why shared: the collector, exposition, export-selection and report-cache tests all read the same
events at the same instant (``EVENTS`` at ``NOW``), through a worker's view with versions
(``VersionedStore``), and compare what /metrics renders as samples (``samples``).
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from projections.kpi_exposition import render_registry
from projections.readout import report
from tests.support.factories import call, cost, created, lost, ts, won

NOW = ts("2026-02-14T15:20:00Z")
EVENTS = [
    created("d-1", "2026-02-14T15:01:00Z", amount=100),
    won("d-1", "2026-02-14T15:05:00Z", amount=250),
    created("d-2", "2026-02-03T09:00:00Z", rep_id="rep-2", channel="linkedin", customer_id="c2"),
    lost("d-2", "2026-02-10T09:00:00Z"),
    call("2026-02-14T10:00:00Z", rep_id="rep-3", team_id="team-2"),
    cost("2026-02-12T10:00:00Z", amount=40, category="sales", team_id="team-1", channel="email"),
    created("d-old", "2025-06-01T09:00:00Z", rep_id="rep-old", team_id="team-1", channel=None),
]


def samples(registry) -> dict[tuple, float]:
    """The KPI samples /metrics renders, by (name, scope, id, window)."""
    text = render_registry(registry).decode()
    return {
        (s.name, s.labels.get("scope"), s.labels.get("id"), s.labels.get("window")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("sales_") and s.name != "sales_reporting_currency_info"
    }


class VersionedStore:
    """A worker's view over a ``BucketStore``: owned keys in order, reports (and bucket lookups,
    for the baseline collector of ``bench.scrape``), versions."""

    def __init__(self, store, owned=None) -> None:
        self.store, self.owned, self.versions = store, owned, {}

    def owned_keys(self):
        return sorted(self.store.keys() if self.owned is None else self.owned)

    def lookup(self, key, grid_name, index):
        return self.store.lookup(key, grid_name, index)

    def report(self, key, now):
        return report(self.store.lookup, key, now, self.store.grid)

    def version(self, key):
        return self.versions.get(key, 0)
