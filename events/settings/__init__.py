"""Settings of every salespulse process: ``Settings``, one class composed of documented groups.

The groups (Kafka, reporting, ingest, CRM webhooks and APIs, worker web, /metrics export, worker
runtime, state) each have their module here; import ``Settings`` from this package. It sits in the
events layer, the lowest one, so that ingest, the CRM adapters and the workers all type it.
"""

from events.settings.composed import Settings
from events.settings.worker_runtime import FAULT_POINTS, FAULT_SETTING_PATTERN

__all__ = ["FAULT_POINTS", "FAULT_SETTING_PATTERN", "Settings"]
