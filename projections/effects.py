"""What a deal, an acquisition, a call or a cost adds to which (scope, id) at which quarter-hour.

Every scope key one input touches gets the very same change: a deal adds the same counts to its
rep, team, company, channel and segment. So an input's effect is computed once, as a ``Spread``
(its scope keys, and one ``Tally`` per quarter-hour for each of them), and fanned out only where it
is summed: ``QuarterHourCorrections`` (scope key -> quarter-hour -> ``Tally``) for a
recomputation, ``streams.corrections.Corrections`` (the folds' offset-tagged corrections, sent on
the kpi-deltas topic) for the stream, which keeps the spread's tallies shared between its keys
and encodes each once. A change of a deal is ``record(new) - record(old)`` (``deal_change``), so
corrections retract exactly what was counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from projections.deal import CustomerWin, DealContribution
from projections.tally import Tally
from projections.timebase import quarter_of

REP, TEAM, COMPANY, CHANNEL, SEGMENT = "rep", "team", "company", "channel", "segment"
SCOPES = (REP, TEAM, COMPANY, CHANNEL, SEGMENT)


def scope_key(scope: str, scope_id: str) -> str:
    return f"{scope}|{scope_id}"


def split_scope_key(key: str) -> tuple[str, str]:
    scope, _, scope_id = key.partition("|")
    return scope, scope_id


COMPANY_KEY = scope_key(COMPANY, "")

QuarterTallies = list[tuple[int, Tally]]
"""Non-empty tallies by quarter-hour, in quarter order."""


class Spread(NamedTuple):
    """One change that each of ``keys`` gets whole. Its tallies are shared by those keys: read
    them, never add to them."""

    keys: list[str]
    quarters: QuarterTallies


def deal_scopes(
    rep_id: str, team_id: str, channel: str | None, segment: str | None = None
) -> list[str]:
    keys = [scope_key(REP, rep_id), scope_key(TEAM, team_id), COMPANY_KEY]
    if channel:
        keys.append(scope_key(CHANNEL, channel))
    if segment:
        keys.append(scope_key(SEGMENT, segment))
    return keys


class QuarterHourCorrections:
    """Corrections of many (scope, id) keys, pre-aggregated per quarter-hour."""

    __slots__ = ("by_key",)

    def __init__(self) -> None:
        self.by_key: dict[str, dict[int, Tally]] = {}

    def at(self, key: str, quarter: int) -> Tally:
        buckets = self.by_key.setdefault(key, {})
        tally = buckets.get(quarter)
        if tally is None:
            tally = buckets[quarter] = Tally()
        return tally

    def include(self, spread: Spread) -> None:
        """Sum a spread into each of its keys."""
        for key in spread.keys:
            for quarter, tally in spread.quarters:
                self.at(key, quarter).add(tally)

    def merge(self, other: QuarterHourCorrections, sign: int = 1) -> None:
        for key, buckets in other.by_key.items():
            for quarter, tally in buckets.items():
                self.at(key, quarter).add(tally, sign)

    def items(self) -> Iterator[tuple[str, QuarterTallies]]:
        """Non-empty corrections per key; keys whose corrections cancel out are skipped."""
        for key, buckets in self.by_key.items():
            live = _live(buckets)
            if live:
                yield key, live

    def spreads(self) -> list[Spread]:
        """The non-empty corrections, one spread per key."""
        return [Spread([key], quarters) for key, quarters in self.items()]

    def is_empty(self) -> bool:
        return not any(True for _ in self.items())


def _live(tallies: dict[int, Tally]) -> QuarterTallies:
    return [(q, t) for q, t in sorted(tallies.items()) if not t.is_empty()]


def deal_keys(deal: DealContribution) -> list[str]:
    return deal_scopes(deal.rep_id, deal.team_id, deal.channel, deal.segment)


def add_deal(
    corrections: QuarterHourCorrections, deal: DealContribution | None, sign: int = 1
) -> None:
    """What ``deal`` adds (``sign`` 1) or takes back (-1) at each of its scope keys."""
    if deal is not None:
        corrections.include(Spread(deal_keys(deal), _live(deal_quarters(deal, sign))))


def deal_change(before: DealContribution | None, after: DealContribution | None) -> list[Spread]:
    """What replacing ``before`` by ``after`` changes: ``add_deal(after) - add_deal(before)``
    summed per key, as at most three spreads (keys of both, of the old only, of the new only)."""
    old = deal_quarters(before, -1) if before is not None else {}
    new = deal_quarters(after, +1) if after is not None else {}
    old_keys = deal_keys(before) if before is not None else []
    new_keys = deal_keys(after) if after is not None else []
    both = [k for k in old_keys if k in new_keys]
    spreads = [
        Spread([k for k in old_keys if k not in both], _live(old)),
        Spread([k for k in new_keys if k not in both], _live(new)),
    ]
    if both:
        spreads.insert(0, Spread(both, _live(_net(old, new))))
    return [s for s in spreads if s.keys and s.quarters]


def _net(old: dict[int, Tally], new: dict[int, Tally]) -> dict[int, Tally]:
    net = {q: Tally(dict(t.counts), dict(t.reps), dict(t.customers)) for q, t in old.items()}
    for quarter, tally in new.items():
        if quarter in net:
            net[quarter].add(tally)
        else:
            net[quarter] = tally
    return net


def deal_quarters(deal: DealContribution, sign: int) -> dict[int, Tally]:
    """Rule 3: opportunity (and pipeline created) at creation, won (revenue, customer, time to
    win) at win, lost at loss; rule 6: the deal's open stock from creation to closing. The same
    for each of the deal's scope keys."""
    tallies: dict[int, Tally] = {}
    moments = (
        (deal.created_at, _count_creation),
        (deal.won_at, _count_win),
        (deal.lost_at, _count_loss),
    )
    for at_us, count in moments:
        if at_us is not None:
            tally = _tally_at(tallies, quarter_of(at_us))
            tally.rep(deal.rep_id, sign)
            count(tally, deal, sign)
    _add_open_stock(tallies, deal, sign)
    return tallies


