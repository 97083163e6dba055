"""Money consequences of the monthly settlement (R-SET-5, R-SET-1, R-INS-3): deposit accounts, money sanctions on
statements, deferral release and the annual return of the deposit.

How a money sanction reaches a statement
----------------------------------------
A sanction of kind 拒付/追回费用 (``Sanction.Kind.DEDUCTION``), 扣除质量保证金 (``DEPOSIT_DEDUCTION``) or 暂缓拨付
(``PAYMENT_DEFERRAL``) recorded against an institution or a pharmacy takes effect on that organisation's next
statement as a ``StatementAdjustment`` line of its own (kind, amount, the sanction, who decided). To create one,
call ``sanction_money_record(organisation=…, kind=…, amount=…, decided_on=…, reason=…, actor=…, now=…)`` below
(monitoring: after a reviewer confirms an alert, pass the alert's organisation and the proposed amount, and put
the alert's reference in ``reason``). It checks the amount (> 0, two decimals), records the sanction through the
registry service (so the registry's history shows it, R-INS-3) and recomputes the organisation's draft statements
at once. A sanction recorded through the registry itself (page, API) reaches the drafts the same way, through the
``registries.hooks.sanction_recorded`` hook answered by ``sanction_recorded`` below; and whatever happens, the
statement being confirmed recomputes its lines first. Nothing else is needed: never write ``StatementAdjustment``
or ``DepositEntry`` rows directly.

The rules the lines follow
--------------------------
* Drafts are recomputed (deleted and written again) from the sanctions and the confirmed statements, so reruns
  never double-count; confirmed statements keep their lines (locked with them).
* Deduction: takes ``min(outstanding, fund − deposit − earlier deductions)``; the rest is carried forward to the
  next statement (``carried_forward``), never below a payable of zero and never lost.
* Deposit deduction: taken from the deposit account when the statement is confirmed, at most the balance then
  (after this statement's own withholding); the rest waits for the next statement. The payable is unchanged (the
  money was already withheld).
* Deferral: holds the payable of every statement confirmed while it is in force (``amount`` caps the hold per
  statement, empty = all of it) until the bureau releases it (``deferral_release``, once).

Locks, always in this order: the settlement month's advisory lock (runs, month confirmation), the organisations'
deposit-account rows (by id), then statement rows. Services take ``now``/``today`` from their caller.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from apps.core import sql as hot_sql
from apps.catalogue.models import Drug
from apps.core.events import EventAction, record_event
from apps.core.excel.engine import _to_decimal, is_blank
from apps.core.excel.xlsx import SheetReader, WorkbookError
from apps.core.exceptions import ApplicationError
from apps.core.models import Region, RegionSettings, Sanction
from apps.core.selectors import region_q
from apps.institutions.models import Institution
from apps.institutions.services import institution_sanction
from apps.pharmacies.models import Pharmacy
from apps.pharmacies.services import pharmacy_sanction
from apps.prescriptions.models import Delivery, Dispensing
from apps.settlement.models import (
    DeferralRelease, DepositAccount, DepositEntry, InstitutionMonthlyReport, InstitutionMonthlyReportLine,
    OrganisationKind, RectificationFollowUp as F, SettlementRun, Statement, StatementAdjustment, WardPayment,
)
from apps.settlement.periods import label, next_period, period_of

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
ADVISORY_KEY = 73510  # shared with settlement_sql.settle_chunk: one month's runs and confirmations take turns

#: sanction kind → the statement line it becomes
MONEY_KINDS = {
    Sanction.Kind.DEDUCTION: StatementAdjustment.Kind.DEDUCTION,
    Sanction.Kind.DEPOSIT_DEDUCTION: StatementAdjustment.Kind.DEPOSIT_DEDUCTION,
    Sanction.Kind.PAYMENT_DEFERRAL: StatementAdjustment.Kind.DEFERRAL,
}


def q2(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- organisations and their accounts

def org_kind_and_id(organisation) -> tuple[str, int]:
    if isinstance(organisation, Institution):
        return OrganisationKind.INSTITUTION, organisation.pk
    if isinstance(organisation, Pharmacy):
        return OrganisationKind.PHARMACY, organisation.pk
    raise ApplicationError("invalid_organisation", "只有定点医疗机构或定点药店有结算单和质量保证金账户")


def _org_field(kind: str) -> str:
    return "institution_id" if kind == OrganisationKind.INSTITUTION else "pharmacy_id"


def _org_model(kind: str):
    return Institution if kind == OrganisationKind.INSTITUTION else Pharmacy


def deposit_accounts_lock(*, keys: list[tuple[str, int]], now: dt.datetime) -> dict[tuple[str, int], DepositAccount]:
    """Open the accounts that do not exist yet and lock the rows of ``keys`` ((kind, org id)), in id order. The
    account row is the organisation's money lock (see the module docstring for the lock order)."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    DepositAccount.objects.bulk_create(
        [DepositAccount(organisation_kind=kind, created_at=now, **{_org_field(kind): org_id}) for kind, org_id in keys],
        ignore_conflicts=True)
    by_kind = defaultdict(list)
    for kind, org_id in keys:
        by_kind[kind].append(org_id)
    query = Q(pk__in=[])
    for kind, ids in by_kind.items():
        query |= Q(organisation_kind=kind, **{f"{_org_field(kind)}__in": ids})
    accounts = list(DepositAccount.objects.select_for_update().filter(query).order_by("pk"))
    return {(a.organisation_kind, a.institution_id or a.pharmacy_id): a for a in accounts}


