"""Scenario 5: two workers, one killed (SIGKILL) mid-stream. The survivor takes its partitions and
answers every KPI exactly; /metrics exports every series exactly once (nothing stale, nothing
missing), alone and again once the killed worker is back and owns its share.

The history ends now (not in the fixed past) so that /metrics, which reads windows at the wall
clock, has every window populated."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import pytest

from tests.chaos.audit import settled_audit
from tests.chaos.feed import Feeder
from tests.chaos.history import size_history, validated
from tests.chaos.observe import settle, wait_owning
from tests.support.kpis import eventually, scrape_kpi_series

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]

CATCH_UP_S = 60
"""Once the survivor owns every partition, it has folded the whole backlog within this (light;
twice that at full size): a worker folds about 1 000 events/s, the backlog is a few thousand."""


def expected_series(accepted: list, now: datetime) -> dict[tuple[str, str, str, str], float]:
    from projections.recompute import recompute
    from projections.timebase import BucketGrid

    series = {}
    for key, kpis in recompute(accepted, BucketGrid("UTC")).report_all(now).items():
        scope, scope_id, window = key.split("|")
        for name, value in kpis.items():
            series[(name, scope, scope_id, window)] = float(value)
    return series


def series_problems(urls: list[str], accepted: list) -> list[str]:
    """Every expected series exported by exactly one of ``urls``, with the recomputed value."""
    scraped = {url: scrape_kpi_series(url) for url in urls}
    want = expected_series(accepted, datetime.now(UTC))
    seen: dict[tuple, list[str]] = {}
    for url, series in scraped.items():
        for key in series:
            seen.setdefault(key, []).append(url)
    union = {k: v for series in scraped.values() for k, v in series.items()}
    problems = [f"{k} exported by {len(v)} workers" for k, v in seen.items() if len(v) > 1]
    problems += [f"{k} missing" for k in sorted(want.keys() - union.keys())]
    problems += [f"{k} not expected (stale?)" for k in sorted(union.keys() - want.keys())]
    problems += [
        f"{k}: exported {union[k]}, want {v}"
        for k, v in sorted(want.items())
        if k in union and abs(union[k] - v) > 1e-9 * max(1.0, abs(v))
    ]
    return problems


def test_a_survivor_takes_over_a_killed_worker_exactly_and_every_series_is_exported_once(
    chaos_stack, size
):
    seed = 505
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    events = size_history(size(3_000, 20_000), now=now, seed=seed)
    stack = chaos_stack(workers=2)
    for worker in stack.workers:
        assert wait_owning(worker.url, 1, 60) is not None, "both workers own partitions"

    feed_s = size(8.0, 40.0)
    feeder = Feeder(stack.ingest.url, events, seconds=feed_s)
    feeder.start()
    fed_from = time.monotonic()
    time.sleep(feed_s * rng.uniform(0.25, 0.6))
    victim, survivor = rng.sample(stack.workers, 2)
    victim.kill()
    killed_at = f"{time.monotonic() - fed_from:.1f}s/{len(feeder.log.accepted)}ev"
    takeover_s = wait_owning(survivor.url, stack.partitions, 120)
    took_over_at = time.monotonic()
    post_log = feeder.finish(timeout_s=300)
    fed_s = time.monotonic() - fed_from
    accepted = validated(post_log.accepted)

    alone = settle(stack, timeout_s=size(120, 300))
    caught_up_s = time.monotonic() - took_over_at
    audit_from = time.monotonic()
    result = settled_audit(
        "5 two workers, one killed (survivor)",
        survivor.url,
        accepted,
        now,
        facts={
            "killed": victim.name,
            "killed_at": killed_at,
            "takeover_s": None if takeover_s is None else round(takeover_s, 1),
            "fed_s": round(fed_s, 1),
            "settled_s": round(alone.seconds, 1),
            "caught_up_after_takeover_s": round(caught_up_s, 1),
        },
    )
    scrape_from = time.monotonic()
    alone_problems = eventually(lambda: series_problems([survivor.url], accepted), 20, 2)
    timings = {"audit_s": round(scrape_from - audit_from, 1)}
    timings["series_check_s"] = round(time.monotonic() - scrape_from, 1)

    restarted_from = time.monotonic()
    back = stack.restart_worker(victim, wait=False)
    back_s = wait_owning(back.url, 1, 120)
    both = settle(stack, timeout_s=120)
    both_problems = eventually(lambda: series_problems([survivor.url, back.url], accepted), 20, 2)
    again = settled_audit(
        "5 two workers, one killed (after its return)",
        back.url,
        accepted,
        now,
        facts={
            "owning_again_s": None if back_s is None else round(back_s, 1),
            "settled_s": round(time.monotonic() - restarted_from, 1),
            "series_problems_alone": len(alone_problems),
            "series_problems_both": len(both_problems),
            **timings,
        },
    )

    assert takeover_s is not None, f"the survivor never took all partitions: {alone.describe()}"
    assert alone.quiet, alone.describe()
    assert caught_up_s <= CATCH_UP_S * size(1, 2), (
        f"the survivor owned every partition but took {caught_up_s:.0f}s to fold the backlog"
    )
    assert alone_problems == [], alone_problems[:20]
    assert (result.lost, result.double_counted) == (0, 0), result.summary()
    assert result.exact, result.summary()
    assert both.quiet and len(both.owners) == 2 and all(both.owners.values()), both.describe()
    assert both_problems == [], both_problems[:20]
    assert again.exact, again.summary()
