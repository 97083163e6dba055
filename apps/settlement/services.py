"""Writes of settlement, reconciliation, statistics and stocking (R-SET-1..4, R-STK-1, R-STK-4)."""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from apps.catalogue.models import Drug
from apps.core.events import EventAction, record_event, record_event_on
from apps.core.models import Region
from apps.core.exceptions import ApplicationError
from apps.institutions.models import Institution
from apps.pharmacies.models import Pharmacy
from apps.settlement import money_services, settlement_sql
from apps.settlement.models import (
    CataloguePublication,
    MonthlyReportSnapshot,
    OrganisationKind,
    ReconciliationDifference,
    ReportedTotal,
    SettlementRun,
    Statement,
    StockingReport,
)
from apps.settlement.periods import label, next_period, period_of, previous_period
from apps.settlement.selectors import monthly_report, reconciliation_findings

logger = logging.getLogger(__name__)

CHUNKS_PER_KIND = 10
#: R-SET-1 (a killed worker, R-SEC-4): the executing process writes the run's heartbeat this often and at every
#: step; a running run whose heartbeat is older than RUN_DEAD_AFTER has lost its worker (SIGKILL, OOM, a machine
#: gone) and is marked failed, so a rerun is never refused because of it
RUN_HEARTBEAT_EVERY = dt.timedelta(seconds=10)
RUN_DEAD_AFTER = dt.timedelta(seconds=60)
#: a queued run whose task never started: the broker redelivers an unacknowledged task after its visibility
#: timeout (15 minutes), so a run still queued twice as long was lost with its message
QUEUED_RUN_LOST_AFTER = dt.timedelta(minutes=30)
DEAD_RUN_ERROR = (f"运行中断：执行进程失联（心跳超过 {RUN_DEAD_AFTER.seconds} 秒未更新），已标记失败；"
                  "重新结算即可得到完整结果")


class RunTakenOver(Exception):
    """The run this process executes was declared dead (its heartbeat was late) or claimed by another process:
    stop writing; the month converges on the rerun."""


# --------------------------------------------------------------------------- settlement runs (R-SET-1, R-SET-4)

def _dead_runs_q(now: dt.datetime) -> Q:
    dead_running = Q(status=SettlementRun.Status.RUNNING) & (
        Q(heartbeat_at__lt=now - RUN_DEAD_AFTER)
        | Q(heartbeat_at__isnull=True, started_at__lt=now - RUN_DEAD_AFTER)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True, created_at__lt=now - RUN_DEAD_AFTER))
    lost_queued = Q(status=SettlementRun.Status.QUEUED, created_at__lt=now - QUEUED_RUN_LOST_AFTER)
    return dead_running | lost_queued


def live_runs(*, period: dt.date, now: dt.datetime):
    """R-SET-1: the runs of ``period`` still queued or running with a fresh heartbeat (a dead one is not live)."""
    return (SettlementRun.objects.filter(period=period_of(period),
                                         status__in=(SettlementRun.Status.QUEUED, SettlementRun.Status.RUNNING))
            .exclude(_dead_runs_q(now)))


@transaction.atomic
def settlement_runs_fail_dead(*, now: dt.datetime, period: dt.date | None = None) -> list[int]:
    """R-SET-1 (R-SEC-4): mark failed every run whose worker is gone — running with a heartbeat older than
    ``RUN_DEAD_AFTER``, or queued longer than ``QUEUED_RUN_LOST_AFTER``. Run every 30 s by the schedule and before
    a run starts or a month is confirmed. Idempotent; a run marked failed stops writing at its next step if its
    worker was only slow (``RunTakenOver``). Returns the ids marked."""
    dead = SettlementRun.objects.select_for_update(skip_locked=True).filter(_dead_runs_q(now))
    if period is not None:
        dead = dead.filter(period=period_of(period))
    marked = []
    for run in dead.order_by("pk"):
        from_status = run.status
        run.status = SettlementRun.Status.FAILED
        run.finished_at = now
        run.error = DEAD_RUN_ERROR
        run.save(update_fields=["status", "finished_at", "error"])
        record_event(subject=run, action=EventAction.SETTLEMENT_RUN_FAILED, from_status=from_status,
                     to_status=run.status, reason=run.error,
                     data={"period": label(run.period), "heartbeat_at": run.heartbeat_at.isoformat()
                           if run.heartbeat_at else None, "worker": run.worker}, now=now)
        marked.append(run.pk)
    return marked