def _tally_at(tallies: dict[int, Tally], quarter: int) -> Tally:
    tally = tallies.get(quarter)
    if tally is None:
        tally = tallies[quarter] = Tally()
    return tally


def _count_creation(tally: Tally, deal: DealContribution, sign: int) -> None:
    tally.count("opportunities", sign)
    tally.count("pipeline_created", sign * deal.amount)


def _count_loss(tally: Tally, deal: DealContribution, sign: int) -> None:
    tally.count("deals_lost", sign)


def _count_win(tally: Tally, deal: DealContribution, sign: int) -> None:
    tally.count("deals_won", sign)
    tally.count("revenue", sign * deal.amount)
    if deal.customer_id:
        tally.customer(deal.customer_id, sign)
    if deal.created_at is not None and deal.won_at is not None:
        tally.count("won_with_created", sign)
        tally.count("won_age_us", sign * max(0, deal.won_at - deal.created_at))


def _add_open_stock(tallies: dict[int, Tally], deal: DealContribution, sign: int) -> None:
    """Open at T: created before T and not closed before T, i.e. [c < T] - [max(c, close) < T]:
    +1 where it is created, -1 where it closes (never before its creation)."""
    if deal.created_at is None:
        return
    weighted = deal.amount * deal.probability
    closed_at = deal.won_at if deal.won_at is not None else deal.lost_at
    moves = [(deal.created_at, sign)]
    if closed_at is not None:
        moves.append((max(deal.created_at, closed_at), -sign))
    for at_us, step in moves:
        tally = _tally_at(tallies, quarter_of(at_us))
        tally.count("open_delta", step)
        tally.count("open_amount_delta", step * deal.amount)
        tally.count("open_weighted_delta", step * weighted)


def add_acquisition(
    corrections: QuarterHourCorrections, win: CustomerWin | None, sign: int = 1
) -> None:
    """Rule 4: a new customer counts at its acquiring win, attributed like that deal."""
    if win is None:
        return
    quarter = quarter_of(win.won_at)
    for key in deal_scopes(win.rep_id, win.team_id, win.channel, win.segment):
        corrections.at(key, quarter).count("new_customers", sign)


def call_spread(at_us: int, rep_id: str, team_id: str) -> Spread:
    """Rule 5: a call counts for its rep, team and the company; its rep is active there."""
    tally = Tally({"calls": 1}, {rep_id: 1})
    keys = [scope_key(REP, rep_id), scope_key(TEAM, team_id), COMPANY_KEY]
    return Spread(keys, [(quarter_of(at_us), tally)])


def add_call(corrections: QuarterHourCorrections, at_us: int, rep_id: str, team_id: str) -> None:
    corrections.include(call_spread(at_us, rep_id, team_id))


def cost_spread(
    at_us: int,
    category: str,
    amount: int,
    team_id: str | None,
    channel: str | None,
    segment: str | None = None,
) -> Spread:
    """Rule 5: company always, team, channel and (v2) segment when the cost names them. A zero
    amount changes nothing."""
    keys = [COMPANY_KEY]
    if team_id:
        keys.append(scope_key(TEAM, team_id))
    if channel:
        keys.append(scope_key(CHANNEL, channel))
    if segment:
        keys.append(scope_key(SEGMENT, segment))
    tally = Tally()
    tally.count(f"cost_{category}", amount)
    return Spread(keys, [] if tally.is_empty() else [(quarter_of(at_us), tally)])
