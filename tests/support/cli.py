"""Running the ``salespulse`` console script as an operator would, against a test stack."""

from __future__ import annotations

import os
import subprocess

from tests.support.stack import SALESPULSE, Stack


def run_cli(stack: Stack | None, *args: str, timeout_s: float = 180, **env: str):
    """``salespulse *args`` with the stack's settings (if any); the completed process (text)."""
    base = stack.env() if stack is not None else dict(os.environ)
    return subprocess.run(
        [SALESPULSE, *args],
        env={**base, "NO_COLOR": "1", **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
        check=False,
    )