def deposit_balance(account: DepositAccount) -> Decimal:
    """The balance is the sum of the entries (``balance_after`` of the last one says the same)."""
    return account.entries.aggregate(s=Sum("amount"))["s"] or ZERO


def _append_entry(*, account: DepositAccount, kind: str, amount: Decimal, now: dt.datetime, **fields) -> DepositEntry:
    balance = deposit_balance(account) + amount
    if balance < 0:
        raise ApplicationError("deposit_negative", f"质量保证金余额不足：记账后余额为 {balance:,.2f} 元，不能为负",
                               status=409)
    return DepositEntry.objects.create(account=account, kind=kind, amount=amount, balance_after=balance,
                                       created_at=now, **fields)


# --------------------------------------------------------------------------- the deposit rate (R-SET-1)

def deposit_rates_by_region() -> tuple[dict[int, Decimal], Decimal]:
    """Every region's deposit rate (its own settings, else the nearest ancestor's, else the default) and the
    default. Few settings rows and one pass over the region tree: no query per organisation."""
    default = RegionSettings._meta.get_field("deposit_rate").default
    own = dict(RegionSettings.objects.values_list("region_id", "deposit_rate"))
    parents = dict(Region.objects.values_list("pk", "parent_id"))
    rates: dict[int, Decimal] = {}
    for region_id in parents:
        node, rate = region_id, None
        while node is not None:
            if node in own:
                rate = own[node]
                break
            node = parents.get(node)
        rates[region_id] = default if rate is None else rate
    return rates, default


def deposit_rate_sql(*, kind: str, org_alias: str) -> str:
    """A SQL CASE giving the deposit rate in basis points (1/10000) of the organisation row ``org_alias`` of
    ``kind`` by its region: one WHEN per distinct rate, integers only (nothing from users reaches the SQL)."""
    rates, default = deposit_rates_by_region()
    used = set(_org_model(kind).objects.values_list("region_id", flat=True).distinct())
    groups: dict[int, list[int]] = defaultdict(list)
    for region_id in sorted(used):
        groups[int(rates.get(region_id, default) * 10000)].append(int(region_id))
    default_bp = int(default * 10000)
    whens = " ".join(f"WHEN {org_alias}.region_id IN ({', '.join(map(str, ids))}) THEN {bp}"
                     for bp, ids in sorted(groups.items()) if bp != default_bp)
    return f"(CASE {whens} ELSE {default_bp} END)" if whens else f"({default_bp})"


# --------------------------------------------------------------------------- statement lines of money sanctions

def _money_sanctions(kind: str, org_id: int):
    ct = ContentType.objects.get_for_model(_org_model(kind))
    return (Sanction.objects.filter(content_type=ct, object_id=str(org_id), kind__in=list(MONEY_KINDS))
            .select_related("created_by").order_by("decided_on", "id"))


def organisations_with_money_sanctions(*, kind: str, lo: int, hi: int) -> list[int]:
    """Organisation ids of ``kind`` between ``lo`` and ``hi`` with any money sanction (few: a handful a month)."""
    ct = ContentType.objects.get_for_model(_org_model(kind))
    ids = set()
    for object_id in (Sanction.objects.filter(content_type=ct, kind__in=list(MONEY_KINDS))
                      .values_list("object_id", flat=True).distinct()):
        if object_id.isdigit() and lo <= int(object_id) <= hi:
            ids.add(int(object_id))
    return sorted(ids)


