"""``salespulse kpis``: ranking /v1/kpis answers by a chosen KPI."""

import pytest

from streams.tools.console import render
from streams.tools.kpi_report import ReportError, check_sort, kpi_names, ranked_rows
from streams.tools.output import Format, terminal_text
from tests.support.hostile_ids import FORMULA_STARTS, HOSTILE_IDS, is_inert, read_back


def answer(scope_id: str, **kpis) -> dict:
    return {"scope": "team", "id": scope_id, "window": "30d", "as_of": "x", "kpis": kpis}


@pytest.mark.parametrize(
    ("scope", "has", "lacks"),
    [
        ("rep", "calls", "cac"),
        ("team", "cac", None),
        ("channel", "cost_marketing", "calls"),
        ("company", "calls_per_rep", None),
        ("segment", "cac", "calls"),
        ("team", "weighted_pipeline", None),
        ("rep", "time_to_win_seconds", "cost_sales"),
    ],
)
def test_each_scope_lists_the_kpis_the_contract_gives_it(scope, has, lacks):
    names = kpi_names(scope)
    assert names[0] == "revenue"
    assert has in names
    assert lacks is None or lacks not in names


@pytest.mark.parametrize(("scope", "sort"), [("segment", "cac"), ("team", "open_pipeline")])
def test_the_v2_scope_and_kpis_can_be_ranked(scope, sort):
    assert check_sort(scope, sort) == sort


def test_sorting_by_a_kpi_the_scope_lacks_is_a_usage_error():
    with pytest.raises(ReportError, match="'calls' is not a KPI of scope channel"):
        check_sort("channel", "calls")


@pytest.mark.parametrize(
    ("ascending", "order"),
    [(False, ["b", "c", "a", "d"]), (True, ["a", "b", "c", "d"])],
)
def test_rows_are_ranked_by_the_kpi_with_absent_values_last_and_ties_by_id(ascending, order):
    answers = [
        answer("c", revenue=5.0, win_ratio=0.5),
        answer("a", revenue=1.0, win_ratio=0.1),
        answer("d", revenue=9.0),
        answer("b", revenue=2.0, win_ratio=0.5),
    ]

    columns, rows = ranked_rows("team", answers, "win_ratio", ascending)

    assert columns[:3] == ["rank", "id", "revenue"]
    assert [row[1] for row in rows] == order
    assert [row[0] for row in rows] == [1, 2, 3, 4]
    assert rows[-1][columns.index("win_ratio")] is None


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_hostile_rep_id_is_ranked_and_printed_inert_in_every_format(fmt, hostile):
    answers = [answer(hostile, revenue=-3.5), answer("rep-2", revenue=7.0)]
    columns, rows = ranked_rows("rep", answers, "revenue")

    text = render(fmt, columns, rows)

    shown = read_back(fmt, text)
    assert is_inert(text)
    assert len(shown) == 2
    if fmt is Format.json:
        assert [(row["id"], row["revenue"]) for row in shown] == [("rep-2", 7.0), (hostile, -3.5)]
    elif fmt is Format.csv:
        assert not shown[1]["id"].startswith(FORMULA_STARTS)
        assert (shown[0]["id"], shown[1]["revenue"]) == ("rep-2", "-3.5")
    else:
        assert shown[1].startswith(f"   2  {terminal_text(hostile)}")