@transaction.atomic
def settlement_run_start(*, period: dt.date, now: dt.datetime, actor=None) -> SettlementRun:
    """Queue a settlement run for ``period`` (the task starts when this transaction commits). Refused for a
    month that has not begun, or while another run of the month is live; a dead one (its worker stopped beating,
    ``settlement_runs_fail_dead``) is marked failed first and never blocks."""
    period = period_of(period)
    if period > period_of(timezone.localdate(now)):
        raise ApplicationError("invalid", f"{label(period)} 尚未开始，不能结算", fields={"period": ["月份不能晚于本月"]})
    settlement_runs_fail_dead(now=now, period=period)
    active = (SettlementRun.objects.select_for_update()
              .filter(period=period, status__in=(SettlementRun.Status.QUEUED, SettlementRun.Status.RUNNING)))
    for run in active:
        raise ApplicationError("run_in_progress", f"{label(period)} 的结算正在进行（任务 #{run.pk}）", status=409,
                               data={"run": run.pk})
    run = SettlementRun.objects.create(period=period, started_by=actor if getattr(actor, "pk", None) else None)
    record_event(subject=run, action=EventAction.SETTLEMENT_RUN_STARTED, actor=actor, to_status=run.status,
                 data={"period": label(period)}, now=now)
    from apps.settlement.tasks import run_settlement  # tasks import these services: a true start-up cycle

    transaction.on_commit(lambda: run_settlement.delay(run.pk))
    return run


def run_region_prefix(run: SettlementRun) -> str | None:
    """R-SET-1: the code prefix of the region a run covers — its starter's region; ``None`` (every region) for the
    schedule and superusers."""
    user = run.started_by
    if user is None or user.is_superuser or user.region_id is None:
        return None
    return user.region.descendant_prefix