def _recompute(*, kind: str, org_id: int, now: dt.datetime, first: Statement | None = None) -> None:
    """Write the money lines of the organisation's draft statements again, in the order they would be confirmed
    (``first`` — the statement being confirmed — then the others by month), and their deductions and payable.
    The caller holds the organisation's account lock."""
    field = _org_field(kind)
    drafts = list(Statement.objects.select_for_update()
                  .filter(**{field: org_id}, organisation_kind=kind, status=Statement.Status.DRAFT).order_by("period"))
    if first is not None:
        drafts = [s for s in drafts if s.pk == first.pk] + [s for s in drafts if s.pk != first.pk]
    StatementAdjustment.objects.filter(statement__in=[s.pk for s in drafts]).delete()
    sanctions = list(_money_sanctions(kind, org_id))
    released = set(DeferralRelease.objects.filter(sanction__in=sanctions).values_list("sanction_id", flat=True))
    taken = dict(StatementAdjustment.objects.filter(sanction__in=sanctions, statement__status=Statement.Status.CONFIRMED)
                 .exclude(kind=StatementAdjustment.Kind.DEFERRAL)
                 .values_list("sanction_id").annotate(s=Sum("amount")))
    outstanding = {s.pk: max(ZERO, (s.amount or ZERO) - (taken.get(s.pk) or ZERO))
                   for s in sanctions if s.kind != Sanction.Kind.PAYMENT_DEFERRAL}
    account = DepositAccount.objects.filter(organisation_kind=kind, **{field: org_id}).first()
    balance = deposit_balance(account) if account else ZERO
    rows = []
    for statement in drafts:
        room = max(ZERO, statement.fund_payment - statement.deposit)
        balance += statement.deposit
        deductions = ZERO
        for sanction in sanctions:
            line_kind = MONEY_KINDS[sanction.kind]
            if line_kind == StatementAdjustment.Kind.DEFERRAL:
                continue
            due = outstanding[sanction.pk]
            if due <= 0:
                continue
            if line_kind == StatementAdjustment.Kind.DEDUCTION:
                amount = min(due, room)
                room -= amount
                deductions += amount
            else:
                amount = min(due, max(ZERO, balance))
                balance -= amount
            outstanding[sanction.pk] = due - amount
            rows.append(StatementAdjustment(statement=statement, sanction=sanction, kind=line_kind, outstanding=due,
                                            amount=amount, carried_forward=due - amount,
                                            decided_by=sanction.created_by, computed_at=now))
        payable = statement.fund_payment - statement.deposit - deductions
        unheld = max(ZERO, payable)
        for sanction in sanctions:
            if sanction.kind != Sanction.Kind.PAYMENT_DEFERRAL or sanction.pk in released:
                continue
            held = unheld if sanction.amount is None else min(unheld, sanction.amount)
            unheld -= held
            rows.append(StatementAdjustment(statement=statement, sanction=sanction, kind=StatementAdjustment.Kind.DEFERRAL,
                                            outstanding=max(ZERO, payable), amount=held, carried_forward=ZERO,
                                            decided_by=sanction.created_by, computed_at=now))
        if statement.deductions != deductions or statement.payable != payable:
            Statement.objects.filter(pk=statement.pk).update(deductions=deductions, payable=payable)
            statement.deductions, statement.payable = deductions, payable
    StatementAdjustment.objects.bulk_create(rows)


def statement_adjustments_refresh(*, organisation, now: dt.datetime) -> None:
    """R-SET-5: recompute the organisation's draft statements' money lines now (e.g. after a sanction)."""
    kind, org_id = org_kind_and_id(organisation)
    with transaction.atomic():
        deposit_accounts_lock(keys=[(kind, org_id)], now=now)
        _recompute(kind=kind, org_id=org_id, now=now)


def settle_chunk_adjustments_lock(*, kind: str, lo: int, hi: int, now: dt.datetime) -> list[int]:
    """Called by the settlement run at the start of a group, before it writes statements: lock the accounts of the
    group's organisations that have money sanctions (lock order) and return their ids."""
    ids = organisations_with_money_sanctions(kind=kind, lo=lo, hi=hi)
    deposit_accounts_lock(keys=[(kind, i) for i in ids], now=now)
    return ids


def settle_chunk_adjustments_apply(*, kind: str, org_ids: list[int], now: dt.datetime) -> None:
    """Called by the settlement run after it wrote the group's drafts: their money lines again (idempotent)."""
    for org_id in org_ids:
        _recompute(kind=kind, org_id=org_id, now=now)


# --------------------------------------------------------------------------- confirmation (R-SET-1, R-SET-5)

def statement_money_lock(*, statement: Statement, now: dt.datetime) -> DepositAccount:
    """Before a statement's row is locked for confirmation: lock its organisation's account (lock order)."""
    key = (statement.organisation_kind, statement.institution_id or statement.pharmacy_id)
    return deposit_accounts_lock(keys=[key], now=now)[key]


def statement_money_before_confirm(*, statement: Statement, now: dt.datetime) -> Statement:
    """The statement about to be confirmed takes its money lines as the organisation's next statement."""
    kind, org_id = statement.organisation_kind, statement.institution_id or statement.pharmacy_id
    _recompute(kind=kind, org_id=org_id, now=now, first=statement)
    statement.refresh_from_db(fields=["deductions", "payable"])
    return statement


def statement_money_after_confirm(*, statement: Statement, actor, now: dt.datetime) -> None:
    """The confirmed statement's deposit movements (withheld, deducted by sanction), then the organisation's other
    drafts again (what this statement took is no longer outstanding)."""
    kind, org_id = statement.organisation_kind, statement.institution_id or statement.pharmacy_id
    account = DepositAccount.objects.get(organisation_kind=kind, **{_org_field(kind): org_id})
    decided_by = actor if getattr(actor, "is_authenticated", False) else None
    if statement.deposit != 0:
        _append_entry(account=account, kind=DepositEntry.Kind.WITHHELD, amount=statement.deposit, now=now,
                      statement=statement, decided_by=decided_by,
                      reason=f"{label(statement.period)} 结算单按 {statement.deposit_rate * 100:.2f}% 预留")
    for line in statement.adjustments.filter(kind=StatementAdjustment.Kind.DEPOSIT_DEDUCTION, amount__gt=0):
        _append_entry(account=account, kind=DepositEntry.Kind.DEDUCTED, amount=-line.amount, now=now,
                      statement=statement, sanction_id=line.sanction_id, decided_by=line.decided_by,
                      reason=line.sanction.reason)
    _recompute(kind=kind, org_id=org_id, now=now)


