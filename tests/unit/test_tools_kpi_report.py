"""``salespulse kpis``: ranking /v1/kpis answers by a chosen KPI."""

import pytest

from streams.tools.kpi_report import ReportError, check_sort, kpi_names, ranked_rows


def answer(scope_id: str, **kpis) -> dict:
    return {"scope": "team", "id": scope_id, "window": "30d", "as_of": "x", "kpis": kpis}


@pytest.mark.parametrize(
    ("scope", "has", "lacks"),
    [
        ("rep", "calls", "cac"),
        ("team", "cac", None),
        ("channel", "cost_marketing", "calls"),
        ("company", "calls_per_rep", None),
    ],
)
def test_each_scope_lists_the_kpis_the_contract_gives_it(scope, has, lacks):
    names = kpi_names(scope)
    assert names[0] == "revenue"
    assert has in names
    assert lacks is None or lacks not in names


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
