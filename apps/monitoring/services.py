"""Writes: raising alerts from findings (never twice; a rerun never reopens a decided alert), the alert workflow
(open → assigned → confirmed | dismissed, each transition with its event row), the sanction a confirmed alert
proposes (R-INS-3, its money through the settlement's R-SET-5 service), the monthly batch, and the thresholds."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.db.models import F

from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.core.models import Region, Sanction
from apps.core.roles import BUREAU_ROLES
from apps.core.sql import is_postgresql
from apps.institutions.models import Institution
from apps.institutions.services import institution_sanction
from apps.monitoring import selectors
from apps.monitoring.models import Alert, MonitoringRun, MonitoringSettings, Rule
from apps.monitoring.rules import codes, month, organisations, physicians, prescribing, pricing, supply, volume
from apps.monitoring.rules.base import FINDING_COLUMNS, Finding, FindingQuery, batch_memory, month_bounds
from apps.monitoring.rules.rows import line_rows_for_month
from apps.pharmacies.services import pharmacy_sanction
from apps.physicians.models import Physician
from apps.settlement.money_services import MONEY_KINDS, sanction_money_record

CHUNK = 500
#: the rules whose batch form reads the month table of live lines (``rules.month``)
LINE_RULES = (Rule.PRICE_ABOVE_STANDARD, Rule.PHYSICIAN_NOT_ELIGIBLE, Rule.NO_APPLICATION, Rule.SUPPLY_BEYOND_NEED,
              Rule.HIGH_COST_HIGH_VOLUME, Rule.PHYSICIAN_OUTLIER)
UNDECIDED = (Alert.Status.OPEN, Alert.Status.ASSIGNED)
#: sanctions a confirmed alert may propose: the money ones (R-SET-5, on the next statement) and two without money
PROPOSABLE = (Sanction.Kind.DEDUCTION, Sanction.Kind.DEPOSIT_DEDUCTION, Sanction.Kind.PAYMENT_DEFERRAL,
              Sanction.Kind.INTERVIEW, Sanction.Kind.PUBLIC_CRITICISM)


# --------------------------------------------------------------------------- raising

def _insert_sql(n: int, *, refresh: bool) -> str:
    table = Alert._meta.db_table
    cols = ("rule, finding_key, region_id, institution_id, pharmacy_id, person_id, physician_id, period, "
            "amount_at_risk, summary, evidence, source, status, decision_reason, raised_at, refreshed_at")
    row = "(" + ", ".join(["%s"] * 16) + ")"
    on_conflict = "DO NOTHING"
    if refresh:
        # a rerun refreshes what nobody has decided yet, and never touches a confirmed or dismissed alert
        on_conflict = (f"DO UPDATE SET amount_at_risk = excluded.amount_at_risk, summary = excluded.summary, "
                       f"evidence = excluded.evidence, refreshed_at = excluded.refreshed_at "
                       f"WHERE {table}.status IN ('open', 'assigned') "
                       f"AND ({table}.amount_at_risk, {table}.summary, {table}.evidence) IS DISTINCT FROM "
                       f"(excluded.amount_at_risk, excluded.summary, excluded.evidence)")
    return f"INSERT INTO {table} ({cols}) VALUES {', '.join([row] * n)} ON CONFLICT (finding_key) {on_conflict}"


def alerts_raise(*, findings: Iterable[Finding], source: str, now: dt.datetime, refresh: bool = False) -> int:
    """Insert one alert per finding whose key is new; with ``refresh`` (the batch), update the figures and evidence
    of undecided alerts with the same key. ``findings`` may stream (written ``CHUNK`` at a time, memory flat).
    Returns how many alerts are new."""
    new = 0
    chunk: list[Finding] = []
    for f in findings:
        chunk.append(f)
        if len(chunk) == CHUNK:
            new += _write(chunk, source=source, now=now, refresh=refresh)
            chunk = []
    if chunk:
        new += _write(chunk, source=source, now=now, refresh=refresh)
    return new


def _write(chunk: list[Finding], *, source: str, now: dt.datetime, refresh: bool) -> int:
    """One statement per chunk (PostgreSQL: ``RETURNING (xmax = 0)`` tells a new row from a refreshed one)."""
    params = []
    for f in chunk:
        params += [str(f.rule), f.key[:200], f.region_id, f.institution_id, f.pharmacy_id, f.person_id,
                   f.physician_id, f.period, f.amount, f.summary[:500], json.dumps(f.evidence, default=str),
                   source, Alert.Status.OPEN.value, "", now, now]
    sql = _insert_sql(len(chunk), refresh=refresh)
    if not is_postgresql():  # SQLite (development): no xmax, count the keys before and after
        keys = [f.key[:200] for f in chunk]
        before = Alert.objects.filter(finding_key__in=keys).count()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return Alert.objects.filter(finding_key__in=keys).count() - before
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING (xmax = 0)", params)
        return sum(1 for (new,) in cursor.fetchall() if new)


def alerts_insert_from_query(*, query: FindingQuery, source: str, now: dt.datetime,
                             region: Region | None = None) -> tuple[int, int]:
    """The batch's write path (PostgreSQL): ONE ``INSERT … SELECT`` from the rule's finding query, so no finding
    makes a round trip through Python and a month of 400,000 findings costs one statement. ``ON CONFLICT
    (finding_key)``: a finding already raised is not raised again; its undecided alert (open/assigned) takes the
    new figures only when they changed (so a rerun over an unchanged month writes nothing), and a confirmed or
    dismissed alert is never touched. ``region``: only the findings of that region and below. Returns
    (findings, new alerts)."""
    table = Alert._meta.db_table
    cols = ", ".join(FINDING_COLUMNS)
    where, params = "", list(query.params)
    if region is not None:
        where = f"WHERE region_id IN (SELECT id FROM {Region._meta.db_table} WHERE code LIKE %s)"
        params.append(region.code.rstrip("0") + "%")
    sql = f"""
        WITH found AS MATERIALIZED (SELECT {cols} FROM ({query.sql}) AS q {where}),
        written AS (
          INSERT INTO {table} (rule, finding_key, period, region_id, institution_id, pharmacy_id, person_id,
                               physician_id, amount_at_risk, summary, evidence, source, status, decision_reason,
                               raised_at, refreshed_at)
          SELECT rule, left(finding_key, 200), period, region_id, institution_id, pharmacy_id, person_id,
                 physician_id, round(amount, 2), left(summary, 500), evidence, %s, %s, '', %s, %s
          FROM found
          ON CONFLICT (finding_key) DO UPDATE
            SET amount_at_risk = excluded.amount_at_risk, summary = excluded.summary, evidence = excluded.evidence,
                refreshed_at = excluded.refreshed_at
            WHERE {table}.status IN ('open', 'assigned')
              AND ({table}.amount_at_risk, {table}.summary, {table}.evidence)
                  IS DISTINCT FROM (excluded.amount_at_risk, excluded.summary, excluded.evidence)
          RETURNING (xmax = 0) AS new)
        SELECT (SELECT count(*) FROM found), (SELECT count(*) FROM written WHERE new)"""
    with transaction.atomic():
        batch_memory()
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, source, Alert.Status.OPEN.value, now, now])
            found, new = cursor.fetchone()
    return int(found), int(new)


# --------------------------------------------------------------------------- workflow

def _require_reviewer(actor) -> None:
    if not selectors.is_reviewer(actor):
        raise ApplicationError("forbidden", "只有医保经办机构工作人员可以处理监控预警", status=403)


def _lock(alert: Alert) -> Alert:
    return Alert.objects.select_for_update(of=("self",)).select_related("institution", "pharmacy", "region").get(
        pk=alert.pk)


@transaction.atomic
def alert_assign(*, alert: Alert, assignee, actor, now: dt.datetime) -> Alert:
    """open (or assigned) → assigned to a reviewer of the alert's region."""
    _require_reviewer(actor)
    alert = _lock(alert)
    if alert.is_decided:
        raise ApplicationError("alert_decided", f"该预警已{alert.get_status_display()}，不能再分派", status=409)
    if assignee is None or not (assignee.is_active and (assignee.is_superuser or assignee.role in BUREAU_ROLES)) \
            or not selectors.alerts_visible_to(assignee).filter(pk=alert.pk).exists():
        raise ApplicationError("invalid", "请选择本统筹区的经办机构工作人员作为处理人",
                               fields={"assignee": ["不是可处理该预警的工作人员"]})
    if alert.status == Alert.Status.ASSIGNED and alert.assignee_id == assignee.pk:
        return alert
    before = alert.status
    alert.status, alert.assignee = Alert.Status.ASSIGNED, assignee
    alert.save(update_fields=["status", "assignee"])
    record_event(subject=alert, action=EventAction.ALERT_ASSIGNED, actor=actor, from_status=before,
                 to_status=alert.status, data={"assignee": assignee.pk, "rule": alert.rule}, now=now)
    return alert