def statements_confirm_month(*, period: dt.date, region: Region | None, actor, today: dt.date,
                             now: dt.datetime) -> list[Statement]:
    """R-SET-1: the bureau confirms every draft statement of the month in its region at once. Two administrators
    doing it at the same moment take turns (the month's lock); the second finds nothing left and is told so,
    changing nothing."""
    # services imports this module (statement_confirm calls the hooks above): the one true start-up cycle
    from apps.settlement.services import live_runs, statement_confirm

    period = period_of(period)
    if today < next_period(period):
        raise ApplicationError("period_not_ended", f"{label(period)} 尚未结束，不能确认", status=409)
    with transaction.atomic():
        with connection.cursor() as cur:
            hot_sql.advisory_xact_lock(cur, ADVISORY_KEY, period.year * 100 + period.month)
        # a run whose worker died (heartbeat late) does not block: it is not live
        if live_runs(period=period, now=now).filter(status=SettlementRun.Status.RUNNING).exists():
            raise ApplicationError("run_in_progress", "本月结算正在运行，请完成后再确认", status=409)
        drafts = list(Statement.objects.filter(region_q(region, "institution__region") | region_q(region, "pharmacy__region")
                                               if region is not None else Q(), period=period,
                                               status=Statement.Status.DRAFT).order_by("pk"))
        if not drafts:
            raise ApplicationError("nothing_to_confirm", f"{label(period)} 没有待确认的结算单（可能已由他人确认）",
                                   status=409)
        deposit_accounts_lock(keys=[(s.organisation_kind, s.institution_id or s.pharmacy_id) for s in drafts], now=now)
        confirmed = [statement_confirm(statement=s, actor=actor, today=today, now=now) for s in drafts]
        record_event(subject=confirmed[0], action=EventAction.STATEMENTS_MONTH_CONFIRMED, actor=actor,
                     data={"period": label(period), "region": region.code if region else None,
                           "statements": len(confirmed)}, now=now)
    return confirmed


# --------------------------------------------------------------------------- sanctions, deferral release, return

def sanction_recorded(*, sanction: Sanction, organisation, now: dt.datetime) -> None:
    """Handler of ``registries.hooks.sanction_recorded``: a money sanction recomputes the organisation's drafts in
    the recording transaction (other kinds change no money)."""
    if sanction.kind not in MONEY_KINDS:
        return
    org_kind, org_id = org_kind_and_id(organisation)
    deposit_accounts_lock(keys=[(org_kind, org_id)], now=now)
    _recompute(kind=org_kind, org_id=org_id, now=now)


@transaction.atomic
def sanction_money_record(*, organisation, kind: str, amount: Decimal | None, decided_on: dt.date, reason: str,
                          actor, now: dt.datetime) -> Sanction:
    """R-INS-3 / R-SET-5: record a sanction with money (deduction/recovery, deposit deduction, payment deferral)
    and put it on the organisation's next statement at once. See the module docstring."""
    if kind not in MONEY_KINDS:
        raise ApplicationError("invalid", "只有拒付/追回、扣除质量保证金、暂缓拨付会影响结算金额",
                               fields={"kind": ["不是涉及金额的处理方式"]})
    if amount is not None:
        amount = Decimal(amount)
        if amount <= 0:
            raise ApplicationError("invalid", "金额必须大于零", fields={"amount": ["金额必须大于零"]})
        if amount != q2(amount):
            raise ApplicationError("invalid", "金额最多两位小数", fields={"amount": ["金额最多两位小数"]})
    org_kind, org_id = org_kind_and_id(organisation)
    deposit_accounts_lock(keys=[(org_kind, org_id)], now=now)
    if org_kind == OrganisationKind.INSTITUTION:
        sanction = institution_sanction(institution=organisation, actor=actor, kind=kind, decided_on=decided_on,
                                        reason=reason, amount=amount, now=now)
    else:
        sanction = pharmacy_sanction(pharmacy=organisation, actor=actor, kind=kind, decided_on=decided_on,
                                     reason=reason, amount=amount, now=now)
    # the registry's sanction_recorded hook (answered by ``sanction_recorded``) has recomputed the drafts
    return sanction


def _sanction_organisation(sanction: Sanction):
    model = sanction.content_type.model_class()
    if model not in (Institution, Pharmacy):
        raise ApplicationError("invalid", "该处理不针对定点医疗机构或药店")
    return model.objects.get(pk=int(sanction.object_id))


