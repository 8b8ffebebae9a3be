"""What a deal, an acquisition, a call or a cost adds to which (scope, id) at which quarter-hour.

``QuarterHourCorrections`` (scope key -> quarter-hour -> ``Tally``) is what one input changes:
the folds tag it with the input's origin (``streams.corrections.Corrections``) and send it on the
kpi-deltas topic; a recomputation sums it straight into buckets. A change of a deal is
``record(new) - record(old)``, so corrections retract exactly what was counted.
"""

from __future__ import annotations

from collections.abc import Iterator

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

    def merge(self, other: QuarterHourCorrections, sign: int = 1) -> None:
        for key, buckets in other.by_key.items():
            for quarter, tally in buckets.items():
                self.at(key, quarter).add(tally, sign)

    def items(self) -> Iterator[tuple[str, list[tuple[int, Tally]]]]:
        """Non-empty corrections per key; keys whose corrections cancel out are skipped."""
        for key, buckets in self.by_key.items():
            live = [(q, t) for q, t in sorted(buckets.items()) if not t.is_empty()]
            if live:
                yield key, live

    def is_empty(self) -> bool:
        return not any(True for _ in self.items())


def add_deal(
    corrections: QuarterHourCorrections, deal: DealContribution | None, sign: int = 1
) -> None:
    """Rule 3: opportunity (and pipeline created) at creation, won (revenue, customer, time to
    win) at win, lost at loss; rule 6: the deal's open stock from creation to closing."""
    if deal is None:
        return
    keys = deal_scopes(deal.rep_id, deal.team_id, deal.channel, deal.segment)
    moments = (
        (deal.created_at, _count_creation),
        (deal.won_at, _count_win),
        (deal.lost_at, _count_loss),
    )
    for at_us, count in moments:
        if at_us is None:
            continue
        quarter = quarter_of(at_us)
        for key in keys:
            tally = corrections.at(key, quarter)
            tally.rep(deal.rep_id, sign)
            count(tally, deal, sign)
    _add_open_stock(corrections, keys, deal, sign)


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


def _add_open_stock(
    corrections: QuarterHourCorrections, keys: list[str], deal: DealContribution, sign: int
) -> None:
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
        quarter = quarter_of(at_us)
        for key in keys:
            tally = corrections.at(key, quarter)
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


def add_call(corrections: QuarterHourCorrections, at_us: int, rep_id: str, team_id: str) -> None:
    """Rule 5: a call counts for its rep, team and the company; its rep is active there."""
    quarter = quarter_of(at_us)
    for key in (scope_key(REP, rep_id), scope_key(TEAM, team_id), COMPANY_KEY):
        tally = corrections.at(key, quarter)
        tally.count("calls", 1)
        tally.rep(rep_id, 1)


def add_cost(
    corrections: QuarterHourCorrections,
    at_us: int,
    category: str,
    amount: int,
    team_id: str | None,
    channel: str | None,
    segment: str | None = None,
) -> None:
    """Rule 5: company always, team, channel and (v2) segment when the cost names them."""
    keys = [COMPANY_KEY]
    if team_id:
        keys.append(scope_key(TEAM, team_id))
    if channel:
        keys.append(scope_key(CHANNEL, channel))
    if segment:
        keys.append(scope_key(SEGMENT, segment))
    quarter = quarter_of(at_us)
    for key in keys:
        corrections.at(key, quarter).count(f"cost_{category}", amount)