def worker_token() -> str:
    """Who executes a run: host, process id and a random mark (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def settlement_run_claim(*, run_id: int, now: dt.datetime, worker: str) -> SettlementRun | None:
    """Take the run for this process, in one UPDATE: a queued run, a running one whose worker is dead (a task
    redelivered after its worker was killed), or a failed one no later run of the month superseded. ``None``
    when there is nothing to do: the run succeeded, another live process holds it, or a newer run took over."""
    run = SettlementRun.objects.get(pk=run_id)
    if run.status == SettlementRun.Status.SUCCEEDED:
        return None
    if (run.status == SettlementRun.Status.FAILED
            and SettlementRun.objects.filter(period=run.period, pk__gt=run.pk).exists()):
        return None  # superseded: the later run converges the month
    claimable = (Q(status__in=(SettlementRun.Status.QUEUED, SettlementRun.Status.FAILED))
                 | (Q(status=SettlementRun.Status.RUNNING) & _dead_runs_q(now)))
    taken = SettlementRun.objects.filter(claimable, pk=run_id).update(
        status=SettlementRun.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker, progress=0,
        steps_done=0, statements_written=0, lines_written=0, finished_at=None, error="")
    if not taken:
        return None
    run.refresh_from_db()
    return run


def _beat(run_id: int, worker: str | None, now: dt.datetime, **progress) -> None:
    """A heartbeat (and progress) of the run this process holds (``worker``; ``None``: a group of a split run,
    any worker); ``RunTakenOver`` if it no longer does."""
    held = SettlementRun.objects.filter(pk=run_id, status=SettlementRun.Status.RUNNING)
    if worker is not None:
        held = held.filter(worker=worker)
    if not held.update(heartbeat_at=now, **progress):
        raise RunTakenOver(run_id)


class _HeartbeatThread:
    """Beats the run every ``RUN_HEARTBEAT_EVERY`` from a thread with its own connection, so one long step (the
    month's GROUP BY at a province's volume) does not look like a dead worker; it dies with the process, which
    is the point. PostgreSQL only (SQLite has one writer); ``SKIP LOCKED`` so it never waits for a row lock."""

    def __init__(self, run_id: int, worker: str | None, clock: Callable[[], dt.datetime]):
        self.run_id, self.worker, self.clock = run_id, worker, clock
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"settlement-heartbeat-{run_id}", daemon=True)

    def __enter__(self):
        if connection.vendor == "postgresql":
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)

    def _loop(self):
        table = SettlementRun._meta.db_table
        try:
            while not self.stopped.wait(RUN_HEARTBEAT_EVERY.total_seconds()):
                with connection.cursor() as cur:
                    cur.execute(
                        f"""UPDATE {table} SET heartbeat_at = %s WHERE id IN (
                                SELECT id FROM {table} WHERE id = %s AND status = 'running'
                                AND (%s IS NULL OR worker = %s) FOR UPDATE SKIP LOCKED)""",
                        [self.clock(), self.run_id, self.worker, self.worker])
        finally:
            connection.close()


def settlement_run_execute(*, run_id: int, clock: Callable[[], dt.datetime], worker: str | None = None) -> SettlementRun:
    """Compute every draft statement of the run's month. Each group of organisations is written in its own
    transaction (a statement always has all its lines, idempotent by its inputs' fingerprint); progress and the
    heartbeat are committed between groups. A failure marks the run failed and keeps the groups already written,
    which are complete; a killed worker leaves the run "running" until its heartbeat is late
    (``settlement_runs_fail_dead``). Running the month again always converges to the same statements: unchanged
    organisations are left as they are, every other one is rewritten whole.

    ``clock`` gives the moments the run records (start, each step, end): the task passes the real clock, the demo
    and the tests a fixed moment; the service never reads the clock itself."""
    worker = worker or worker_token()
    run = settlement_run_claim(run_id=run_id, now=clock(), worker=worker)
    if run is None:
        return SettlementRun.objects.get(pk=run_id)
    try:
        settlement_sql.ensure_statement_line_partitions([run.period])  # normally created ahead by the schedule
        with _HeartbeatThread(run.pk, worker, clock), settlement_sql.month_snapshot(run.period):
            # R-SET-1: a run started by a bureau user covers that user's region only
            prefix = run_region_prefix(run)
            plan = [(spec, lo, hi) for spec in settlement_sql.KINDS
                    for lo, hi in settlement_sql.organisation_id_chunks(spec=spec, period=run.period,
                                                                        chunks=CHUNKS_PER_KIND,
                                                                        region_prefix=prefix)]
            _beat(run.pk, worker, clock(), steps_total=len(plan))
            statements = lines = 0
            for done, (spec, lo, hi) in enumerate(plan, start=1):
                with transaction.atomic():
                    written, covered = settlement_sql.settle_chunk(spec=spec, period=run.period, lo=lo, hi=hi,
                                                                   run_id=run.pk, now=clock(),
                                                                   analyze_statements=statements == 0)
                statements += written
                lines += covered
                _beat(run.pk, worker, clock(), steps_done=done, progress=done * 100 // len(plan),
                      statements_written=statements, lines_written=lines)
    except RunTakenOver:
        logger.warning("settlement run %s was declared dead or taken over; this process stops", run.pk)
        return SettlementRun.objects.get(pk=run.pk)
    except Exception as exc:  # the run must end in a visible state whatever went wrong
        logger.exception("settlement run %s failed", run.pk)
        return _run_failed(run, clock(), exc)
    return _run_succeeded(run, clock(), worker)


# --------------------------------------------------------------------------- partitions (issue 16)

def month_partitions_ensure(*, today: dt.date, ahead: int = 3) -> dict[str, list[dt.date]]:
    """The month partitions of the dispensings, their lines and the statement lines (PostgreSQL, issue 16): last
    month, this month and ``ahead`` months ahead, and any month with rows in a default partition, are created
    (daily by the schedule, so a month's partitions exist before its first dispensing and its settlement).
    Idempotent. Returns the months created per table."""
    months = [previous_period(period_of(today)), period_of(today)]
    for _ in range(ahead):
        months.append(next_period(months[-1]))
    return settlement_sql.ensure_month_partitions([*months, *settlement_sql.default_partition_months()])


# --------------------------------------------------------------------------- split runs (R-SET-1, issue 16)
# A run split into groups of organisations, each a Celery task (``tasks.settle_group``) that any worker on any
# machine may take; a chord's body (``tasks.finish_run``) closes the run. Each group computes its organisations
# exactly as the whole-month run does (same SQL, its own snapshot), so the month is the same as one worker's.

def settlement_run_split(*, run_id: int, now: dt.datetime, groups: int,
                         worker: str | None = None) -> list[tuple[str, int, int]] | None:
    """Claim the run and plan its groups: (organisation kind, lowest id, highest id) per group, about ``groups``
    per kind, in the starter's region only (R-SET-1). ``None`` when there is nothing to do (see
    ``settlement_run_claim``). An empty plan (no organisation at all) ends the run at once."""
    worker = worker or worker_token()
    run = settlement_run_claim(run_id=run_id, now=now, worker=worker)
    if run is None:
        return None
    settlement_sql.ensure_statement_line_partitions([run.period])  # normally created ahead by the schedule
    prefix = run_region_prefix(run)
    plan = [(spec.kind, lo, hi) for spec in settlement_sql.KINDS
            for lo, hi in settlement_sql.organisation_ranges(spec=spec, groups=groups, region_prefix=prefix)]
    # the groups beat for the run from now on (any worker): the coordinator lets go of it
    SettlementRun.objects.filter(pk=run.pk).update(steps_total=len(plan), worker="", heartbeat_at=now)
    if not plan:
        _run_succeeded(run, now, None)
    return plan


def settlement_run_group(*, run_id: int, kind: str, lo: int, hi: int,
                         clock: Callable[[], dt.datetime]) -> dict | None:
    """Settle one group of a split run, in one transaction (its statements whole, or nothing). Skipped (``None``)
    when the run is no longer running — declared dead or failed elsewhere: the rerun converges the month."""
    spec = next(s for s in settlement_sql.KINDS if s.kind == kind)
    run = SettlementRun.objects.get(pk=run_id)
    if run.status != SettlementRun.Status.RUNNING:
        return None
    try:
        _beat(run.pk, None, clock())
        with _HeartbeatThread(run.pk, None, clock), settlement_sql.month_snapshot(run.period, spec=spec, lo=lo, hi=hi):
            with transaction.atomic():
                written, covered = settlement_sql.settle_chunk(spec=spec, period=run.period, lo=lo, hi=hi,
                                                               run_id=run.pk, now=clock(), shared_month_lock=True)
        _beat(run.pk, None, clock(), steps_done=F("steps_done") + 1,
              progress=(F("steps_done") + 1) * 100 / Greatest(F("steps_total"), 1),
              statements_written=F("statements_written") + written, lines_written=F("lines_written") + covered)
    except RunTakenOver:
        return None
    return {"kind": kind, "lo": lo, "hi": hi, "statements": written, "lines": covered}


def settlement_run_finish(*, run_id: int, now: dt.datetime, workers: list[str] | None = None) -> SettlementRun:
    """The last step of a split run, once every group is written: the run succeeded (if it is still running)."""
    run = SettlementRun.objects.get(pk=run_id)
    if run.status != SettlementRun.Status.RUNNING:
        return run
    return _run_succeeded(run, now, None, workers)


def settlement_run_fail(*, run_id: int, now: dt.datetime, error: str) -> SettlementRun:
    """A group of a split run raised: the run failed (the groups already written are complete)."""
    run = SettlementRun.objects.get(pk=run_id)
    if run.status != SettlementRun.Status.RUNNING:
        return run
    return _run_failed(run, now, RuntimeError(error))


def _run_failed(run: SettlementRun, now: dt.datetime, exc: BaseException) -> SettlementRun:
    SettlementRun.objects.filter(pk=run.pk, status=SettlementRun.Status.RUNNING).update(
        status=SettlementRun.Status.FAILED, finished_at=now, error=f"{type(exc).__name__}: {exc}"[:2000])
    run.refresh_from_db()
    record_event(subject=run, action=EventAction.SETTLEMENT_RUN_FAILED, from_status="running", to_status=run.status,
                 reason=run.error, now=now)
    return run


def _run_succeeded(run: SettlementRun, now: dt.datetime, worker: str | None,
                   workers: list[str] | None = None) -> SettlementRun:
    """``workers``: the processes that wrote a split run's groups, kept in the success event."""
    with transaction.atomic():
        held = SettlementRun.objects.filter(pk=run.pk, status=SettlementRun.Status.RUNNING)
        if worker is not None:
            held = held.filter(worker=worker)
        if not held.update(status=SettlementRun.Status.SUCCEEDED, progress=100, finished_at=now, heartbeat_at=now):
            return SettlementRun.objects.get(pk=run.pk)  # declared dead meanwhile: the rerun has the last word
        run.refresh_from_db()
        record_event(subject=run, action=EventAction.SETTLEMENT_RUN_SUCCEEDED, from_status="running", to_status=run.status,
                     data={"period": label(run.period), "statements": run.statements_written,
                           "lines": run.lines_written, **({"workers": sorted(set(workers))} if workers else {})},
                     now=now)
    return run


def settlement_run_now(*, period: dt.date, clock: Callable[[], dt.datetime], actor=None) -> SettlementRun:
    """Start and execute a run in this process (the schedule, the demo and the benchmark)."""
    with transaction.atomic():
        period = period_of(period)
        run = SettlementRun.objects.create(period=period, started_by=actor if getattr(actor, "pk", None) else None)
        record_event(subject=run, action=EventAction.SETTLEMENT_RUN_STARTED, actor=actor, to_status=run.status,
                     data={"period": label(period), "trigger": "direct"})
    return settlement_run_execute(run_id=run.pk, clock=clock)


@transaction.atomic
def statement_confirm(*, statement: Statement, actor, today: dt.date, now: dt.datetime) -> Statement:
    """R-SET-1: the bureau confirms a statement; it is locked from then on (reruns leave it; later reversals of
    its dispensings go into the next month). A month that has not ended cannot be confirmed: its dispensings and
    reversals are still coming in (``today`` and ``now`` come from the caller; the service never reads the clock).
    R-SET-5: the statement first takes its money sanctions' lines as the organisation's next statement; once
    confirmed, its deposit movements are booked (``money_services``)."""
    money_services.statement_money_lock(statement=statement, now=now)  # the organisation's lock, before the row
    statement = Statement.objects.select_for_update().get(pk=statement.pk)
    if statement.status == Statement.Status.CONFIRMED:
        raise ApplicationError("statement_locked", "该结算单已确认，不能重复确认", status=409)
    if today < next_period(statement.period):
        raise ApplicationError(
            "period_not_ended",
            f"{label(statement.period)} 尚未结束，{next_period(statement.period):%Y-%m-%d} 起才能确认该月结算单",
            status=409)
    if live_runs(period=statement.period, now=now).filter(status=SettlementRun.Status.RUNNING).exists():
        raise ApplicationError("run_in_progress", "本月结算正在运行，请完成后再确认", status=409)
    money_services.statement_money_before_confirm(statement=statement, now=now)
    statement.status = Statement.Status.CONFIRMED
    statement.confirmed_at = now
    statement.confirmed_by = actor
    statement.save(update_fields=["status", "confirmed_at", "confirmed_by"])
    money_services.statement_money_after_confirm(statement=statement, actor=actor, now=now)
    record_event(now=now, subject=statement, action=EventAction.STATEMENT_CONFIRMED, actor=actor, from_status="draft",
                 to_status="confirmed", data={"period": label(statement.period), "payable": str(statement.payable)})
    return statement


# --------------------------------------------------------------------------- stocking (R-STK-1, R-STK-4)

@transaction.atomic
def stocking_report_create(*, institution: Institution, drug: Drug, kind: str, listed_on: dt.date,
                           ended_on: dt.date | None = None, actor=None) -> StockingReport:
    """R-STK-1: an institution reports a negotiated drug it stocks (formal listing or temporary procurement)."""
    if kind not in StockingReport.Kind.values:
        raise ApplicationError("invalid", "配备方式应为 formal（正式进院）或 temporary（临时采购）",
                               fields={"kind": ["无效的配备方式"]})
    if drug.category != Drug.Category.NEGOTIATED:
        raise ApplicationError("invalid", f"{drug.generic_name} 不是协议期内谈判药品，无需报告配备",
                               fields={"drug_code": ["仅报告谈判药品"]})
    if ended_on is not None and ended_on < listed_on:
        raise ApplicationError("invalid", "停止配备日期早于配备日期", fields={"ended_on": ["早于配备日期"]})
    overlapping = StockingReport.objects.select_for_update().filter(institution=institution, drug=drug)
    for other in overlapping:
        other_end = other.ended_on or dt.date.max
        this_end = ended_on or dt.date.max
        if other.listed_on <= this_end and listed_on <= other_end:
            raise ApplicationError("stocking_overlap", f"该药品在 {other.listed_on} 起已有配备报告（{other.get_kind_display()}）",
                                   fields={"listed_on": ["与已有配备期间重叠"]}, status=409)
    report = StockingReport.objects.create(institution=institution, drug=drug, kind=kind, listed_on=listed_on,
                                           ended_on=ended_on, reported_by=actor if getattr(actor, "pk", None) else None)
    record_event(subject=report, action=EventAction.STOCKING_REPORTED, actor=actor, to_status=kind,
                 data={"institution": institution.code, "drug": drug.code, "listed_on": str(listed_on)})
    return report


@transaction.atomic
def stocking_report_end(*, report: StockingReport, ended_on: dt.date, actor=None) -> StockingReport:
    report = StockingReport.objects.select_for_update().get(pk=report.pk)
    if report.ended_on is not None:
        raise ApplicationError("stocking_ended", f"该配备已于 {report.ended_on} 停止", status=409)
    if ended_on < report.listed_on:
        raise ApplicationError("invalid", "停止配备日期早于配备日期", fields={"ended_on": ["早于配备日期"]})
    report.ended_on = ended_on
    report.save(update_fields=["ended_on"])
    record_event(subject=report, action=EventAction.STOCKING_ENDED, actor=actor, data={"ended_on": str(ended_on)})
    return report


@transaction.atomic
def catalogue_publication_create(*, version: str, published_on: dt.date, actor=None) -> CataloguePublication:
    """R-STK-4: record that a new catalogue was published (starts every institution's committee deadline)."""
    version = (version or "").strip()
    if not version:
        raise ApplicationError("invalid", "请填写目录版本", fields={"version": ["必填"]})
    if CataloguePublication.objects.filter(version=version).exists():
        raise ApplicationError("invalid", f"目录版本 {version} 已登记", fields={"version": ["已存在"]})
    publication = CataloguePublication.objects.create(version=version, published_on=published_on)
    record_event(subject=publication, action=EventAction.CATALOGUE_PUBLISHED, actor=actor, data={"version": version})
    return publication


# --------------------------------------------------------------------------- reported totals (R-SET-2)

def _organisation_fields(organisation) -> dict:
    if isinstance(organisation, Institution):
        return {"organisation_kind": OrganisationKind.INSTITUTION, "institution": organisation, "pharmacy": None}
    if isinstance(organisation, Pharmacy):
        return {"organisation_kind": OrganisationKind.PHARMACY, "pharmacy": organisation, "institution": None}
    raise ApplicationError("invalid", "只有定点医疗机构或定点药店可以上报月度汇总")


def _decimal(value, *, row: int, column: str, errors: list) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip()).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError, TypeError):
        errors.append({"row": row, "column": column, "message": f"“{value}”不是有效金额"})
        return None
    if str(value).strip().count(".") and len(str(value).strip().split(".")[1]) > 2:
        errors.append({"row": row, "column": column, "message": "金额最多两位小数"})
        return None
    return amount