@transaction.atomic
def deferral_release(*, sanction: Sanction, actor, reason: str, now: dt.datetime) -> DeferralRelease:
    """R-SET-5: the bureau releases a payment deferral: the payables it held become payable (the payment list shows
    them as no longer held) and later statements are no longer held. Refused a second time."""
    if sanction.kind != Sanction.Kind.PAYMENT_DEFERRAL:
        raise ApplicationError("invalid", "只有暂缓拨付可以解除", status=409)
    if not (reason or "").strip():
        raise ApplicationError("invalid", "请填写解除理由", fields={"reason": ["必填"]})
    organisation = _sanction_organisation(sanction)
    org_kind, org_id = org_kind_and_id(organisation)
    deposit_accounts_lock(keys=[(org_kind, org_id)], now=now)
    if DeferralRelease.objects.filter(sanction=sanction).exists():
        raise ApplicationError("already_released", "该暂缓拨付已解除，不能重复解除", status=409)
    try:
        with transaction.atomic():
            release = DeferralRelease.objects.create(sanction=sanction, released_by=actor, released_at=now,
                                                     reason=reason.strip())
    except IntegrityError:  # a concurrent release won the race
        raise ApplicationError("already_released", "该暂缓拨付已解除，不能重复解除", status=409) from None
    held = StatementAdjustment.objects.filter(sanction=sanction, statement__status=Statement.Status.CONFIRMED)
    released_amount = held.aggregate(s=Sum("amount"))["s"] or ZERO
    record_event(subject=sanction, action=EventAction.DEFERRAL_RELEASED, actor=actor, reason=release.reason,
                 data={"organisation": organisation.code, "released": str(released_amount),
                       "statements": [s for s in held.values_list("statement_id", flat=True)]}, now=now)
    _recompute(kind=org_kind, org_id=org_id, now=now)
    return release


@transaction.atomic
def deposit_return(*, organisation, year: int, decision: str, actor, reason: str, now: dt.datetime,
                   amount: Decimal | None = None) -> DepositEntry:
    """R-SET-5 (000 附件2 第二条): after the annual assessment of ``year`` the bureau returns the deposit in full, in
    part or not at all. Returnable: what the year's statements withheld, at most the balance (deductions came out of
    it). ``all`` returns that, ``part`` the given ``amount`` (0 < amount ≤ returnable), ``none`` nothing (an entry
    of 0 records the decision). Once per organisation and year."""
    if decision not in DepositEntry.Decision.values:
        raise ApplicationError("invalid", "考核决定应为 all（全额）、part（部分）或 none（不予返还）",
                               fields={"decision": ["取值无效"]})
    if not (reason or "").strip():
        raise ApplicationError("invalid", "请填写考核结论", fields={"reason": ["必填"]})
    org_kind, org_id = org_kind_and_id(organisation)
    account = deposit_accounts_lock(keys=[(org_kind, org_id)], now=now)[(org_kind, org_id)]
    if account.entries.filter(kind=DepositEntry.Kind.RETURNED, year=year).exists():
        raise ApplicationError("already_returned", f"{year} 年度的考核返还已办理", status=409)
    withheld = (account.entries.filter(kind=DepositEntry.Kind.WITHHELD, statement__period__year=year)
                .aggregate(s=Sum("amount"))["s"] or ZERO)
    returnable = max(ZERO, min(withheld, deposit_balance(account)))
    if decision == DepositEntry.Decision.ALL:
        value = returnable
    elif decision == DepositEntry.Decision.NONE:
        value = ZERO
    else:
        if amount is None:
            raise ApplicationError("invalid", "部分返还须填写金额", fields={"amount": ["必填"]})
        value = Decimal(amount)
        if value <= 0 or value != q2(value):
            raise ApplicationError("invalid", "返还金额必须大于零且最多两位小数", fields={"amount": ["金额无效"]})
        if value > returnable:
            raise ApplicationError("invalid", f"返还金额超过可返还金额 {returnable:,.2f} 元",
                                   fields={"amount": [f"最多 {returnable:,.2f}"]})
    entry = _append_entry(account=account, kind=DepositEntry.Kind.RETURNED, amount=-value, now=now, year=year,
                          decision=decision, reason=reason.strip(),
                          decided_by=actor if getattr(actor, "is_authenticated", False) else None)
    record_event(now=now, subject=account, action=EventAction.DEPOSIT_RETURNED, actor=actor, reason=entry.reason,
                 data={"year": year, "decision": decision, "amount": str(value), "returnable": str(returnable)})
    return entry


# --------------------------------------------------------------------------- ward-delivery payments (R-SET-2)

def _ward_due_by_pharmacy(statement: Statement) -> dict[int, Decimal]:
    """What the hospital owes each pharmacy for the statement's ward deliveries: their totals (one aggregate)."""
    rows = (Dispensing.objects.filter(statement_line__statement=statement, delivery=Delivery.WARD)
            .values("pharmacy_id").annotate(s=Sum("total")))
    return {r["pharmacy_id"]: r["s"] or ZERO for r in rows}


