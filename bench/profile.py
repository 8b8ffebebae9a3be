"""Where a worker's time goes: a py-spy raw profile (collapsed stacks) summed into categories.

``python -m bench pipeline --profile FILE`` records one (``py-spy record --format raw``) and
``python -m bench.profile FILE`` prints this summary. A sample's category is the first rule, in
the order below, that matches any frame of its stack, so a table write that ends in a producer
send counts as a changelog write, while the network I/O the producer's own task does later counts
as producer I/O.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable

RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "producer network I/O (aiokafka sender task)",
        ("Sender._send_produce_req", "Sender._sender_routine", "AIOKafkaConnection"),
    ),
    (
        "consumer fetch (Faust/aiokafka)",
        ("Fetcher", "_drain_messages", "Fetcher._fetch", "getmany"),
    ),
    ("offset commit", ("Consumer.commit", "_commit", "commit_offsets")),
    ("decode + validate (orjson, pydantic)", ("decode_event", "validate_event")),
    (
        "table writes -> changelog records",
        ("send_changelog", "on_key_set", "ManagedUserDict.__setitem__"),
    ),
    (
        "per-message send path (Faust + aiokafka producer)",
        (
            "send_corrections",
            "DirectSender.send",
            "encode_kpi_deltas",
            "Topic.send",
            "publish_message",
            "ProducerBuffer",
            "dead_letter",
            "Producer.send",
            "MessageAccumulator",
            "_on_published",
            "as_future_message",
        ),
    ),
    (
        "fold + apply logic (streams/folds.py, projections)",
        (
            "fold_",
            "apply_day_batch",
            "on_kpi_batch",
            "on_customer_batch",
            "on_event_batch",
            "bucket_updates",
        ),
    ),
    ("telemetry (prometheus counters)", ("batch_done", "event_processed")),
    (
        "/metrics, /readyz, /v1/kpis",
        ("KpiCollector", "generate_latest", "render_registry", "kpi_exposition", "View.", "Web."),
    ),
    ("debug log records", ("Logger.",)),
)
OTHER = "event loop, Faust/mode plumbing, other"


def parse(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    samples = []
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            samples.append((stack.split(";"), int(count)))
    return samples


def categorize(frames: list[str]) -> str:
    for name, needles in RULES:
        if any(needle in frame for frame in frames for needle in needles):
            return name
    return OTHER


def summary(samples: list[tuple[list[str], int]], top: int = 15) -> str:
    total = sum(count for _, count in samples) or 1
    categories: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for frames, count in samples:
        categories[categorize(frames)] += count
        leaves[frames[-1]] += count
    lines = [f"{total:,} samples", "", "| share | where |", "|---:|---|"]
    lines += [f"| {n / total:.1%} | {name} |" for name, n in categories.most_common()]
    lines += ["", f"Top {top} functions by own time:", ""]
    lines += [f"    {n / total:6.1%}  {leaf}" for leaf, n in leaves.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        print(summary(parse(handle)))