@transaction.atomic
def reported_totals_replace(*, organisation, period: dt.date, rows: list[dict], actor=None) -> list[ReportedTotal]:
    """R-SET-2: an organisation's own monthly totals per drug replace what it reported before for the month.
    All or nothing: any bad row refuses the whole upload and lists every bad row."""
    fields = _organisation_fields(organisation)
    errors: list[dict] = []
    parsed: dict[int, dict] = {}
    codes = {str(r.get("drug_code", "")).strip() for r in rows}
    drugs = {d.code: d for d in Drug.objects.filter(code__in=codes)}
    if not rows:
        errors.append({"row": 0, "column": "", "message": "没有数据行"})
    for index, raw in enumerate(rows, start=1):
        row_no = raw.get("row", index)
        code = str(raw.get("drug_code", "")).strip()
        drug = drugs.get(code)
        if drug is None:
            errors.append({"row": row_no, "column": "drug_code", "message": f"药品代码“{code}”不在目录中"})
            continue
        if drug.pk in parsed:
            errors.append({"row": row_no, "column": "drug_code", "message": f"药品代码“{code}”重复"})
            continue
        try:
            quantity = int(str(raw.get("quantity", "")).strip())
        except ValueError:
            errors.append({"row": row_no, "column": "quantity", "message": f"“{raw.get('quantity')}”不是整数"})
            continue
        total = _decimal(raw.get("total"), row=row_no, column="total", errors=errors)
        fund = _decimal(raw.get("fund_payment"), row=row_no, column="fund_payment", errors=errors)
        if total is None or fund is None:
            continue
        parsed[drug.pk] = {"drug": drug, "quantity": quantity, "total": total, "fund_payment": fund}
    if errors:
        raise ApplicationError("invalid", f"上报数据有 {len(errors)} 处错误，未保存任何数据",
                               fields={"rows": [f"第{e['row']}行 {e['column']}：{e['message']}" for e in errors]},
                               data={"errors": errors})
    scope = {"period": period}
    scope.update({k: v for k, v in fields.items() if k != "organisation_kind" and v is not None})
    ReportedTotal.objects.filter(**scope).delete()
    created = ReportedTotal.objects.bulk_create([
        ReportedTotal(period=period, uploaded_by=actor if getattr(actor, "pk", None) else None, **fields, **values)
        for values in parsed.values()
    ])
    record_event(subject=organisation, action=EventAction.REPORTED_TOTALS_UPLOADED, actor=actor,
                 data={"period": label(period), "rows": len(created)})
    return created