def _payable_pharmacy(*, statement: Statement, actor, pharmacy_code: str | None) -> Pharmacy:
    """The pharmacy a payment is for: the pharmacy user's own; for the hospital the one named, or the only one."""
    due = _ward_due_by_pharmacy(statement)
    if actor.pharmacy_id:
        if actor.pharmacy_id not in due:
            raise ApplicationError("not_found", "未找到该结算单", status=404)
        return Pharmacy.objects.get(pk=actor.pharmacy_id)
    if pharmacy_code:
        pharmacy = Pharmacy.objects.filter(code=pharmacy_code.strip()).first()
        if pharmacy is None or pharmacy.pk not in due:
            raise ApplicationError("invalid", f"药店“{pharmacy_code}”不是该结算单的病区配送药店",
                                   fields={"pharmacy": ["不在该结算单中"]})
        return pharmacy
    if len(due) != 1:
        raise ApplicationError("invalid", "该结算单涉及多家药店，请指定收款药店编码", fields={"pharmacy": ["必填"]})
    return Pharmacy.objects.get(pk=next(iter(due)))


@transaction.atomic
def ward_payment_record(*, statement: Statement, actor, paid_on: dt.date, amount, reference: str,
                        now: dt.datetime, pharmacy_code: str | None = None) -> WardPayment:
    """R-SET-2 / 000 五(三): the hospital records its payment to a pharmacy for a confirmed month's ward deliveries
    (or the pharmacy records what it received). Part payments add up; paying more than is owed is refused."""
    statement = Statement.objects.select_for_update().get(pk=statement.pk)
    if statement.organisation_kind != OrganisationKind.INSTITUTION:
        raise ApplicationError("not_ward_delivery", "只有医疗机构的病区配送结算单需要登记付款", status=409)
    if statement.status != Statement.Status.CONFIRMED:
        raise ApplicationError("period_not_confirmed", f"{label(statement.period)} 结算单尚未确认，不能登记付款",
                               status=409)
    try:
        amount = Decimal(str(amount))
    except Exception:
        raise ApplicationError("invalid", "金额格式无效", fields={"amount": ["金额格式无效"]}) from None
    fields = {}
    if not amount.is_finite() or amount <= 0:
        fields["amount"] = ["金额必须大于零"]
    elif amount != q2(amount):
        fields["amount"] = ["金额最多两位小数"]
    if not (reference or "").strip():
        fields["reference"] = ["请填写支付凭证号"]
    if paid_on < statement.period:
        fields["paid_on"] = ["支付日期早于结算月份"]
    if paid_on > timezone.localdate(now):
        fields["paid_on"] = ["支付日期不能晚于今天"]
    if fields:
        raise ApplicationError("invalid", "付款信息有误", fields=fields)
    pharmacy = _payable_pharmacy(statement=statement, actor=actor, pharmacy_code=pharmacy_code)
    owed = _ward_due_by_pharmacy(statement)[pharmacy.pk]
    paid = (WardPayment.objects.filter(statement=statement, pharmacy=pharmacy, reversed_at__isnull=True)
            .aggregate(s=Sum("amount"))["s"] or ZERO)
    if paid + amount > owed:
        raise ApplicationError("overpayment", f"累计付款 {paid + amount:,.2f} 元将超过应付 {owed:,.2f} 元",
                               fields={"amount": [f"最多 {owed - paid:,.2f}"]}, status=409)
    payment = WardPayment.objects.create(statement=statement, pharmacy=pharmacy, paid_on=paid_on, amount=amount,
                                         reference=reference.strip(), recorded_by=actor, recorded_at=now)
    record_event(subject=statement, action=EventAction.WARD_PAYMENT_RECORDED, actor=actor,
                 data={"payment": payment.pk, "pharmacy": pharmacy.code, "paid_on": paid_on.isoformat(),
                       "amount": str(amount), "reference": payment.reference, "paid_total": str(paid + amount),
                       "owed": str(owed)}, now=now)
    return payment


@transaction.atomic
def ward_payment_reverse(*, payment: WardPayment, actor, reason: str, now: dt.datetime) -> WardPayment:
    """R-SET-2: a payment recorded wrongly is reversed with a reason; it no longer counts (it stays on record)."""
    payment = WardPayment.objects.select_for_update().get(pk=payment.pk)
    if payment.reversed_at is not None:
        raise ApplicationError("already_reversed", "该付款已冲销", status=409)
    if not (reason or "").strip():
        raise ApplicationError("invalid", "请填写冲销原因", fields={"reason": ["必填"]})
    payment.reversed_at, payment.reversed_by, payment.reversal_reason = now, actor, reason.strip()
    payment.save(update_fields=["reversed_at", "reversed_by", "reversal_reason"])
    record_event(subject=payment.statement, action=EventAction.WARD_PAYMENT_REVERSED, actor=actor,
                 reason=payment.reversal_reason, data={"payment": payment.pk, "amount": str(payment.amount)}, now=now)
    return payment


# --------------------------------------------------------------------------- institutions' monthly reports (R-SET-3)

