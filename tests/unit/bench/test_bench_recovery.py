"""The recovery benchmark's pure parts: reading a worker's resume lines, claiming the target."""

from __future__ import annotations

from bench.recovery import TARGET_EVENTS, Outcome, Resume, case_figures, parse_resume

LOG = """\
[2026-12-05 17:50:01,000] [1] [INFO] something else
[2026-12-05 17:50:02,000] [1] [INFO] state restore: partition 0 from snapshot generation 3 seq 7, \
1200 values
[2026-12-05 17:50:02,100] [1] [INFO] state restore: partition 5 from snapshot generation 3 seq 2, \
800 values
[2026-12-05 17:50:03,000] [1] [INFO] state resume: 40 input partitions, 10 from a checkpoint, \
replaying 1234 of 90000 committed records
"""


def test_parse_resume_sums_the_resume_and_restore_lines_of_one_start():
    resume = parse_resume(LOG)
    assert resume == Resume(
        inputs=40,
        from_checkpoint=10,
        replayed=1234,
        committed=90000,
        restored_partitions=2,
        restored_entries=2000,
    )
    assert "replayed 1,234 of 90,000" in resume.describe()
    assert "2 partitions restored" in resume.describe()


def test_parse_resume_of_a_log_without_state_lines_is_all_zero():
    assert parse_resume("[INFO] Worker ready\n") == Resume()
    assert "restored" not in Resume().describe()


def outcome(ready_s: float, problems: list[str] | None = None) -> Outcome:
    return Outcome("(a) same disk", ready_s, Resume(), 200.0, 250.0, problems or [])


def test_the_ready_target_is_judged_only_at_full_size():
    small = case_figures(outcome(3.0), 30_000)[0]
    assert small.met is None and "30,000 events" in small.name and "not claimed" in small.target
    full = case_figures(outcome(20.0), TARGET_EVENTS)[0]
    assert full.met is False and full.target == "≤ 15 s"
    assert case_figures(outcome(9.0), TARGET_EVENTS)[0].met is True


def test_exactness_is_judged_at_every_size():
    exact = case_figures(outcome(3.0, ["k revenue differs"]), 30_000)[1]
    assert exact.met is False and exact.value == "1 keys differ"
