"""The Faust internals ``streams.faust_ext`` relies on are still in the pinned faust-streaming, and
no module outside that package touches a private attribute of Faust, mode or aiokafka."""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from pathlib import Path

import faust
import pytest

from streams.faust_ext.checkpointing_app import SalespulseApp
from streams.faust_ext.hooks import (
    APP_INTERNALS,
    INTERNAL_NAMES,
    OVERRIDDEN_HOOKS,
    PRIVATE_HOOKS,
    AppAttribute,
    Hook,
)
from tests.support.private_access import PrivateAccessFinder

REPO = Path(__file__).resolve().parents[4]
PACKAGE = REPO / "streams" / "faust_ext"
WALKED = ("streams", "events", "projections")


def hook_owner(hook: Hook) -> type:
    return getattr(importlib.import_module(hook.module), hook.owner)  # type: ignore[no-any-return]


@pytest.mark.parametrize("hook", PRIVATE_HOOKS + OVERRIDDEN_HOOKS, ids=lambda hook: hook.label)
def test_every_hook_the_package_relies_on_is_in_the_pinned_faust(hook):
    assert hasattr(hook_owner(hook), hook.name), (
        f"{hook.label} is gone from the installed faust-streaming ({faust.__version__}); "
        f"streams.faust_ext needs it ({hook.why})"
    )


@pytest.mark.parametrize("attribute", APP_INTERNALS, ids=lambda attribute: attribute.label)
def test_every_app_internal_the_package_reads_is_on_a_faust_app(tmp_path, attribute: AppAttribute):
    owner: object = faust.App("t-faust-ext-hooks", broker="kafka://127.0.0.1:1", datadir=tmp_path)
    for part in filter(None, attribute.owner.split(".")):
        owner = getattr(owner, part)
    assert hasattr(owner, attribute.name), (
        f"{attribute.label} is gone from the installed faust-streaming ({faust.__version__}): "
        "streams.faust_ext.introspect and web_server read it"
    )


def test_every_listed_private_hook_is_still_used_by_the_package():
    source = "\n".join(path.read_text() for path in PACKAGE.glob("*.py") if path.name != "hooks.py")
    unused = [hook.label for hook in PRIVATE_HOOKS if hook.name not in source]
    assert not unused, f"listed in streams.faust_ext.hooks but no longer used: {unused}"


def test_faust_flushes_the_producer_before_the_commit_hook_that_checkpoints():
    from faust.transport.consumer import Consumer

    source = inspect.getsource(Consumer._commit_offsets)
    flush, commit = source.find("await self.app.producer.flush()"), source.find("self._commit(")
    assert 0 <= flush < commit, (
        "faust.transport.consumer.Consumer._commit_offsets no longer flushes the producer before "
        "awaiting _commit: step 2 of the commit protocol (streams.faust_ext) does not hold"
    )


def test_our_consumer_gets_every_argument_faust_gives_its_own():
    def keywords(function) -> set[str]:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        return {
            k.arg for node in ast.walk(tree) if isinstance(node, ast.Call) for k in node.keywords
        }

    missing = keywords(faust.App._new_consumer) - keywords(SalespulseApp._new_consumer)
    assert not missing, f"faust.App._new_consumer now also passes {sorted(missing)}"


def test_no_module_outside_the_faust_extensions_touches_a_faust_private():
    paths = [
        path
        for package in WALKED
        for path in sorted((REPO / package).rglob("*.py"))
        if PACKAGE not in path.parents
    ]
    finder = PrivateAccessFinder(paths, WALKED, INTERNAL_NAMES)
    found = [line.replace(f"{REPO}/", "") for line in finder.findings()]
    assert not found, "move these into streams/faust_ext:\n" + "\n".join(found)


FAUST_REACHING_CODE = """
import faust
from faust.transport.drivers.aiokafka import Consumer


class App(faust.App):
    def _new_consumer(self):
        return self._on_partitions_assigned


class Fenced:
    async def perform_seek(self):
        await super()._seek(None, 0)


class Reader(Consumer):
    def __init__(self):
        self._engine = None

    def offsets(self, app):
        return self._engine, self._read_offset, app.assignor.assigned_actives(), app._monitor


def peek(app):
    return getattr(app, "_conf")
"""


def test_the_walk_flags_each_way_of_reaching_a_private_and_not_our_own_attributes(tmp_path):
    module = tmp_path / "reaching.py"
    module.write_text(FAUST_REACHING_CODE)

    found = list(PrivateAccessFinder([module], WALKED, INTERNAL_NAMES).findings())

    lines = {int(line.split(":")[1]) for line in found}
    assert lines == {7, 8, 13, 21, 25}
    assert sum(":21:" in line for line in found) == 3, found
    assert not any("_engine" in line for line in found)