def _report_figures(raw: dict, *, row: int | str, errors: list) -> dict | None:
    out = {}
    try:
        out["visits"] = int(str(raw.get("visits", "")).strip())
        if out["visits"] < 0:
            raise ValueError
    except ValueError:
        errors.append({"row": row, "column": "visits", "message": f"人次“{raw.get('visits')}”应为非负整数"})
        return None
    for column, label_ in (("total", "医疗费用总额"), ("fund_payment", "统筹基金支付")):
        try:
            value = Decimal(str(raw.get(column, "")).strip())
        except Exception:
            value = None
        if value is None or not value.is_finite():
            errors.append({"row": row, "column": column, "message": f"{label_}“{raw.get(column)}”不是有效金额"})
            return None
        if value != q2(value):
            errors.append({"row": row, "column": column, "message": f"{label_}最多两位小数"})
            return None
        out[column] = value
    if out["fund_payment"] > out["total"] and out["total"] >= 0:
        errors.append({"row": row, "column": "fund_payment", "message": "统筹基金支付不能超过医疗费用总额"})
        return None
    return out


@transaction.atomic
def institution_report_submit(*, organisation, period: dt.date, figures: dict, lines: list[dict], actor,
                              source: str, now: dt.datetime) -> InstitutionMonthlyReport:
    """R-SET-3 / 000 四(三): an institution or pharmacy submits its month's figures (visits, total, fund payment,
    optionally per drug), due by the 5th of the next month. A second submission corrects the figures; the first
    submission's time decides lateness. All or nothing: every bad field or line is listed, nothing is written."""
    org_kind, org_id = org_kind_and_id(organisation)
    period = period_of(period)
    if period >= period_of(timezone.localdate(now)):
        raise ApplicationError("period_not_ended", f"{label(period)} 尚未结束，不能上报", fields={"period": ["月份未结束"]})
    errors: list[dict] = []
    head = _report_figures(figures, row="合计", errors=errors)
    codes = [str(line.get("drug_code", "")).strip() for line in lines]
    drugs = {d.code: d for d in Drug.objects.filter(code__in=codes)}
    parsed, seen = [], set()
    for index, line in enumerate(lines, start=1):
        row = line.get("row", index)
        code = str(line.get("drug_code", "")).strip()
        if code not in drugs:
            errors.append({"row": row, "column": "drug_code", "message": f"药品代码“{code}”不在目录中"})
            continue
        if code in seen:
            errors.append({"row": row, "column": "drug_code", "message": f"药品代码“{code}”重复"})
            continue
        seen.add(code)
        values = _report_figures(line, row=row, errors=errors)
        if values is not None:
            parsed.append((drugs[code], values))
    if head is not None and parsed and not errors:
        sums = {"visits": sum(v["visits"] for _, v in parsed), "total": sum(v["total"] for _, v in parsed),
                "fund_payment": sum(v["fund_payment"] for _, v in parsed)}
        for column in ("total", "fund_payment"):
            if sums[column] != head[column]:
                errors.append({"row": "合计", "column": column,
                               "message": f"分药品合计 {sums[column]:,.2f} 与报表合计 {head[column]:,.2f} 不一致"})
    if errors:
        raise ApplicationError("invalid", f"月度报表有 {len(errors)} 处错误，未保存任何数据",
                               fields={"rows": [f"{e['row']} {e['column']}：{e['message']}" for e in errors]},
                               data={"errors": errors})
    field = "institution" if org_kind == OrganisationKind.INSTITUTION else "pharmacy"
    report = (InstitutionMonthlyReport.objects.select_for_update()
              .filter(**{field: organisation}, period=period).first())
    if report is None:
        try:
            with transaction.atomic():
                report = InstitutionMonthlyReport.objects.create(
                    organisation_kind=org_kind, **{field: organisation}, period=period, source=source,
                    submitted_at=now, updated_at=now, submitted_by=actor, **head)
        except IntegrityError:
            raise ApplicationError("conflict", "该月报表正在由他人提交，请刷新后重试", status=409) from None
    else:
        for key, value in head.items():
            setattr(report, key, value)
        report.source, report.updated_at, report.submitted_by = source, now, actor
        report.save()
        report.lines.all().delete()
    InstitutionMonthlyReportLine.objects.bulk_create(
        [InstitutionMonthlyReportLine(report=report, drug=drug, **values) for drug, values in parsed])
    due = next_period(period).replace(day=5)
    record_event(subject=report, action=EventAction.INSTITUTION_REPORT_SUBMITTED, actor=actor,
                 data={"period": label(period), "source": source, "lines": len(parsed),
                       "late": report.submitted_at.date() > due, **{k: str(v) for k, v in head.items()}}, now=now)
    return report


REPORT_COLUMNS = {"药品代码": "drug_code", "人次": "visits", "医疗费用总额": "total", "统筹基金支付": "fund_payment"}


