"""Scale-out: the same event log folded by 1 and by 2 worker processes.

A worker's consumer group and internal topics are named after its topic prefix, so the two runs
get the same events (same keys, same partitions) produced under two prefixes. The clock starts
when every worker answers /readyz with all partitions assigned among them.
"""

from __future__ import annotations

from bench import infra
from bench.pipeline import history_end, time_product
from bench.stats import Figure, format_rate, format_ratio, rate, ratio
from bench.workload import Shape, history, route_of


async def run(bootstrap: str, events: int) -> list[Figure]:
    log = history(events, history_end(), Shape())
    rates = {}
    for workers in (1, 2):
        prefix = infra.new_prefix(f"scaleout{workers}")
        names = await infra.create_topics(bootstrap, prefix)
        await infra.produce(bootstrap, infra.encoded(log, names, route_of))
        seconds, stack, _ = await time_product(bootstrap, names, prefix, workers=workers)
        stack.stop()
        rates[workers] = rate(len(log), seconds)
        print(
            f"scaleout: {workers} worker(s): {len(log):,} events in {seconds:.1f}s "
            f"({format_rate(rates[workers])})"
        )
    return [
        Figure("scale-out", f"1 worker ({len(log):,} events)", format_rate(rates[1])),
        Figure("scale-out", "2 workers, same events", format_rate(rates[2])),
        Figure("scale-out", "2 workers / 1 worker", format_ratio(ratio(rates[2], rates[1]))),
    ]
