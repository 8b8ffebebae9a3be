"""Experiment only: every asyncio loop of a process started with this directory on PYTHONPATH is
a uvloop loop (``streams.cli`` creates its loop with ``asyncio.new_event_loop()``).

Measures what uvloop would bring to the worker without changing product code:
``python -m bench pipeline --worker-env PYTHONPATH=bench/variants/uvloop`` (absolute path).
"""

import asyncio

import uvloop

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
