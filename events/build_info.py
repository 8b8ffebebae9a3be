"""``salespulse_build_info``: which versions a process runs, the same on workers and ingest."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import CollectorRegistry, Gauge


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def register_build_info(registry: CollectorRegistry) -> None:
    info = Gauge(
        "salespulse_build_info",
        "Versions of this process",
        ["version", "python", "faust"],
        registry=registry,
    )
    info.labels(
        package_version("salespulse"), platform.python_version(), package_version("faust-streaming")
    ).set(1)
