"""Issue 16 "Beyond one machine", R-SET-1 on PostgreSQL: statement lines are partitioned by month (declarative
partitioning), the partitions are created ahead by the schedule, lines written before their month's partition
existed are moved into it, and a month's settlement reads and writes its own partition only."""
import datetime as dt

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.settlement import services, settlement_sql, tasks
from apps.settlement.models import Statement, StatementLine
from tests import factories as f
from tests.partitions import drop_month_partitions, partitions_of, rows_in
from tests.settlement import factories as sf

NOV, DEC = dt.date(2026, 11, 1), dt.date(2026, 12, 1)
TABLE = StatementLine._meta.db_table

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _partitions() -> dict[str, str]:
    return partitions_of(TABLE)


_rows_in = rows_in


@pytest.fixture(autouse=True)
def no_month_partitions():
    drop_month_partitions()


def test_issue_16_statement_lines_are_partitioned_by_month_and_created_ahead_by_the_schedule(zhongwei):
    """On 2026-12-01 the daily task creates November (last month), December and three months ahead: 2026-11 to
    2027-03, five partitions besides the default one; a second run creates none."""
    assert settlement_sql.lines_partitioned()
    assert f"{TABLE}_default" in _partitions()
    assert any(e["task"] == "apps.settlement.tasks.ensure_month_partitions"
               for e in settings.CELERY_BEAT_SCHEDULE.values())
    created = services.month_partitions_ensure(today=dt.date(2026, 12, 1))[TABLE]
    assert created == [dt.date(2026, 11, 1), dt.date(2026, 12, 1), dt.date(2027, 1, 1), dt.date(2027, 2, 1),
                       dt.date(2027, 3, 1)]
    bounds = _partitions()
    assert bounds[f"{TABLE}_p202701"] == "FOR VALUES FROM ('2027-01-01') TO ('2027-02-01')"
    assert bounds[f"{TABLE}_default"] == "DEFAULT"
    assert services.month_partitions_ensure(today=dt.date(2026, 12, 1)) == {}
    tasks.ensure_month_partitions()  # the scheduled task, on the real clock: this month's partition exists
    assert f"{TABLE}_p{timezone.localdate():%Y%m}" in _partitions()


def test_issue_16_lines_written_before_their_partition_move_into_it_and_a_month_reads_its_own(zhongwei, monkeypatch):
    """Four dispensings in November at two pharmacies are settled while November has no partition (the lines go to
    the default partition; the run itself creates the month's partition first, so this is forced by writing the
    lines with the run's own check switched off); ensuring November moves its 4 lines out of the default partition into
    its own, the statements and lines unchanged; a query on November's lines scans November's partition only."""
    pharmacies = [f.PharmacyFactory() for _ in range(2)]
    for p in pharmacies:
        for _ in range(2):
            sf.dispensing(pharmacy=p)
    # given: the month's lines in the default partition (as written before its partition existed)
    with monkeypatch.context() as patched:
        patched.setattr(settlement_sql, "ensure_statement_line_partitions", lambda periods: [])
        assert services.settlement_run_now(period=NOV, clock=sf.clock).status == "succeeded"
    assert _rows_in(f"{TABLE}_default") == 4 and settlement_sql.default_partition_months() == [NOV]
    before = sorted(StatementLine.objects.values_list("statement_id", "dispensing_id", "period"))
    # when: the schedule ensures the partitions
    created = services.month_partitions_ensure(today=DEC)[TABLE]
    # then: November got its partition with its lines, the default partition is empty, nothing else changed
    assert NOV in created and settlement_sql.default_partition_months() == []
    assert _rows_in(f"{TABLE}_p202611") == 4 and _rows_in(f"{TABLE}_default") == 0
    assert sorted(StatementLine.objects.values_list("statement_id", "dispensing_id", "period")) == before
    with connection.cursor() as cur:
        cur.execute(f"EXPLAIN SELECT count(*) FROM {TABLE} WHERE period = %s", [NOV])
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert f"{TABLE}_p202611" in plan and f"{TABLE}_default" not in plan and f"{TABLE}_p202612" not in plan
    # a dispensing is still on one statement at most, and a rerun with a new dispensing writes into the partition
    sf.dispensing(pharmacy=pharmacies[0])
    assert services.settlement_run_now(period=NOV, clock=sf.clock).status == "succeeded"
    assert _rows_in(f"{TABLE}_p202611") == 5
    assert Statement.objects.get(period=NOV, pharmacy=pharmacies[0]).line_count == 3