def reported_totals_from_xlsx(fileobj) -> list[dict]:
    """Rows of an uploaded workbook: columns 药品代码 / 数量 / 金额 / 统筹基金支付 after one header row."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(fileobj, read_only=True, data_only=True)
    except Exception as exc:  # not a workbook at all
        raise ApplicationError("invalid", "无法读取上传的 Excel 文件（.xlsx）", fields={"file": [str(exc)[:200]]})
    sheet = workbook.worksheets[0]
    rows = []
    for number, values in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        if not values or all(v in (None, "") for v in values[:4]):
            continue
        code, quantity, total, fund = (list(values) + [None] * 4)[:4]
        rows.append({"row": number, "drug_code": code or "", "quantity": quantity if quantity is not None else "",
                     "total": total if total is not None else "", "fund_payment": fund if fund is not None else ""})
    workbook.close()
    return rows


# --------------------------------------------------------------------------- reconciliation (R-SET-2)

@transaction.atomic
def reconciliation_run(*, period: dt.date, now: dt.datetime, actor=None) -> dict[str, int]:
    """Find every mismatch of the month (``selectors.reconciliation_findings``, set-based queries) and store it:
    open differences are replaced, resolved ones stay resolved. Returns counts by kind."""
    period = period_of(period)
    findings = reconciliation_findings(period=period)
    open_rows = ReconciliationDifference.objects.filter(period=period, status=ReconciliationDifference.Status.OPEN)
    # R-SET-1 / R-SET-2: run by a bureau user, it covers the differences of that user's region only (a difference
    # is the region's when its pharmacy or its institution is there); the schedule and superusers cover all
    region = None if actor is None or actor.is_superuser else getattr(actor, "region", None)
    if region is not None:
        prefix = region.descendant_prefix
        pharmacies = set(Pharmacy.objects.filter(region__code__startswith=prefix).values_list("pk", flat=True))
        institutions = set(Institution.objects.filter(region__code__startswith=prefix).values_list("pk", flat=True))
        findings = [f for f in findings if f.get("pharmacy_id") in pharmacies or f.get("institution_id") in institutions]
        open_rows = open_rows.filter(Q(pharmacy_id__in=pharmacies) | Q(institution_id__in=institutions))
    resolved_keys = set(ReconciliationDifference.objects.filter(period=period, status=ReconciliationDifference.Status.RESOLVED)
                        .values_list("kind", "key"))
    open_rows.delete()
    rows = [ReconciliationDifference(period=period, found_at=now, **f) for f in findings
            if (f["kind"], f["key"]) not in resolved_keys]
    ReconciliationDifference.objects.bulk_create(rows, batch_size=1000)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    record_event_on(model=ReconciliationDifference, object_id=period.isoformat(), action=EventAction.RECONCILIATION_RUN,
                    actor=actor, data={"period": label(period), "open": counts}, now=now)
    return counts


@transaction.atomic
def reconciliation_difference_resolve(*, difference: ReconciliationDifference, resolution: str,
                                      actor, now: dt.datetime) -> ReconciliationDifference:
    difference = ReconciliationDifference.objects.select_for_update().get(pk=difference.pk)
    if difference.status == ReconciliationDifference.Status.RESOLVED:
        raise ApplicationError("already_resolved", "该差异已处理", status=409)
    if not (resolution or "").strip():
        raise ApplicationError("invalid", "请填写处理说明", fields={"resolution": ["必填"]})
    difference.status = ReconciliationDifference.Status.RESOLVED
    difference.resolution = resolution.strip()
    difference.resolved_at = now
    difference.resolved_by = actor
    difference.save(update_fields=["status", "resolution", "resolved_at", "resolved_by"])
    record_event(subject=difference, action=EventAction.RECONCILIATION_DIFFERENCE_RESOLVED, actor=actor,
                 from_status="open", to_status="resolved", reason=difference.resolution, now=now)
    return difference


# --------------------------------------------------------------------------- statistics (R-SET-3)

@transaction.atomic
def monthly_report_compile(*, period: dt.date, now: dt.datetime) -> MonthlyReportSnapshot:
    """R-SET-3: freeze the month's statistics as reported upward by the 5th — province-wide, and for every region
    with a pharmacy under it (cities, counties), which the report page and API of a bureau user of that region read
    instead of recomputing the month (issue 16). Returns the province-wide snapshot."""
    period = period_of(period)
    data = monthly_report(period=period, region=None)
    snapshot, _ = MonthlyReportSnapshot.objects.update_or_create(
        period=period, region=None, defaults={"data": data, "compiled_at": now})
    for region in regions_with_pharmacies():
        MonthlyReportSnapshot.objects.update_or_create(
            period=period, region=region,
            defaults={"data": monthly_report(period=period, region=region), "compiled_at": now})
    record_event(subject=snapshot, action=EventAction.MONTHLY_REPORT_COMPILED, data={"period": label(period)}, now=now)
    return snapshot


def regions_with_pharmacies() -> list[Region]:
    """Every region with at least one pharmacy in it or below it (by code prefix), in code order."""
    codes = set(Pharmacy.objects.values_list("region__code", flat=True).distinct())
    return [region for region in Region.objects.order_by("code")
            if any(code.startswith(region.descendant_prefix) for code in codes)]
