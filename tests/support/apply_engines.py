"""Both apply paths (``streams.kpi_apply``) for tests that must hold for each.

The compiled one is required: ``make install`` builds it (``native/``), so a missing module fails
the tests that name it instead of skipping them.
"""

from __future__ import annotations

from streams.kpi_apply import NATIVE_MODULE, KpiApply, NativeApply, PythonApply, native_module

ENGINES = ("python", "native")


def kpi_apply_named(engine: str) -> KpiApply:
    if engine == "python":
        return PythonApply()
    native = native_module()
    assert native is not None, f"{NATIVE_MODULE} is not installed: make install builds native/"
    return NativeApply(native)