def _parse_amount(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise ApplicationError("invalid", "处理金额应为数字（元）", fields={"sanction_amount": ["应为数字"]}) from None


@transaction.atomic
def alert_confirm(*, alert: Alert, actor, reason: str = "", sanction_kind: str = "", sanction_amount=None,
                  now: dt.datetime, today: dt.date) -> Alert:
    """open/assigned → confirmed; optionally proposes a sanction on the organisation (R-INS-3). A money sanction
    (deduction/recovery, deposit deduction, deferral) is recorded by the settlement's ``sanction_money_record`` and
    so reaches the organisation's next statement (R-SET-5)."""
    _require_reviewer(actor)
    alert = _lock(alert)
    if alert.is_decided:
        raise ApplicationError("alert_decided", f"该预警已{alert.get_status_display()}，不能再确认", status=409)
    reason = (reason or "").strip()
    sanction = None
    if sanction_kind:
        if sanction_kind not in PROPOSABLE:
            raise ApplicationError("invalid", "处理方式应为拒付/追回、扣除质量保证金、暂缓拨付、约谈或通报批评",
                                   fields={"sanction_kind": ["不支持的处理方式"]})
        amount = _parse_amount(sanction_amount)
        if sanction_kind in (Sanction.Kind.DEDUCTION, Sanction.Kind.DEPOSIT_DEDUCTION) and amount is None:
            raise ApplicationError("invalid", "拒付/追回或扣除质量保证金须填写金额",
                                   fields={"sanction_amount": ["必填"]})
        why = f"监控预警 {alert.rule}（#{alert.pk}）：{alert.summary}" + (f"；{reason}" if reason else "")
        organisation = alert.organisation
        if organisation is None:  # R-MON-1 on a manual claim whose invoice came from outside the system
            raise ApplicationError("no_organisation", "该预警不涉及本系统的定点机构或药店，不能提出协议处理",
                                   fields={"sanction_kind": ["无协议机构"]})
        if sanction_kind in MONEY_KINDS:
            sanction = sanction_money_record(organisation=organisation, kind=sanction_kind, amount=amount,
                                             decided_on=today, reason=why, actor=actor, now=now)
        elif alert.pharmacy_id:
            sanction = pharmacy_sanction(pharmacy=organisation, actor=actor, kind=sanction_kind, decided_on=today,
                                         reason=why, amount=amount, now=now)
        else:
            sanction = institution_sanction(institution=organisation, actor=actor, kind=sanction_kind,
                                            decided_on=today, reason=why, amount=amount, now=now)
    before = alert.status
    alert.status, alert.decision_reason, alert.decided_at, alert.decided_by = Alert.Status.CONFIRMED, reason, now, actor
    alert.assignee = alert.assignee or actor
    alert.sanction = sanction
    alert.save(update_fields=["status", "decision_reason", "decided_at", "decided_by", "assignee", "sanction"])
    record_event(now=now, subject=alert, action=EventAction.ALERT_CONFIRMED, actor=actor, from_status=before,
                 to_status=alert.status, reason=reason, data={"rule": alert.rule, "amount": str(alert.amount_at_risk)})
    if sanction is not None:
        record_event(subject=alert, action=EventAction.ALERT_SANCTION_PROPOSED, actor=actor, reason=reason,
                     data={"sanction": sanction.pk, "kind": sanction.kind,
                           "amount": str(sanction.amount) if sanction.amount is not None else None}, now=now)
    return alert


@transaction.atomic
def alert_dismiss(*, alert: Alert, actor, reason: str, now: dt.datetime) -> Alert:
    """open/assigned → dismissed, with the reason (required)."""
    _require_reviewer(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("reason_required", "排除预警须填写原因，例如“经核实为合理用药”",
                               fields={"reason": ["必填"]})
    alert = _lock(alert)
    if alert.is_decided:
        raise ApplicationError("alert_decided", f"该预警已{alert.get_status_display()}，不能再排除", status=409)
    before = alert.status
    alert.status, alert.decision_reason, alert.decided_at, alert.decided_by = Alert.Status.DISMISSED, reason, now, actor
    alert.assignee = alert.assignee or actor
    alert.save(update_fields=["status", "decision_reason", "decided_at", "decided_by", "assignee"])
    record_event(subject=alert, action=EventAction.ALERT_DISMISSED, actor=actor, from_status=before,
                 to_status=alert.status, reason=reason, data={"rule": alert.rule}, now=now)
    return alert


@transaction.atomic
def alerts_bulk_dismiss(*, alerts: list[Alert], actor, reason: str, now: dt.datetime) -> int:
    """Dismiss several undecided alerts with one reason (each its own event); all or nothing."""
    if not (reason or "").strip():
        raise ApplicationError("reason_required", "批量排除须填写原因", fields={"reason": ["必填"]})
    if not alerts:
        raise ApplicationError("invalid", "请至少选择一条预警", fields={"alerts": ["未选择"]})
    for alert in alerts:
        alert_dismiss(alert=alert, actor=actor, reason=reason, now=now)
    return len(alerts)


def alert_transition(*, alert: Alert, to: str, actor, assignee=None, reason: str = "", sanction_kind: str = "",
                     sanction_amount=None, now: dt.datetime, today: dt.date) -> Alert:
    """API.md: ``POST /api/v1/alerts/{id}/transitions/`` with ``to`` = assigned | confirmed | dismissed."""
    if to == Alert.Status.ASSIGNED:
        return alert_assign(alert=alert, assignee=assignee, actor=actor, now=now)
    if to == Alert.Status.CONFIRMED:
        return alert_confirm(alert=alert, actor=actor, reason=reason, sanction_kind=sanction_kind,
                             sanction_amount=sanction_amount, now=now, today=today)
    if to == Alert.Status.DISMISSED:
        return alert_dismiss(alert=alert, actor=actor, reason=reason, now=now)
    raise ApplicationError("invalid", "to 应为 assigned、confirmed 或 dismissed", fields={"to": ["不支持的状态"]})


# --------------------------------------------------------------------------- thresholds

@transaction.atomic
def monitoring_settings_save(*, region: Region, actor, values: dict) -> MonitoringSettings:
    _require_reviewer(actor)
    s = selectors.settings_for_edit(region)
    for name, value in values.items():
        setattr(s, name, value)
    s.full_clean()
    s.save()
    return s


# --------------------------------------------------------------------------- the monthly batch

def _month_query(rule: str, period: dt.date, th: dict, lines: str, scope=None) -> FindingQuery | None:
    """The rule's set-based finding query for ``period`` (PostgreSQL), the line rules reading the month table
    ``lines`` (``month.month_table``), or None for a rule whose findings are built in Python and written
    ``CHUNK`` at a time: R-MON-7 (the registries' exit flags, at most one per organisation and year) and R-MON-9
    (its evidence carries each pool's peer distribution; at most one per physician and variety). ``scope``: the
    line rules' input restricted to one group's pooling cities in a split run (R-MON-4 and -8 are not split)."""
    start, _ = month_bounds(period)
    by_region = th["by_region"]
    cities = th["cities"]
    if rule == Rule.PRICE_ABOVE_STANDARD:
        return pricing.query(period=start, lines=lines, cities=scope)
    if rule == Rule.PHYSICIAN_NOT_ELIGIBLE:
        return prescribing.physician_query(period=start, lines=lines, cities=scope)
    if rule == Rule.NO_APPLICATION:
        return prescribing.application_query(period=start, lines=lines, cities=scope)
    if rule == Rule.TRACE_CODE_REUSED:
        return codes.query(period=start)
    if rule == Rule.SUPPLY_BEYOND_NEED:
        return supply.query(period=start, lines=lines, cities=scope, margins={r: t.supply_margin_days for r, t in by_region.items()
                                                   if t is not selectors.DEFAULT_THRESHOLDS},
                            default_margin=selectors.DEFAULT_THRESHOLDS.supply_margin_days)
    if rule == Rule.HIGH_COST_HIGH_VOLUME:
        return volume.query(period=start, lines=lines, cities=scope, thresholds={c: by_region[rid].high_cost for c, rid in cities.items()},
                            default=selectors.DEFAULT_THRESHOLDS.high_cost)
    if rule == Rule.SALES_EXCEED_PURCHASES:
        return organisations.stock_query(period=start)
    return None


def _month_findings(rule: str, period: dt.date, th: dict, lines: str | None = None, scope=None) -> list[Finding]:
    """The findings of ``rule`` for ``period``: set-based on PostgreSQL (over the month table ``lines``, built
    here for this rule alone when not given); on other databases (the SQLite development set-up) the same pure
    rule over the month's rows."""
    start, _ = month_bounds(period)
    by_region = th["by_region"]
    cities = th["cities"]
    pg = is_postgresql()
    if pg and lines is None and rule in LINE_RULES:
        with month.month_table(start) as table:
            return _month_findings(rule, start, th, table)
    if pg:
        query = _month_query(rule, start, th, lines, scope)
        if query is not None:
            return query.findings()
    if rule == Rule.PRICE_ABOVE_STANDARD:
        return pricing.find(line_rows_for_month(period=start)) + \
            pricing.find_claims(pricing.claim_rows_for_month(period=start))
    if rule == Rule.PHYSICIAN_NOT_ELIGIBLE:
        rows = line_rows_for_month(period=start)
        return prescribing.find_physician(rows, prescribing.physician_rows(r.physician_id for r in rows))
    if rule == Rule.NO_APPLICATION:
        rows = line_rows_for_month(period=start)
        return prescribing.find_application(rows, prescribing.application_rows(person_ids=[r.person_id for r in rows]))
    if rule == Rule.TRACE_CODE_REUSED:
        return codes.find(codes.rows_for_month(period=start), period=start)
    if rule == Rule.SUPPLY_BEYOND_NEED:
        rows = line_rows_for_month(period=start, lookback_days=supply.LOOKBACK_DAYS)
        return supply.find(rows, lambda r: by_region.get(r, selectors.DEFAULT_THRESHOLDS).supply_margin_days,
                           period=start)
    if rule == Rule.HIGH_COST_HIGH_VOLUME:
        return volume.find(line_rows_for_month(period=start), city_of=th["city_of"],
                           region_of_city=lambda c: cities.get(c), thresholds_for=th["high_cost_for"])
    if rule == Rule.PHYSICIAN_OUTLIER:
        if pg:
            return physicians.find_sql(period=start, lines=lines, cities=scope, thresholds={c: by_region[rid].outlier for c, rid in cities.items()},
                                       default=selectors.DEFAULT_THRESHOLDS.outlier)
        return physicians_find_rows(line_rows_for_month(period=start), th)
    if rule == Rule.EXIT_CRITERIA:
        return organisations.find_exit(organisations.exit_rows(period=start), period=start)
    if rule == Rule.SALES_EXCEED_PURCHASES:
        return organisations.find_stock(organisations.stock_rows(period=start), period=start)
    raise ValueError(rule)


def physicians_find_rows(rows, th: dict) -> list[Finding]:
    ids = {r.physician_id for r in rows}
    inst_of = dict(Physician.objects.filter(pk__in=ids).values_list("pk", "institution_id"))
    region_of = dict(Institution.objects.filter(pk__in=set(inst_of.values())).values_list("pk", "region_id"))
    return physicians.find(rows, city_of=th["city_of"], region_of_city=lambda c: th["cities"].get(c),
                           thresholds_for=th["outlier_for"], region_of_institution=region_of.get,
                           institution_of_physician=inst_of.get)


def thresholds_context() -> dict:
    """What the batch needs about thresholds and pooling cities, read once."""
    by_region = selectors.thresholds_by_region()
    codes_ = dict(Region.objects.values_list("pk", "code"))
    cities = {code: pk for pk, code in codes_.items() if code.endswith("00") and not code.endswith("0000")}

    def city_of(region_id: int) -> str:
        return volume.city_code(codes_[region_id])

    def high_cost_for(region_id):
        return by_region.get(region_id, selectors.DEFAULT_THRESHOLDS).high_cost

    def outlier_for(region_id):
        return by_region.get(region_id, selectors.DEFAULT_THRESHOLDS).outlier

    return {"by_region": by_region, "cities": cities, "city_of": city_of, "high_cost_for": high_cost_for,
            "outlier_for": outlier_for}


def monitoring_run_create(*, period: dt.date, region: Region | None, actor, now: dt.datetime) -> MonitoringRun:
    """Queue a run of every rule over ``period`` (a bureau user's run covers their region only)."""
    if actor is not None and not actor.is_superuser:
        _require_reviewer(actor)
        region = actor.region
    run = MonitoringRun.objects.create(period=period.replace(day=1), region=region, started_by=actor,
                                       created_at=now, rules_total=len(Rule))
    return run


def monitoring_run_queue(*, period: dt.date, actor, now: dt.datetime) -> MonitoringRun:
    """A run started by the bureau: created now, executed by Celery after the commit (progress in the run)."""
    from apps.monitoring import tasks  # the tasks module imports this one: queued here, imported at call time

    with transaction.atomic():
        run = monitoring_run_create(period=period, region=None, actor=actor, now=now)
        transaction.on_commit(lambda: tasks.execute_run.delay(run.pk))
    return run


class _Counted:
    """Pass findings through, counting them (the batch streams R-MON-5's)."""

    def __init__(self, findings):
        self.findings, self.n = findings, 0

    def __iter__(self):
        for f in self.findings:
            self.n += 1
            yield f


def _region_filter(findings: Iterable[Finding], region: Region | None) -> Iterable[Finding]:
    if region is None:
        return findings
    prefix = region.code.rstrip("0")
    codes_ = dict(Region.objects.values_list("pk", "code"))
    return (f for f in findings if codes_.get(f.region_id, "").startswith(prefix))


def _rule_write(rule: str, run: MonitoringRun, th: dict, lines: str | None, now: dt.datetime,
                scope=None) -> tuple[int, int]:
    """One rule over the run's month (``scope``: one group's pooling cities), in one transaction: (findings, new
    alerts)."""
    query = _month_query(rule, run.period, th, lines, scope) if lines is not None else None
    with transaction.atomic():
        if query is not None:  # set-based: the rule's rows go straight into the alerts
            return alerts_insert_from_query(query=query, source=Alert.Source.BATCH, now=now, region=run.region)
        counted = _Counted(_region_filter(_month_findings(rule, run.period, th, lines, scope), run.region))
        raised = alerts_raise(findings=counted, source=Alert.Source.BATCH, now=now, refresh=True)
        return counted.n, raised


def monitoring_run_execute(*, run_id: int, now: dt.datetime) -> MonitoringRun:
    """Run every rule over the run's month, one rule per transaction, the progress saved after each. On
    PostgreSQL the month's live lines are read once into the run's month table (``rules.month``), which the line
    rules read, and dropped at the end; on SQLite each rule reads its rows through the ORM."""
    run = MonitoringRun.objects.select_related("region").get(pk=run_id)
    MonitoringRun.objects.filter(pk=run.pk).update(status=MonitoringRun.Status.RUNNING, rules_done=0)
    th = thresholds_context()
    findings_total = raised_total = 0
    lines = None
    try:
        if is_postgresql():
            lines = month.month_table_name(run.pk)
            month.month_table_build(lines, run.period)
        for done, rule in enumerate(Rule, start=1):
            found, raised = _rule_write(rule, run, th, lines, now)
            findings_total += found
            raised_total += raised
            MonitoringRun.objects.filter(pk=run.pk).update(rules_done=done, findings=findings_total,
                                                           alerts_raised=raised_total)
    except Exception as exc:
        MonitoringRun.objects.filter(pk=run.pk).update(status=MonitoringRun.Status.FAILED, error=str(exc)[:2000],
                                                       finished_at=now)
        raise
    finally:
        if lines is not None:
            month.month_table_drop(lines)
    return _run_succeeded(run, now)


def _run_succeeded(run: MonitoringRun, now: dt.datetime, workers: list[str] | None = None) -> MonitoringRun:
    with transaction.atomic():
        MonitoringRun.objects.filter(pk=run.pk).update(status=MonitoringRun.Status.SUCCEEDED, finished_at=now)
        run.refresh_from_db()
        data = {"period": run.period.isoformat(), "findings": run.findings, "raised": run.alerts_raised}
        if workers is not None:
            data["workers"] = sorted(set(workers))
        record_event(subject=run, action=EventAction.MONITORING_RUN, actor=run.started_by, to_status=run.status,
                     data=data, now=now)
    return run


# --------------------------------------------------------------------------- the batch split over workers

def _city_groups(lines: str, groups: int) -> list[list[str]]:
    """Every pooling city (``substr(code, 1, 4) || '00'`` of every region, so each region is in exactly one
    group) dealt into at most ``groups`` groups, the month's lines balanced (the largest city first, into the
    lightest group)."""
    with connection.cursor() as cur:
        cur.execute(f"""
            SELECT c.city, coalesce(n.lines, 0) FROM (SELECT DISTINCT substr(code, 1, 4) || '00' AS city
                                                      FROM {Region._meta.db_table}) AS c
            LEFT JOIN (SELECT pharmacy_city AS city, count(*) AS lines FROM {lines} WHERE in_month GROUP BY 1) AS n
                   USING (city)
            ORDER BY 2 DESC, 1""")
        weights = cur.fetchall()
    bins: list[list] = [[0, []] for _ in range(max(1, min(groups, len(weights))))]
    for city, n in weights:
        lightest = min(bins, key=lambda b: (b[0], len(b[1])))
        lightest[0] += n
        lightest[1].append(city)
    return [sorted(cities) for _, cities in bins if cities]


def monitoring_run_split(*, run_id: int, now: dt.datetime, groups: int) -> list[tuple[list[str], bool]] | None:
    """Issue 16: prepare a run to be shared by the ``monitoring`` workers (PostgreSQL): the month table read
    once, the pooling cities dealt into ``groups`` groups. Each group (``monitoring_run_group``) runs the line
    rules over its cities' pools and organisations — every finding belongs to exactly one group, so the result is
    a one-process run's — and the first group also runs the rules that are not split (R-MON-4, -7, -8). Returns
    the plan [(cities, runs the unsplit rules)], None for a run no longer queued or running."""
    run = MonitoringRun.objects.get(pk=run_id)
    if run.status not in (MonitoringRun.Status.QUEUED, MonitoringRun.Status.RUNNING):
        return None
    MonitoringRun.objects.filter(pk=run.pk).update(status=MonitoringRun.Status.RUNNING, rules_done=0, findings=0,
                                                   alerts_raised=0, error="", finished_at=None)
    try:
        lines = month.month_table_name(run.pk)
        month.month_table_build(lines, run.period)
        plan = [(cities, i == 0) for i, cities in enumerate(_city_groups(lines, groups))]
    except Exception as exc:
        monitoring_run_fail(run_id=run.pk, now=now, error=str(exc))
        raise
    steps = len(LINE_RULES) * len(plan) + len(Rule) - len(LINE_RULES)
    MonitoringRun.objects.filter(pk=run.pk).update(rules_total=steps)
    return plan


def monitoring_run_group(*, run_id: int, cities: list[str], unsplit: bool, now: dt.datetime) -> dict | None:
    """One group of a split run: each line rule over the group's cities (with ``unsplit``, R-MON-4, -7, -8 too),
    one rule per transaction, the run's progress, findings and new alerts added after each. None when the run
    is no longer running (failed elsewhere)."""
    run = MonitoringRun.objects.select_related("region").get(pk=run_id)
    if run.status != MonitoringRun.Status.RUNNING:
        return None
    th = thresholds_context()
    lines = month.month_table_name(run.pk)
    found_total = raised_total = 0
    for rule in Rule:
        if rule not in LINE_RULES and not unsplit:
            continue
        found, raised = _rule_write(rule, run, th, lines, now, cities if rule in LINE_RULES else None)
        found_total += found
        raised_total += raised
        MonitoringRun.objects.filter(pk=run.pk).update(rules_done=F("rules_done") + 1,
                                                       findings=F("findings") + found,
                                                       alerts_raised=F("alerts_raised") + raised)
    return {"cities": cities, "findings": found_total, "raised": raised_total}


def monitoring_run_finish(*, run_id: int, now: dt.datetime, workers: list[str] | None = None) -> MonitoringRun:
    """Every group of a split run is written: the month table dropped, the run succeeded (its event names the
    workers)."""
    run = MonitoringRun.objects.get(pk=run_id)
    month.month_table_drop(month.month_table_name(run.pk))
    if run.status != MonitoringRun.Status.RUNNING:
        return run
    return _run_succeeded(run, now, workers or [])


def monitoring_run_fail(*, run_id: int, now: dt.datetime, error: str) -> MonitoringRun:
    """A group of a split run raised: the month table dropped, the run failed (a rerun converges: a finding is
    never raised twice)."""
    month.month_table_drop(month.month_table_name(run_id))
    MonitoringRun.objects.filter(pk=run_id, status__in=(MonitoringRun.Status.QUEUED, MonitoringRun.Status.RUNNING)
                                 ).update(status=MonitoringRun.Status.FAILED, error=error[:2000], finished_at=now)
    return MonitoringRun.objects.get(pk=run_id)


def monitoring_run_now(*, period: dt.date, region: Region | None = None, actor=None,
                       now: dt.datetime) -> MonitoringRun:
    """Create and execute a run in this process (the schedule's task, commands, the demo and tests)."""
    run = monitoring_run_create(period=period, region=region, actor=actor, now=now)
    return monitoring_run_execute(run_id=run.pk, now=now)
