"""The pharmacy side (R-RX-5..7, R-PAY-3..5, R-PHA-3): decline, quote, dispense with the year-to-date usage locked
(R-PAY-3), reversal into the open month (R-RX-6, R-SET-1) and stock movements.

Concurrency:
- a dispensing locks its prescription row, then the patient's ``PatientYearUsage`` row (created first with the
  unique constraint deciding a creation race), so two dispensings for one patient never use the same remaining
  deductible or cap (R-PAY-3);
- a traceability code is live in one dispensing only by a partial unique index: the insert itself refuses a
  code dispensed elsewhere (R-RX-5), there is no check-then-insert.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.applications.models import InsuredPerson
from apps.applications.selectors import other_fund_paid
from apps.catalogue.models import Drug
from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.pharmacies.models import Pharmacy
from apps.policies.models import PaymentPolicy
from apps.prescriptions import engine, hooks
from apps.prescriptions.models import (
    Delivery, Dispensing, DispensingLine, PatientYearUsage, Prescription, StockMovement, TraceCode,
)
from apps.prescriptions.selectors import cross_region_filing_for, live_trace_codes, payment_standards_on, stock_for
from apps.prescriptions.services.common import is_expired, local_day, lock_prescription, next_period, status_label
from apps.prescriptions.sql_reads import locked_year_usage, policy_in_force, prescription_for_dispensing


TRACE_CODE_LENGTH = 20


@transaction.atomic
def prescription_decline(*, prescription: Prescription, user, reason: str, note: str = "",
                         now: dt.datetime) -> Prescription:
    """The pharmacy declines a prescription that flowed to it, with a reason from the fixed list (R-RX-6)."""
    if reason not in Prescription.DeclineReason.values:
        raise ApplicationError("invalid", "拒配原因须从固定列表中选择",
                               fields={"reason": [f"可选：{', '.join(Prescription.DeclineReason.values)}"]})
    prescription = lock_prescription(prescription)
    if prescription.status != Prescription.Status.FLOWED or is_expired(prescription, now):
        raise ApplicationError("prescription_not_dispensable",
                               f"处方当前状态为{status_label(prescription, now)}，不能拒配", status=409)
    prescription.status, prescription.decline_reason, prescription.decline_note = (
        Prescription.Status.DECLINED, reason, (note or "").strip()[:255])
    prescription.status_changed_at = now
    prescription.save(update_fields=["status", "decline_reason", "decline_note", "status_changed_at"])
    record_event(subject=prescription, action=EventAction.PRESCRIPTION_DECLINED, actor=user, from_status="flowed",
                 to_status=prescription.status, reason=Prescription.DeclineReason(reason).label,
                 data={"reason": reason, "note": prescription.decline_note}, now=now)
    return prescription


@dataclass
class DispenseItem:
    drug_code: str
    quantity: int
    unit_price: Decimal
    trace_codes: list[str] | None = None


@dataclass
class DispensePlan:
    """Everything a dispensing would record, computed without writing (shared by quote and dispense)."""

    prescription: Prescription
    dispensed_at: dt.datetime
    policy: PaymentPolicy
    settlement_mode: str
    terms: engine.PolicyTerms
    drugs: list[Drug]
    standards: list[Decimal]
    items: list[DispenseItem]
    result: engine.Settlement | None = None
    year: int = 0
    ratio: Decimal = Decimal("0")
    codes: list[str] = field(default_factory=list)


def _plan(*, prescription: Prescription, dispensed_at: dt.datetime, items: list[DispenseItem],
          require_codes: bool, now: dt.datetime, prescribed_items: list | None = None,
          standards_by_id: dict[int, Decimal] | None = None) -> DispensePlan:
    """R-RX-5 checks and the policy (R-PAY-5) for dispensing ``items`` of ``prescription`` at ``dispensed_at``.
    ``prescribed_items`` (with their drugs) and ``standards_by_id`` (payment standards on the dispensing day) may
    come already read with the prescription (``prescription_for_dispensing``); otherwise they are read here."""
    if prescription.status != Prescription.Status.FLOWED or is_expired(prescription, now) or \
            dispensed_at > prescription.expires_at:
        raise ApplicationError("prescription_not_dispensable",
                               f"处方当前状态为{status_label(prescription, now)}，不能配药", status=409)
    if dispensed_at < prescription.issued_at:
        raise ApplicationError("invalid", "配药时间早于处方开具时间", fields={"dispensed_at": ["早于开具时间"]})
    if dispensed_at > now + dt.timedelta(minutes=10):
        raise ApplicationError("invalid", "配药时间不能晚于当前时间", fields={"dispensed_at": ["晚于当前时间"]})
    if not prescription.pharmacy.is_active:
        raise ApplicationError("pharmacy_not_designated", "本药店当前不是有效的定点零售药店，不能配药")
    if not items:
        raise ApplicationError("invalid", "请至少填写一行配药明细", fields={"items": ["必填"]})

    day = local_day(dispensed_at)
    if prescribed_items is None:
        prescribed_items = list(prescription.items.select_related("drug"))
    prescribed = {i.drug.code: i for i in prescribed_items}
    codes_seen: set[str] = set()
    drugs: list[Drug] = []
    for index, item in enumerate(items):
        code = item.drug_code.strip().upper()
        if code not in prescribed:
            raise ApplicationError("invalid", f"药品 {code} 不在该处方上", fields={f"items.{index}.drug_code": ["不在处方上"]})
        if any(d.code == code for d in drugs):
            raise ApplicationError("invalid", f"药品 {code} 重复", fields={f"items.{index}.drug_code": ["重复"]})
        if item.quantity > prescribed[code].quantity:
            raise ApplicationError("quantity_exceeds_prescription",
                                   f"{prescribed[code].drug.generic_name} 配药数量 {item.quantity} 超过处方数量 "
                                   f"{prescribed[code].quantity}", fields={f"items.{index}.quantity": ["超过处方数量"]})
        drug = prescribed[code].drug
        if not drug.is_listed_on(day):
            raise ApplicationError("drug_not_listed", f"药品 {code} 在 {day} 不在医保目录内或已调出",
                                   fields={f"items.{index}.drug_code": ["配药日不在目录内"]})
        if item.trace_codes is not None or require_codes:
            trace = [c.strip() for c in (item.trace_codes or [])]
            if len(trace) != item.quantity:
                raise ApplicationError("trace_code_count_mismatch",
                                       f"{drug.generic_name} 数量 {item.quantity} 盒，追溯码 {len(trace)} 个：每盒一个追溯码",
                                       fields={f"items.{index}.trace_codes": ["追溯码个数应等于数量"]})
            for c in trace:
                if len(c) != TRACE_CODE_LENGTH or not c.isdigit() or not c.isascii():
                    raise ApplicationError("invalid", f"追溯码 {c} 应为20位数字",
                                           fields={f"items.{index}.trace_codes": ["追溯码应为20位数字"]})
                if c in codes_seen:
                    raise ApplicationError("duplicate_trace_code", f"追溯码 {c} 在本次配药中重复",
                                           fields={f"items.{index}.trace_codes": [f"{c} 重复"]})
                codes_seen.add(c)
        drugs.append(drug)

    if standards_by_id is None:
        standards_by_id = payment_standards_on(drugs=drugs, on=day)
    standards = []
    for index, (drug, item) in enumerate(zip(drugs, items)):
        standard = standards_by_id.get(drug.pk)
        if standard is None:
            raise ApplicationError("drug_not_listed", f"药品 {drug.code} 在 {day} 没有有效的支付标准",
                                   fields={f"items.{index}.drug_code": ["无有效支付标准"]})
        if item.unit_price > standard:
            raise ApplicationError("price_above_standard",
                                   f"{drug.generic_name} 单价 {item.unit_price} 高于 {day} 的支付标准 {standard}（R-RX-5）",
                                   fields={f"items.{index}.unit_price": [f"不得高于支付标准 {standard}"]})
        standards.append(standard)

    person = prescription.person
    policy, mode = _policy_and_mode(person=person, pharmacy=prescription.pharmacy, day=day)
    care, ins = prescription.care_setting, person.insurance_type
    ratio = policy.ratio(care_setting=care, insurance_type=ins)
    terms = engine.PolicyTerms(deductible=policy.deductible(care_setting=care, insurance_type=ins), ratio=ratio,
                               cap=policy.annual_cap(insurance_type=ins))
    return DispensePlan(prescription=prescription, dispensed_at=dispensed_at, policy=policy, settlement_mode=mode,
                        terms=terms, drugs=drugs, standards=standards, items=items, year=day.year, ratio=ratio,
                        codes=sorted(codes_seen))


def _policy_and_mode(*, person: InsuredPerson, pharmacy: Pharmacy, day: dt.date) -> tuple[PaymentPolicy, str]:
    """R-PAY-5: the insured region's policy (walking up the tree). A patient insured outside the pharmacy's pooling
    region (city) is settled directly only with a cross-region filing that allows it; otherwise pays in full."""
    insured = person.insured_region
    if insured.code[:4] == pharmacy.region.code[:4]:
        return policy_in_force(region=insured, on=day), Dispensing.Settlement.DIRECT
    filing = cross_region_filing_for(person=person, treatment_region=pharmacy.region, on=day)
    if filing is not None and filing.direct_settlement:
        return policy_in_force(region=filing.insured_region, on=day), Dispensing.Settlement.DIRECT
    try:
        policy = policy_in_force(region=insured, on=day)
    except ApplicationError:
        policy = policy_in_force(region=pharmacy.region, on=day)
    return policy, Dispensing.Settlement.SELF_PAID


def _compute(plan: DispensePlan, usage: engine.YearUsage) -> engine.Settlement:
    lines = [engine.LineInput(quantity=i.quantity, unit_price=i.unit_price, first_self_pay_ratio=d.first_self_pay_ratio,
                              payment_standard=s) for i, d, s in zip(plan.items, plan.drugs, plan.standards)]
    result = engine.settle(lines=lines, terms=plan.terms, usage=usage)
    if plan.settlement_mode == Dispensing.Settlement.SELF_PAID:
        result = engine.self_paid(result)
    return result


def prescription_quote(*, prescription: Prescription, dispensed_at: dt.datetime | None,
                       items: list[DispenseItem], now: dt.datetime) -> engine.Settlement:
    """What dispensing now would give (API.md quote): the same checks and engine, nothing written or locked."""
    plan = _plan(prescription=prescription, dispensed_at=dispensed_at or now, items=items,
                 require_codes=False, now=now)
    if plan.codes:
        taken = live_trace_codes(plan.codes)
        if taken:
            raise ApplicationError("duplicate_trace_code", f"追溯码已被配药使用：{', '.join(taken)}",
                                   fields={"trace_codes": taken})
    current = PatientYearUsage.objects.filter(person=prescription.person, year=plan.year).first()
    other = other_fund_paid(person_id=prescription.person_id, year=plan.year)  # R-PAY-3 step 4
    usage = engine.YearUsage(current.deductible_met, current.fund_paid + other) if current else \
        engine.YearUsage(fund_paid=other)
    return _compute(plan, usage)


def _usage_add(*, usage: PatientYearUsage, deductible: Decimal, fund: Decimal, count: int, now: dt.datetime) -> None:
    """Add to the locked accumulator (``locked_year_usage``) in SQL, and to ``usage`` as the caller sees it."""
    PatientYearUsage.objects.filter(pk=usage.pk).update(
        deductible_met=F("deductible_met") + deductible, fund_paid=F("fund_paid") + fund,
        dispensing_count=F("dispensing_count") + count, updated_at=now)
    usage.deductible_met += deductible
    usage.fund_paid += fund
    usage.dispensing_count += count


def settlement_period(*, day: dt.date, organisations: list) -> dt.date:
    """The settlement month a dispensing or reversal counts in: the month of ``day``, or the next month whose
    statement is not yet confirmed (R-SET-1: a confirmed statement is locked, later entries go to the next month).
    The one place that asks the settlement app, through ``hooks.first_open_period`` (one query, issue 16)."""
    return hooks.first_open_period.call(organisations=organisations, period=day.replace(day=1))


def _settling(delivery: str, institution, pharmacy):
    """Whose statement a dispensing counts in (as ``apps.settlement.selectors.settling_organisation``): the
    hospital's for a ward delivery (it pays the pharmacy, 000 五(三)), otherwise the pharmacy's."""
    return institution if delivery == Delivery.WARD else pharmacy


def prescription_dispense(*, prescription_id: int, user, dispensed_at: dt.datetime,
                          items: list[DispenseItem], now: dt.datetime) -> Dispensing:
    """Dispense a prescription that flowed to the user's pharmacy (R-RX-5): checks, R-PAY-3 on the locked
    year-to-date usage, the dispensing with its line snapshots and trace codes, the accumulator and the
    prescription state, all in one transaction. The prescription is read through the user's scope and locked in
    one query (404 for another pharmacy's, R-SEC-1).

    A trace code already live elsewhere makes the insert fail on the partial unique index; the whole transaction
    rolls back and the refusal names the codes (R-RX-5, no check-then-insert)."""
    codes = [c.strip() for item in items for c in (item.trace_codes or [])]
    try:
        with transaction.atomic():
            return _dispense(prescription_id=prescription_id, user=user, dispensed_at=dispensed_at, items=items,
                             now=now)
    except IntegrityError:
        taken = live_trace_codes(codes)
        if not taken:
            raise
        raise ApplicationError("duplicate_trace_code",
                               f"追溯码已在系统中配药使用，不能重复配药（R-RX-5）：{', '.join(taken)}",
                               fields={"trace_codes": taken}) from None


def _dispense(*, prescription_id: int, user, dispensed_at: dt.datetime, items: list[DispenseItem],
              now: dt.datetime) -> Dispensing:
    from django.http import Http404

    context = prescription_for_dispensing(user=user, pk=prescription_id, day=local_day(dispensed_at))
    if context is None:
        raise Http404("prescription")
    locked = context.prescription
    plan = _plan(prescription=locked, dispensed_at=dispensed_at, items=items, require_codes=True, now=now,
                 prescribed_items=context.items, standards_by_id=context.standards)
    person = locked.person
    usage_row = locked_year_usage(person_id=person.pk, year=plan.year, now=now)
    result = _compute(plan, engine.cap_usage(usage_row))

    day = local_day(dispensed_at)
    dispensing = Dispensing.objects.create(
        prescription=locked, pharmacy=locked.pharmacy, institution=locked.institution, person=person,
        insurance_type=person.insurance_type, insured_region=person.insured_region, policy=plan.policy,
        care_setting=locked.care_setting, settlement=plan.settlement_mode, dispensed_at=dispensed_at,
        period=settlement_period(day=day, organisations=[_settling(locked.delivery, locked.institution, locked.pharmacy)]),
        kind=Dispensing.Kind.NORMAL, delivery=locked.delivery, dispensed_by=user,
        deductible_met_before=usage_row.deductible_met, fund_paid_before=usage_row.fund_paid,
        **result.figures(),
    )
    lines = DispensingLine.objects.bulk_create([
        DispensingLine(dispensing=dispensing, period=dispensing.period, drug=drug, quantity=r.quantity,
                       unit_price=r.unit_price,
                       line_total=r.line_total, payment_standard=standard,
                       first_self_pay_ratio=drug.first_self_pay_ratio, reimbursement_ratio=plan.ratio,
                       first_self_pay=r.first_self_pay, in_scope=r.in_scope, fund_payment=r.fund_payment,
                       personal_payment=r.personal_payment)
        for drug, standard, r in zip(plan.drugs, plan.standards, result.lines)
    ])
    codes = [TraceCode(code=c.strip(), line=line, drug=line.drug, pharmacy=locked.pharmacy, dispensed_at=dispensed_at)
             for line, item in zip(lines, items) for c in item.trace_codes or []]
    TraceCode.objects.bulk_create(codes)

    _usage_add(usage=usage_row, deductible=result.deductible, fund=result.fund_payment, count=1, now=now)

    locked.status, locked.status_changed_at = Prescription.Status.DISPENSED, now
    Prescription.objects.filter(pk=locked.pk).update(status=locked.status, status_changed_at=now)
    record_event(now=now, subject=dispensing, action=EventAction.DISPENSED, actor=user, to_status=dispensing.kind,
                 data={"prescription": locked.pk, "total": str(result.total), "fund": str(result.fund_payment)})
    # section 9: the monitoring rules R-MON-1..5 flag the dispensing in this transaction (never refuse it)
    hooks.dispensing_recorded.send(dispensing=dispensing, lines=lines, trace_codes=codes, prescription=locked,
                                   items=context.items, now=now)
    dispensing.lines_cache = lines
    return dispensing


@transaction.atomic
def dispensing_reverse(*, dispensing: Dispensing, user, reason: str = "",
                       now: dt.datetime) -> Dispensing:
    """R-RX-6: reverse (冲正) a dispensing once, within its settlement month. The reversal negates every amount,
    restores the patient's deductible and cap use, releases the trace codes (the packs are back on the shelf)
    and returns the prescription to ``flowed`` so it can be dispensed correctly while still valid."""
    if not (reason or "").strip():
        raise ApplicationError("reason_required", "请填写冲正原因：冲正会退回本次基金支付、恢复起付线和限额并释放追溯码",
                               fields={"reason": ["必填，例如“单价录入错误”"]})
    original = (Dispensing.objects.select_for_update(of=("self",))
                .select_related("prescription", "pharmacy", "institution").get(pk=dispensing.pk))
    if original.kind != Dispensing.Kind.NORMAL:
        raise ApplicationError("not_reversible", "冲正记录本身不能再冲正", status=409)
    if Dispensing.objects.filter(reverses=original).exists():
        raise ApplicationError("not_reversible", "该配药已冲正过，只能冲正一次（R-RX-6）", status=409)
    if timezone.localdate(now) >= next_period(original.period):
        raise ApplicationError("not_reversible", f"只能在结算月（{original.period:%Y-%m}）内冲正（R-RX-6）", status=409)

    usage_row = locked_year_usage(person_id=original.person_id, year=local_day(original.dispensed_at).year, now=now)
    try:
        with transaction.atomic():
            reversal = Dispensing.objects.create(
                prescription=original.prescription, pharmacy=original.pharmacy, institution=original.institution,
                person_id=original.person_id, insurance_type=original.insurance_type,
                insured_region_id=original.insured_region_id, policy_id=original.policy_id,
                care_setting=original.care_setting, settlement=original.settlement, dispensed_at=now,
                period=settlement_period(day=original.period, organisations=[
                    _settling(original.delivery, original.institution, original.pharmacy)]),
                kind=Dispensing.Kind.REVERSAL, reverses=original, delivery=original.delivery, dispensed_by=user,
                total=-original.total, first_self_pay=-original.first_self_pay, in_scope=-original.in_scope,
                deductible=-original.deductible, fund_payment=-original.fund_payment,
                personal_payment=-original.personal_payment,
                deductible_met_before=usage_row.deductible_met, fund_paid_before=usage_row.fund_paid,
            )
    except IntegrityError:  # reversed concurrently: the unique constraint on ``reverses`` decided
        raise ApplicationError("not_reversible", "该配药已冲正过，只能冲正一次（R-RX-6）", status=409) from None
    original_lines = list(original.lines.filter(period=original.period).order_by("id"))  # its month's partition
    DispensingLine.objects.bulk_create([
        DispensingLine(dispensing=reversal, period=reversal.period, drug_id=l.drug_id, quantity=-l.quantity,
                       unit_price=l.unit_price,
                       line_total=-l.line_total, payment_standard=l.payment_standard,
                       first_self_pay_ratio=l.first_self_pay_ratio, reimbursement_ratio=l.reimbursement_ratio,
                       first_self_pay=-l.first_self_pay, in_scope=-l.in_scope, fund_payment=-l.fund_payment,
                       personal_payment=-l.personal_payment)
        for l in original_lines
    ])
    # By the lines' ids, not a join in a sub-select: on tables without statistics (a fresh load in one
    # transaction) PostgreSQL planned the join as a nested loop over every code and took minutes.
    TraceCode.objects.filter(line_id__in=[l.pk for l in original_lines], released_at__isnull=True).update(
        released_at=now, released_by=reversal)

    PatientYearUsage.objects.filter(pk=usage_row.pk).update(
        deductible_met=F("deductible_met") - original.deductible, fund_paid=F("fund_paid") - original.fund_payment,
        dispensing_count=F("dispensing_count") - 1, updated_at=now)

    prescription = original.prescription
    prescription.status, prescription.status_changed_at = Prescription.Status.FLOWED, now
    prescription.save(update_fields=["status", "status_changed_at"])
    record_event(now=now, subject=reversal, action=EventAction.DISPENSING_REVERSED, actor=user, to_status="reversal",
                 reason=(reason or "").strip(), data={"reverses": original.pk, "fund": str(-original.fund_payment)})
    record_event(subject=prescription, action=EventAction.PRESCRIPTION_DISPENSING_REVERSED, actor=user,
                 from_status="dispensed", to_status="flowed", reason=(reason or "").strip(), now=now)
    return reversal


STOCK_EVENTS = {StockMovement.Kind.PURCHASE: EventAction.STOCK_PURCHASE, StockMovement.Kind.RETURN: EventAction.STOCK_RETURN}


@transaction.atomic
def stock_movement_record(*, user, pharmacy: Pharmacy, drug_code: str, kind: str, quantity: int,
                          unit_price: Decimal, occurred_at: dt.datetime, now: dt.datetime) -> StockMovement:
    """A purchase or a return to the supplier. A return cannot exceed what is on hand."""
    drug = Drug.objects.filter(code=(drug_code or "").strip().upper()).first()
    if drug is None:
        raise ApplicationError("invalid", f"药品代码 {drug_code} 不存在", fields={"drug_code": ["不在目录中"]})
    if kind not in StockMovement.Kind.values:
        raise ApplicationError("invalid", "类型应为 purchase 或 return", fields={"kind": ["取值无效"]})
    if quantity <= 0:
        raise ApplicationError("invalid", "数量应为正整数", fields={"quantity": ["应大于0"]})
    if unit_price < 0:
        raise ApplicationError("invalid", "单价不能为负", fields={"unit_price": ["不能为负"]})
    if occurred_at > now + dt.timedelta(minutes=10):
        raise ApplicationError("invalid", "发生时间不能晚于当前时间", fields={"occurred_at": ["晚于当前时间"]})
    Pharmacy.objects.select_for_update().filter(pk=pharmacy.pk).first()  # serialise returns per pharmacy
    if kind == StockMovement.Kind.RETURN:
        rows = stock_for(pharmacy=pharmacy, drug=drug)
        on_hand = rows[0].on_hand if rows else 0
        if quantity > on_hand:
            raise ApplicationError("insufficient_stock", f"{drug.generic_name} 当前库存 {on_hand} 盒，不能退货 {quantity} 盒",
                                   fields={"quantity": [f"不得超过库存 {on_hand}"]})
    movement = StockMovement.objects.create(pharmacy=pharmacy, drug=drug, kind=kind, quantity=quantity,
                                            unit_price=unit_price, occurred_at=occurred_at, recorded_by=user)
    record_event(subject=movement, action=STOCK_EVENTS[kind], actor=user,
                 data={"drug": drug.code, "quantity": quantity, "unit_price": str(unit_price)}, now=now)
    return movement