def institution_report_rows_from_xlsx(fileobj) -> tuple[dict, list[dict]]:
    """The report workbook (read by the kernel's Excel engine, ``apps.core.excel``): one header row (药品代码 / 人次 /
    医疗费用总额 / 统筹基金支付), one row per drug and a last row whose 药品代码 is 合计 with the totals (absent: the
    totals are the sum of the rows). Cells are passed on as read; ``institution_report_submit`` validates them."""
    try:
        rows = list(SheetReader(fileobj).rows())
    except WorkbookError:
        raise ApplicationError("invalid", "无法读取上传的 Excel 文件（.xlsx）", fields={"file": ["不是有效的 Excel 工作簿"]}) from None
    if not rows:
        raise ApplicationError("invalid", "Excel 文件为空", fields={"file": ["没有数据"]})
    header = [str(v or "").strip() for v in rows[0][1]]
    missing = [name for name in REPORT_COLUMNS if name not in header]
    if missing:
        raise ApplicationError("invalid", f"缺少列：{'、'.join(missing)}", fields={"file": [f"缺少列 {m}" for m in missing]})
    index = {REPORT_COLUMNS[name]: header.index(name) for name in REPORT_COLUMNS}
    lines, totals = [], None
    for number, values in rows[1:]:
        values = list(values) + [None] * (len(header) - len(values))
        if all(is_blank(v) for v in values):
            continue
        item = {key: ("" if values[i] is None else values[i]) for key, i in index.items()}
        if isinstance(item["visits"], float) and item["visits"].is_integer():
            item["visits"] = int(item["visits"])
        for key in ("total", "fund_payment"):
            number_value = _to_decimal(item[key])
            item[key] = item[key] if number_value is None else number_value
        item["row"] = number
        if str(item["drug_code"]).strip() == "合计":
            totals = item
        else:
            lines.append(item)
    if totals is None:
        totals = {"visits": sum(x["visits"] for x in lines if isinstance(x["visits"], int)),
                  "total": sum((x["total"] for x in lines if isinstance(x["total"], Decimal)), ZERO),
                  "fund_payment": sum((x["fund_payment"] for x in lines if isinstance(x["fund_payment"], Decimal)), ZERO)}
    return totals, lines


# --------------------------------------------------------------------------- rectification follow-up (R-SET-5)

SIX_MONTHS_DAYS = 183


def _problem_key(reason: str) -> str:
    return " ".join((reason or "").split())[:255]


@transaction.atomic
def rectification_follow_up(*, today: dt.date, now: dt.datetime) -> dict[str, int]:
    """R-SET-5 / 000 附件2 第五条, daily: every deadline rectification (限时整改) gets a follow-up; one still open after
    its deadline escalates (逾期未整改); a rectification whose problem (the sanction's reason) was already the
    subject of one for the same organisation in the six months before escalates at once (再次发现). Idempotent:
    an escalated follow-up is not escalated again."""
    new = (Sanction.objects.filter(kind=Sanction.Kind.RECTIFICATION, rectification_follow_up__isnull=True)
           .order_by("decided_on", "id"))
    created = 0
    for sanction in new:
        F.objects.create(sanction=sanction, problem=_problem_key(sanction.reason), created_at=now)
        created += 1
    escalated = {"deadline": 0, "recurred": 0}
    candidates = (F.objects.select_for_update().filter(status=F.Status.OPEN).select_related("sanction")
                  .order_by("sanction__decided_on", "id"))
    for follow_up in candidates:
        sanction = follow_up.sanction
        earlier = (F.objects.filter(sanction__content_type=sanction.content_type, sanction__object_id=sanction.object_id,
                                    problem=follow_up.problem,
                                    sanction__decided_on__lt=sanction.decided_on,
                                    sanction__decided_on__gte=sanction.decided_on - dt.timedelta(days=SIX_MONTHS_DAYS))
                   .exclude(pk=follow_up.pk).order_by("-sanction__decided_on").first())
        if earlier is not None:
            reason, follow_up.earlier = F.Escalation.RECURRED, earlier
        elif sanction.deadline is not None and sanction.deadline < today:
            reason = F.Escalation.DEADLINE
        else:
            continue
        follow_up.status, follow_up.escalation, follow_up.escalated_at = F.Status.ESCALATED, reason, now
        follow_up.save(update_fields=["status", "escalation", "escalated_at", "earlier"])
        record_event(subject=sanction, action=EventAction.RECTIFICATION_ESCALATED, from_status="open",
                     to_status="escalated", reason=follow_up.get_escalation_display(),
                     data={"deadline": sanction.deadline.isoformat() if sanction.deadline else None,
                           "earlier": follow_up.earlier.sanction_id if follow_up.earlier else None}, now=now)
        escalated[reason] += 1
    return {"created": created, **escalated}


@transaction.atomic
def rectification_resolve(*, follow_up, actor, reason: str, now: dt.datetime):
    """The bureau confirms an open rectification was completed (before it escalates)."""
    follow_up = F.objects.select_for_update().get(pk=follow_up.pk)
    if follow_up.status != F.Status.OPEN:
        raise ApplicationError("invalid_status", f"该整改已{follow_up.get_status_display()}，不能再确认", status=409)
    if not (reason or "").strip():
        raise ApplicationError("invalid", "请填写整改情况", fields={"reason": ["必填"]})
    follow_up.status, follow_up.resolved_at, follow_up.resolved_by = F.Status.RESOLVED, now, actor
    follow_up.save(update_fields=["status", "resolved_at", "resolved_by"])
    record_event(subject=follow_up.sanction, action=EventAction.RECTIFICATION_RESOLVED, actor=actor,
                 from_status="open", to_status="resolved", reason=reason.strip(), now=now)
    return follow_up
