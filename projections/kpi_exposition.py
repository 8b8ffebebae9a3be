"""Prometheus text exposition of the KPI families from lines rendered once per key.

Why: formatting every series of every key on every scrape (``GaugeMetricFamily`` objects, then
``generate_latest``) grew to seconds at 100k series ("Scrape path" in docs/BENCHMARKS.md), while
between two scrapes most keys do not change. A key's lines are rendered here exactly as
``generate_latest`` renders them (labels sorted, values escaped and formatted the same way), kept
per KPI family, and a scrape only joins them. The operational metrics keep going through
``generate_latest``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from projections.effects import split_scope_key
from projections.export_selection import ExportSelection
from projections.kpis import KPI_DEFINITIONS

LABELS = ("scope", "id", "window")
KeyLines = tuple[bytes, ...]
"""One key's exposition lines per exported KPI family, in the selection's KPI order."""


def escape_label_value(value: str) -> str:
    """As prometheus_client escapes a label value: backslash, newline, double quote."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def key_lines(
    key: str, windows: Mapping[str, Mapping] | None, selection: ExportSelection
) -> KeyLines | None:
    """A key's report (``projections.readout.report``) as exposition lines, or ``None`` when the
    key contributes to no window (it is then not exported at all)."""
    if windows is None:
        return None
    scope, scope_id = split_scope_key(key)
    labels = f'{{id="{escape_label_value(scope_id)}",scope="{escape_label_value(scope)}",window="'
    families = []
    texts: dict[float | str, str] = {}  # windows often share values (and KPI dicts)
    for name in selection.kpis:
        prefix = f"sales_{name}{labels}"
        lines = []
        for window in selection.windows:
            value = windows[window].get(name)
            if value is not None and not math.isnan(value := float(value)):
                lines.append(f'{prefix}{window}"}} {_text_of(value, texts)}\n')
        families.append("".join(lines).encode())
    return tuple(families)


def _text_of(value: float, texts: dict[float | str, str]) -> str:
    """``floatToGoString(value)``, remembered in ``texts`` (zero by its sign: -0.0 == 0.0)."""
    key: float | str = value if value else repr(value)
    text = texts.get(key)
    if text is None:
        text = texts[key] = floatToGoString(value)
    return text


class RenderedFamily(Metric):
    """A metric family whose exposition text is already rendered, as ``chunks`` of bytes.

    ``render_registry`` copies that text as is. Anything else reading the registry the usual way
    (``generate_latest``, ``get_sample_value``) still sees ordinary samples, parsed back from the
    text on demand: slow, for tests and tools, never on the scrape path.
    """

    def __init__(self, name: str, documentation: str, typ: str, chunks: Sequence[bytes]) -> None:
        super().__init__(name, documentation, typ)
        self.chunks = chunks

    @property
    def exposition(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def samples(self) -> list[Sample]:
        parsed = text_string_to_metric_families(self.exposition.decode())
        return [sample for family in parsed for sample in family.samples]

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        if value:  # Metric.__init__ sets []; the samples are the text
            raise TypeError("a rendered family's samples are its exposition text")

    def add_sample(self, *args, **kwargs) -> None:
        raise TypeError("a rendered family's samples are its exposition text")


class _Only(Collector):
    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterable[Metric]:
        return (self._metric,)


def exposition_of(metric: Metric) -> bytes:
    """``generate_latest``'s text for one metric family."""
    return generate_latest(_Only(metric))


def render_registry(registry: Collector) -> bytes:
    """What ``generate_latest(registry)`` gives, but a ``RenderedFamily``'s text is used as is
    (joined once, with everything else: no intermediate copy of tens of megabytes)."""
    parts: list[bytes] = []
    for metric in registry.collect():
        if isinstance(metric, RenderedFamily):
            parts.extend(metric.chunks)
        else:
            parts.append(exposition_of(metric))
    return b"".join(parts)


class KpiFamilies:
    """The exported KPI families' headers (HELP, TYPE) and the currency family, rendered once."""

    def __init__(self, currency: str, selection: ExportSelection) -> None:
        info = InfoMetricFamily("sales_reporting_currency", "Currency all amounts are reported in")
        info.add_metric([], {"currency": currency})
        self.currency = RenderedFamily(
            info.name, info.documentation, info.type, (exposition_of(info),)
        )
        self.names = selection.kpis
        self.headers = tuple(
            exposition_of(GaugeMetricFamily(f"sales_{name}", help_text(name), labels=LABELS))
            for name in self.names
        )

    def families(self, rows: list[KeyLines]) -> Iterator[RenderedFamily]:
        """Each exported KPI family: its header, then every key's lines in ``rows`` order."""
        columns = zip(*rows, strict=True) if rows else ((),) * len(self.names)
        for name, header, column in zip(self.names, self.headers, columns, strict=True):
            yield RenderedFamily(f"sales_{name}", help_text(name), "gauge", (header, *column))


def help_text(name: str) -> str:
    return KPI_DEFINITIONS[name][0]
