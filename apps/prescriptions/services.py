"""Writes of e-prescriptions and dispensing (R-RX-1..7), the reimbursement bookkeeping (R-PAY-3..5) and stock
(R-PHA-3). Each service is one transaction that also writes its event row.

Concurrency:
- the serial number is unique per institution by a database constraint; a concurrent duplicate upload loses the
  insert race, and is answered as a replay or a conflict (R-RX-3);
- a dispensing locks its prescription row, then the patient's ``PatientYearUsage`` row (``select_for_update``,
  created first with the unique constraint deciding a creation race), so two dispensings for one patient
  never use the same remaining deductible or cap (R-PAY-3);
- a traceability code is live in one dispensing only by a partial unique index: the insert itself refuses a
  code dispensed elsewhere (R-RX-5), there is no check-then-insert.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.applications.models import Application, InsuredPerson
from apps.applications.selectors import application_covering
from apps.applications.services import insured_person_upsert
from apps.catalogue.models import Drug
from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.core.sql import DbValue, execute_hot
from apps.core.models import Event
from apps.core.roles import BUREAU_ROLES
from apps.pharmacies.models import Pharmacy
from apps.policies.models import CareSetting, PaymentPolicy
from apps.policies.selectors import policy_for
from apps.prescriptions import engine, hooks
from apps.prescriptions.models import (
    CrossRegionFiling, Delivery, Dispensing, DispensingLine, ManualClaim, PatientYearUsage, Prescription,
    PrescriptionItem, StockMovement, TraceCode,
)
from apps.prescriptions.selectors import cross_region_filing_for, live_trace_codes, payment_standards_on, stock_for
from apps.prescriptions.sql_reads import policy_in_force, prescription_for_dispensing, upload_context

MAX_DAYS_SUPPLY = 30  # R-RX-2, 001 第三十三条
MAX_DAYS_SUPPLY_LONG_TERM = 84  # 长期处方: at most 12 weeks
TRACE_CODE_LENGTH = 20


def _local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def next_period(period: dt.date) -> dt.date:
    """The first day of the month after ``period``."""
    return (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


# =================================================================================================================
# Upload (R-RX-1..4)
# =================================================================================================================

@dataclass
class UploadItem:
    drug_code: str
    quantity: int
    days_supply: int


@dataclass
class UploadData:
    serial_no: str
    physician_code: str
    pharmacy_code: str
    issued_at: dt.datetime
    items: list[UploadItem]
    signature: str
    application: int | None = None
    long_term: bool = False
    care_setting: str = CareSetting.OUTPATIENT
    patient: dict | None = None
    delivery: str = ""

    def content_hash(self) -> str:
        """R-RX-3: what "the same content" means: every field, items in drug-code order, time in UTC."""
        canonical = {
            "serial_no": self.serial_no, "application": self.application, "physician_code": self.physician_code,
            "pharmacy_code": self.pharmacy_code,
            "issued_at": self.issued_at.astimezone(dt.timezone.utc).isoformat(),
            "long_term": bool(self.long_term), "care_setting": self.care_setting, "delivery": self.delivery or "",
            "items": sorted([i.drug_code.strip().upper(), int(i.quantity), int(i.days_supply)] for i in self.items),
            "patient": {k: str(v) for k, v in sorted((self.patient or {}).items())} or None,
            "signature": self.signature,
        }
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _replay_or_conflict(existing: Prescription, content_hash: str) -> Prescription:
    if existing.content_hash == content_hash:
        return existing
    raise ApplicationError("serial_conflict", f"处方流水号 {existing.serial_no} 已上传过且内容不同（R-RX-3）",
                           fields={"serial_no": ["流水号已存在，内容不一致"]}, status=409, data={"id": existing.pk})


def prescription_upload(*, user, data: UploadData, now: dt.datetime) -> tuple[Prescription, bool]:
    """Upload an e-prescription (R-RX-1). Returns ``(prescription, created)``: the same serial number with the same
    content returns the existing one and creates nothing, with different content it is a ``serial_conflict``
    (R-RX-3). Every R-RX-2 check refuses with its code; nothing is written on refusal (R-SEC-4).

    The checks only read; everything written (the inpatient's person record, the prescription, its items and the
    event) is one transaction. A concurrent upload of the same serial number loses on the unique constraint
    after that transaction rolled back, and is answered as a replay or a conflict."""
    codes = [i.drug_code.strip().upper() for i in data.items]
    ctx = upload_context(institution_id=user.institution_id, serial_no=data.serial_no,
                         physician_code=data.physician_code.strip(), pharmacy_code=data.pharmacy_code.strip(),
                         application_id=data.application, drug_codes=codes)
    institution = ctx.institution
    content_hash = data.content_hash()
    if ctx.existing is not None:
        return _replay_or_conflict(ctx.existing, content_hash), False

    if data.issued_at > now + dt.timedelta(minutes=10):
        raise ApplicationError("invalid", "开具时间不能晚于当前时间", fields={"issued_at": ["晚于当前时间"]})
    issued_on = _local_day(data.issued_at)
    outpatient = data.care_setting == CareSetting.OUTPATIENT

    # R-RX-2: the physician is filed and active on the issue date, and belongs to this institution
    physician = ctx.physician
    if physician is None:
        raise ApplicationError("physician_not_filed", f"本机构没有编码为 {data.physician_code} 的责任医师",
                               fields={"physician_code": ["医师不存在或不属于本机构"]})
    if not physician.is_active_on(issued_on):
        raise ApplicationError("physician_not_filed", f"医师 {physician.name} 在 {issued_on} 未备案或备案已失效（R-DOC-3）",
                               fields={"physician_code": ["开具日未备案或已暂停/撤销/过期"]})
    # R-DOC-2 / R-INS-2: where the region splits the roles, only a treating physician of a treating institution
    # (a certifying institution is also treating) writes prescriptions.
    if ctx.role_split and not physician.is_treating:
        raise ApplicationError("physician_not_treating",
                               f"本统筹区区分认定医师与诊治医师，医师 {physician.name} 不是诊治医师，不能开具处方（R-DOC-2）",
                               fields={"physician_code": ["不是诊治医师"]})

    # R-RX-2: the pharmacy is an active designated pharmacy
    pharmacy = ctx.pharmacy
    if pharmacy is None or not pharmacy.is_active:
        raise ApplicationError("pharmacy_not_designated", f"药店 {data.pharmacy_code} 不是有效的定点零售药店",
                               fields={"pharmacy_code": ["不是有效的定点药店"]})

    # R-RX-2: every drug listed on the issue date; days of supply within the limit
    if len(set(codes)) != len(codes):
        raise ApplicationError("invalid", "同一药品在处方中重复出现，请合并为一行", fields={"items": ["药品重复"]})
    drugs = ctx.drugs
    for index, (code, item) in enumerate(zip(codes, data.items)):
        drug = drugs.get(code)
        if drug is None or not drug.is_listed_on(issued_on):
            raise ApplicationError("drug_not_listed", f"药品 {code} 在 {issued_on} 不在医保目录内或已调出",
                                   fields={f"items.{index}.drug_code": ["开具日不在目录内"]})
        limit = MAX_DAYS_SUPPLY_LONG_TERM if data.long_term else MAX_DAYS_SUPPLY
        if item.days_supply > limit:
            raise ApplicationError("days_supply_exceeded",
                                   f"用药天数 {item.days_supply} 超过{'长期处方' if data.long_term else ''}上限 {limit} 天",
                                   fields={f"items.{index}.days_supply": [f"不得超过 {limit} 天"]})

    # R-RX-2 / R-APP-1: outpatient use needs an approved, unexpired application per generic name;
    # R-APP-8: the physician's therapeutic area is the application's.
    application = None
    if outpatient:
        person, application = _outpatient_person_and_application(data=data, named=ctx.application)
        physician_areas: set[int] | None = None
        covering: dict[str, Application] = {}
        for index, code in enumerate(codes):
            # R-CAT-6 / R-APP-7: the drug of an application is the generic name in one dosage form
            generic, form = drugs[code].generic_name, drugs[code].dosage_form
            if (generic, form) in covering:
                continue
            found = application if (application is not None and application.generic_name == generic
                                    and application.dosage_form in ("", form)
                                    and application.covers(issued_on)) else None
            if found is None:
                found = application_covering(person=person, generic_name=generic, dosage_form=form, on=issued_on)
            if found is None:
                raise ApplicationError("no_valid_application",
                                       f"参保人在 {issued_on} 没有 {generic}（{form}）的已通过且在有效期内的待遇申请"
                                       "（R-APP-1；不同剂型是不同药品，R-CAT-6）",
                                       fields={f"items.{index}.drug_code": ["无有效待遇申请"]})
            if found.manufacturer and found.manufacturer != drugs[code].manufacturer:
                raise ApplicationError("manufacturer_switch_required",
                                       f"申请 {found.number} 记录的生产企业为“{found.manufacturer}”，更换为"
                                       f"“{drugs[code].manufacturer}”须责任医师确定、医疗机构确认后生效（R-CAT-6）",
                                       fields={f"items.{index}.drug_code": ["生产企业未经确认更换"]})
            if found is application:
                area_ok = ctx.physician_covers_application_area
            else:
                if physician_areas is None:
                    physician_areas = set(physician.therapeutic_areas.values_list("pk", flat=True))
                area_ok = found.therapeutic_area_id in physician_areas
            if not area_ok:
                raise ApplicationError("therapeutic_area_mismatch",
                                       f"医师 {physician.name} 的治疗领域与申请的治疗领域（{found.therapeutic_area}）不一致（R-APP-8）",
                                       fields={"physician_code": ["治疗领域不一致"]})
            covering[(generic, form)] = found
        application = application if application is not None and application in covering.values() else \
            next(iter(covering.values()))
    else:
        if not data.patient:
            raise ApplicationError("invalid", "住院处方须提供参保人信息（patient）", fields={"patient": ["必填"]})
        person = None

    delivery = _delivery_for(data=data, drugs=[drugs[c] for c in codes])
    validity = ctx.validity_days
    prescription = Prescription(
        institution=institution, serial_no=data.serial_no, application=application, person=person,
        physician=physician, pharmacy=pharmacy, issued_at=data.issued_at, long_term=data.long_term,
        care_setting=data.care_setting, delivery=delivery, signature=data.signature,
        expires_at=data.issued_at + dt.timedelta(days=validity), content_hash=content_hash, uploaded_by=user,
        status_changed_at=now,
    )
    try:
        with transaction.atomic():
            if person is None:
                prescription.person = _person_from_patient(data.patient, actor=user)
            prescription.save(force_insert=True)
            PrescriptionItem.objects.bulk_create([
                PrescriptionItem(prescription=prescription, drug=drugs[code], quantity=item.quantity,
                                 days_supply=item.days_supply) for code, item in zip(codes, data.items)
            ])
            record_event(subject=prescription, action=EventAction.PRESCRIPTION_UPLOADED, actor=user,
                         to_status=prescription.status, data={"serial_no": data.serial_no, "pharmacy": pharmacy.code})
    except IntegrityError:
        # uploaded concurrently with the same serial number: the constraint decided, answer as R-RX-3
        existing = Prescription.objects.filter(institution=institution, serial_no=data.serial_no).first()
        if existing is None:
            raise
        return _replay_or_conflict(existing, content_hash), False
    return prescription, True


def _outpatient_person_and_application(*, data: UploadData, named: Application | None
                                       ) -> tuple[InsuredPerson, Application | None]:
    """The patient and the application named in the upload (``named``: read with it by ``upload_context``), or
    the patient by ID number when no application is named."""
    if data.application is not None:
        if named is None:
            raise ApplicationError("no_valid_application", f"待遇申请 {data.application} 不存在",
                                   fields={"application": ["申请不存在"]})
        return named.person, named
    if data.patient and data.patient.get("id_number"):
        person = InsuredPerson.objects.filter(id_number=str(data.patient["id_number"]).strip().upper()).first()
        if person is None:
            raise ApplicationError("no_valid_application", "该参保人没有待遇申请（R-APP-1）",
                                   fields={"patient.id_number": ["无待遇申请"]})
        return person, None
    raise ApplicationError("invalid", "门诊处方须填写待遇申请（application）", fields={"application": ["必填"]})


def _person_from_patient(patient: dict, *, actor) -> InsuredPerson:
    return insured_person_upsert(
        name=patient.get("name", ""), id_number=str(patient.get("id_number", "")),
        insurance_type=patient.get("insurance_type", ""), insured_region_code=str(patient.get("insured_region", "")),
        phone=patient.get("phone", "") or "", card_number=patient.get("card_number", "") or "",
        employer=patient.get("employer", "") or "", sex=patient.get("sex"), age=patient.get("age"), actor=actor,
    )


def _delivery_for(*, data: UploadData, drugs: list[Drug]) -> str:
    """R-RX-7: inpatient prescriptions go to the ward; injections to the treating hospital; otherwise the patient
    picks up (or the hospital names delivery to itself)."""
    if data.care_setting == CareSetting.INPATIENT:
        required = Delivery.WARD
    elif any(d.route == Drug.Route.INJECTION for d in drugs):
        required = Delivery.HOSPITAL
    else:
        if data.delivery in ("", Delivery.PICKUP, Delivery.HOSPITAL):
            return data.delivery or Delivery.PICKUP
        raise ApplicationError("invalid", "门诊口服/外用药处方的配送方式应为 pickup 或 hospital",
                               fields={"delivery": ["取值无效"]})
    if data.delivery and data.delivery != required:
        raise ApplicationError("invalid", f"该处方的配送方式应为 {required}（R-RX-7）", fields={"delivery": [f"应为 {required}"]})
    return required


# =================================================================================================================
# Hospital and pharmacy state changes (R-RX-4, R-RX-6)
# =================================================================================================================

def _is_expired(prescription: Prescription, now: dt.datetime) -> bool:
    return prescription.status == Prescription.Status.EXPIRED or (
        prescription.status == Prescription.Status.FLOWED and prescription.expires_at <= now)


def _lock(prescription: Prescription) -> Prescription:
    return Prescription.objects.select_for_update().get(pk=prescription.pk)


@transaction.atomic
def prescription_cancel(*, prescription: Prescription, user, reason: str,
                        now: dt.datetime) -> Prescription:
    """The hospital withdraws a prescription before it is dispensed, with a reason (R-RX-6)."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("invalid", "请填写撤销原因", fields={"reason": ["必填"]})
    prescription = _lock(prescription)
    if prescription.status != Prescription.Status.FLOWED or _is_expired(prescription, now):
        raise ApplicationError("prescription_not_cancellable",
                               f"处方当前状态为{_status_label(prescription, now)}，不能撤销", status=409)
    prescription.status, prescription.cancel_reason, prescription.status_changed_at = (
        Prescription.Status.CANCELLED, reason, now)
    prescription.save(update_fields=["status", "cancel_reason", "status_changed_at"])
    record_event(subject=prescription, action=EventAction.PRESCRIPTION_CANCELLED, actor=user, from_status="flowed",
                 to_status=prescription.status, reason=reason)
    return prescription


@transaction.atomic
def prescription_decline(*, prescription: Prescription, user, reason: str, note: str = "",
                         now: dt.datetime) -> Prescription:
    """The pharmacy declines a prescription that flowed to it, with a reason from the fixed list (R-RX-6)."""
    if reason not in Prescription.DeclineReason.values:
        raise ApplicationError("invalid", "拒配原因须从固定列表中选择",
                               fields={"reason": [f"可选：{', '.join(Prescription.DeclineReason.values)}"]})
    prescription = _lock(prescription)
    if prescription.status != Prescription.Status.FLOWED or _is_expired(prescription, now):
        raise ApplicationError("prescription_not_dispensable",
                               f"处方当前状态为{_status_label(prescription, now)}，不能拒配", status=409)
    prescription.status, prescription.decline_reason, prescription.decline_note = (
        Prescription.Status.DECLINED, reason, (note or "").strip()[:255])
    prescription.status_changed_at = now
    prescription.save(update_fields=["status", "decline_reason", "decline_note", "status_changed_at"])
    record_event(subject=prescription, action=EventAction.PRESCRIPTION_DECLINED, actor=user, from_status="flowed",
                 to_status=prescription.status, reason=Prescription.DeclineReason(reason).label,
                 data={"reason": reason, "note": prescription.decline_note})
    return prescription


def _status_label(prescription: Prescription, now) -> str:
    if _is_expired(prescription, now):
        return "“已过期”"
    return f"“{prescription.get_status_display()}”"


@transaction.atomic
def prescriptions_mark_downloaded(*, user, prescription_ids: list[int], now: dt.datetime) -> int:
    """R-RX-6: the hospital sees when the pharmacy first downloaded a prescription. Only the pharmacy's own
    download counts; later downloads keep the first time. Each first download writes a
    ``prescription_downloaded`` event (R-SEC-3), set-based."""
    if not getattr(user, "is_pharmacy", False) or not prescription_ids:
        return 0
    first = list(Prescription.objects.select_for_update().filter(
        pk__in=prescription_ids, pharmacy_id=user.pharmacy_id, downloaded_at__isnull=True).values_list("pk", flat=True))
    if not first:
        return 0
    count = Prescription.objects.filter(pk__in=first).update(downloaded_at=now)
    ct = ContentType.objects.get_for_model(Prescription)
    Event.objects.bulk_create([Event(content_type=ct, object_id=str(pk), action=EventAction.PRESCRIPTION_DOWNLOADED,
                                     actor=user, data={"downloaded_at": now.isoformat()}) for pk in first])
    return count


@transaction.atomic
def prescriptions_expire_due(*, now: dt.datetime) -> int:
    """R-RX-4: flowed prescriptions past their validity become expired, with an event each (set-based)."""
    due = list(Prescription.objects.select_for_update(skip_locked=True)
               .filter(status=Prescription.Status.FLOWED, expires_at__lte=now).values_list("pk", flat=True)[:5000])
    if not due:
        return 0
    count = Prescription.objects.filter(pk__in=due, status=Prescription.Status.FLOWED).update(
        status=Prescription.Status.EXPIRED, status_changed_at=now)
    ct = ContentType.objects.get_for_model(Prescription)
    Event.objects.bulk_create([Event(content_type=ct, object_id=str(pk), action=EventAction.PRESCRIPTION_EXPIRED,
                                     from_status="flowed", to_status="expired", reason="超过处方有效期（R-RX-4）")
                               for pk in due])
    return count


# =================================================================================================================
# Dispensing (R-RX-5, R-RX-7) and the bookkeeping of R-PAY-3..5
# =================================================================================================================

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
    if prescription.status != Prescription.Status.FLOWED or _is_expired(prescription, now) or \
            dispensed_at > prescription.expires_at:
        raise ApplicationError("prescription_not_dispensable",
                               f"处方当前状态为{_status_label(prescription, now)}，不能配药", status=409)
    if dispensed_at < prescription.issued_at:
        raise ApplicationError("invalid", "配药时间早于处方开具时间", fields={"dispensed_at": ["早于开具时间"]})
    if dispensed_at > now + dt.timedelta(minutes=10):
        raise ApplicationError("invalid", "配药时间不能晚于当前时间", fields={"dispensed_at": ["晚于当前时间"]})
    if not prescription.pharmacy.is_active:
        raise ApplicationError("pharmacy_not_designated", "本药店当前不是有效的定点零售药店，不能配药")
    if not items:
        raise ApplicationError("invalid", "请至少填写一行配药明细", fields={"items": ["必填"]})

    day = _local_day(dispensed_at)
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
    usage = engine.YearUsage(current.deductible_met, current.fund_paid) if current else engine.YearUsage()
    return _compute(plan, usage)


_USAGE_MONEY = DbValue(PatientYearUsage, "fund_paid")  # SQLite returns numbers, PostgreSQL Decimals


def _locked_usage(*, person_id: int, year: int, now: dt.datetime) -> PatientYearUsage:
    """The patient's accumulator for ``year`` under a row lock, created first if missing, in one statement:
    ``INSERT … ON CONFLICT (person, year) DO UPDATE`` either inserts the row or locks the existing one (waiting for
    a concurrent holder and then seeing its committed figures), and returns it. The unique constraint decides a
    creation race."""
    from django.db import connection

    table = PatientYearUsage._meta.db_table
    sql = (f"INSERT INTO {table} (person_id, year, deductible_met, fund_paid, dispensing_count, updated_at) "
           f"VALUES (%s, %s, 0, 0, 0, %s) ON CONFLICT (person_id, year) "
           f"DO UPDATE SET dispensing_count = {table}.dispensing_count "
           f"RETURNING id, deductible_met, fund_paid, dispensing_count")
    with connection.cursor() as cursor:
        execute_hot(cursor, "rx_usage_lock", sql, [person_id, year, now])
        pk, deductible_met, fund_paid, count = cursor.fetchone()
    usage = PatientYearUsage(pk=pk, person_id=person_id, year=year, dispensing_count=count,
                             deductible_met=_USAGE_MONEY.convert(deductible_met, connection),
                             fund_paid=_USAGE_MONEY.convert(fund_paid, connection))
    usage._state.adding, usage._state.db = False, connection.alias
    return usage


def _usage_add(*, usage: PatientYearUsage, deductible: Decimal, fund: Decimal, count: int, now: dt.datetime) -> None:
    """Add to the locked accumulator (``_locked_usage``) in SQL, and to ``usage`` as the caller sees it."""
    PatientYearUsage.objects.filter(pk=usage.pk).update(
        deductible_met=F("deductible_met") + deductible, fund_paid=F("fund_paid") + fund,
        dispensing_count=F("dispensing_count") + count, updated_at=now)
    usage.deductible_met += deductible
    usage.fund_paid += fund
    usage.dispensing_count += count


def settlement_period(*, day: dt.date, organisations: list) -> dt.date:
    """The settlement month a dispensing or reversal counts in: the month of ``day``, or the next month whose
    statement is not yet confirmed (R-SET-1: a confirmed statement is locked, later entries go to the next month).
    The one place that asks the settlement app, through ``hooks.period_is_locked``."""
    period = day.replace(day=1)
    for _ in range(120):
        if not any(hooks.period_is_locked.call(organisation=o, period=period) for o in organisations):
            return period
        period = next_period(period)
    return period


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

    context = prescription_for_dispensing(user=user, pk=prescription_id, day=_local_day(dispensed_at))
    if context is None:
        raise Http404("prescription")
    locked = context.prescription
    plan = _plan(prescription=locked, dispensed_at=dispensed_at, items=items, require_codes=True, now=now,
                 prescribed_items=context.items, standards_by_id=context.standards)
    person = locked.person
    usage_row = _locked_usage(person_id=person.pk, year=plan.year, now=now)
    result = _compute(plan, engine.YearUsage(usage_row.deductible_met, usage_row.fund_paid))

    day = _local_day(dispensed_at)
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
        DispensingLine(dispensing=dispensing, drug=drug, quantity=r.quantity, unit_price=r.unit_price,
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
    record_event(subject=dispensing, action=EventAction.DISPENSED, actor=user, to_status=dispensing.kind,
                 data={"prescription": locked.pk, "total": str(result.total), "fund": str(result.fund_payment)})
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

    usage_row = _locked_usage(person_id=original.person_id, year=_local_day(original.dispensed_at).year, now=now)
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
    DispensingLine.objects.bulk_create([
        DispensingLine(dispensing=reversal, drug_id=l.drug_id, quantity=-l.quantity, unit_price=l.unit_price,
                       line_total=-l.line_total, payment_standard=l.payment_standard,
                       first_self_pay_ratio=l.first_self_pay_ratio, reimbursement_ratio=l.reimbursement_ratio,
                       first_self_pay=-l.first_self_pay, in_scope=-l.in_scope, fund_payment=-l.fund_payment,
                       personal_payment=-l.personal_payment)
        for l in original.lines.order_by("id")
    ])
    TraceCode.objects.filter(line__dispensing=original, released_at__isnull=True).update(
        released_at=now, released_by=reversal)

    PatientYearUsage.objects.filter(pk=usage_row.pk).update(
        deductible_met=F("deductible_met") - original.deductible, fund_paid=F("fund_paid") - original.fund_payment,
        dispensing_count=F("dispensing_count") - 1, updated_at=now)

    prescription = original.prescription
    prescription.status, prescription.status_changed_at = Prescription.Status.FLOWED, now
    prescription.save(update_fields=["status", "status_changed_at"])
    record_event(subject=reversal, action=EventAction.DISPENSING_REVERSED, actor=user, to_status="reversal",
                 reason=(reason or "").strip(), data={"reverses": original.pk, "fund": str(-original.fund_payment)})
    record_event(subject=prescription, action=EventAction.PRESCRIPTION_DISPENSING_REVERSED, actor=user,
                 from_status="dispensed", to_status="flowed", reason=(reason or "").strip())
    return reversal


# =================================================================================================================
# Stock (R-PHA-3)
# =================================================================================================================

#: the event each kind of stock movement writes
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
                 data={"drug": drug.code, "quantity": quantity, "unit_price": str(unit_price)})
    return movement


# =================================================================================================================
# Cross-region filing and manual claims (R-PAY-5)
# =================================================================================================================

@transaction.atomic
def cross_region_filing_create(*, user, person: InsuredPerson, treatment_region, filing_no: str,
                               valid_from: dt.date, valid_until: dt.date | None,
                               direct_settlement: bool = True) -> CrossRegionFiling:
    """R-PAY-5: granted by the bureau of the person's *insured* region (经参保地医疗保障经办机构备案同意), naming the
    treatment region outside it."""
    if not (user.is_superuser or (user.role in BUREAU_ROLES and user.region_id
                                  and person.insured_region.code.startswith(user.region.descendant_prefix))):
        raise ApplicationError("not_insured_region_bureau",
                               "异地就医备案须由参保人参保地的经办机构办理（R-PAY-5）", status=403)
    filing_no = (filing_no or "").strip()
    if not filing_no:
        raise ApplicationError("invalid", "请填写备案号", fields={"filing_no": ["必填"]})
    if CrossRegionFiling.objects.filter(filing_no=filing_no).exists():
        raise ApplicationError("invalid", f"备案号 {filing_no} 已存在", fields={"filing_no": ["已存在"]})
    if valid_until is not None and valid_until < valid_from:
        raise ApplicationError("invalid", "有效期止早于有效期起", fields={"valid_until": ["早于有效期起"]})
    if person.insured_region.code[:4] == treatment_region.code[:4]:
        raise ApplicationError("invalid", "参保地与就医地属同一统筹区，无需异地备案", fields={"treatment_region": ["同一统筹区"]})
    filing = CrossRegionFiling.objects.create(
        person=person, insured_region=person.insured_region, treatment_region=treatment_region, filing_no=filing_no,
        valid_from=valid_from, valid_until=valid_until, direct_settlement=direct_settlement, recorded_by=user)
    record_event(subject=filing, action=EventAction.CROSS_REGION_FILING_CREATED, actor=user,
                 data={"person": person.pk, "treatment_region": treatment_region.code})
    return filing


@dataclass
class ClaimLine:
    drug_code: str
    quantity: int
    unit_price: Decimal


@transaction.atomic
def manual_claim_record(*, user, person: InsuredPerson, invoice_no: str, invoice_date: dt.date, provider_name: str,
                        lines: list[ClaimLine], care_setting: str = CareSetting.OUTPATIENT,
                        now: dt.datetime, dispensing: Dispensing | None = None) -> ManualClaim:
    """R-PAY-5 手工报销: the bureau records the invoice; the claim is computed by the same engine (R-PAY-3) under
    the insured region's policy on the invoice date and counts toward the patient's year (locked accumulator).
    The price is settled up to the payment standard in force on the invoice date (R-RX-5 / 就低结算)."""
    invoice_no, provider_name = (invoice_no or "").strip(), (provider_name or "").strip()
    if not invoice_no or not provider_name:
        raise ApplicationError("invalid", "请填写发票号和开票机构",
                               fields={k: ["必填"] for k, v in (("invoice_no", invoice_no), ("provider_name", provider_name)) if not v})
    if invoice_date > timezone.localdate(now):
        raise ApplicationError("invalid", "发票日期不能晚于今天", fields={"invoice_date": ["晚于今天"]})
    if not lines:
        raise ApplicationError("invalid", "请至少填写一行发票明细", fields={"lines": ["必填"]})
    if ManualClaim.objects.filter(provider_name=provider_name, invoice_no=invoice_no).exists():
        raise ApplicationError("duplicate_claim", f"发票 {invoice_no} 已报销过", fields={"invoice_no": ["已报销"]},
                               status=409)
    if dispensing is not None:
        if dispensing.person_id != person.pk or dispensing.settlement != Dispensing.Settlement.SELF_PAID or \
                dispensing.kind != Dispensing.Kind.NORMAL or dispensing.reversals.exists():
            raise ApplicationError("invalid", "所选配药记录不是该参保人的全额自付配药", fields={"dispensing": ["不可报销"]})
    drugs = {d.code: d for d in Drug.objects.filter(code__in=[l.drug_code.strip().upper() for l in lines])}
    standards = payment_standards_on(drugs=list(drugs.values()), on=invoice_date)
    inputs, snapshot, not_listed, bad_amounts = [], [], {}, {}
    for index, line in enumerate(lines):  # every line is checked so that all their errors are reported at once
        drug = drugs.get(line.drug_code.strip().upper())
        if drug is None or not drug.is_listed_on(invoice_date) or drug.pk not in standards:
            not_listed[f"lines.{index}.drug_code"] = [f"{line.drug_code} 在 {invoice_date} 不在目录内"]
        if line.quantity <= 0 or line.unit_price <= 0:
            bad_amounts[f"lines.{index}"] = ["数量和单价应大于0"]
        if not_listed or bad_amounts:
            continue
        price = min(line.unit_price, standards[drug.pk])
        inputs.append(engine.LineInput(line.quantity, price, drug.first_self_pay_ratio, standards[drug.pk]))
        snapshot.append({"drug_code": drug.code, "generic_name": drug.generic_name, "quantity": line.quantity,
                         "invoice_unit_price": str(line.unit_price), "unit_price": str(engine.money(price)),
                         "payment_standard": str(standards[drug.pk]),
                         "first_self_pay_ratio": str(drug.first_self_pay_ratio)})
    if not not_listed and not bad_amounts:
        # R-PAY-5 / R-APP-1: only for a drug covered by an approved, unexpired application on the invoice date

        for index, line in enumerate(lines):
            drug = drugs[line.drug_code.strip().upper()]
            if care_setting == CareSetting.OUTPATIENT and application_covering(
                    person=person, generic_name=drug.generic_name, dosage_form=drug.dosage_form,
                    on=invoice_date) is None:
                raise ApplicationError("no_valid_application",
                                       f"参保人在 {invoice_date} 没有 {drug.generic_name}（{drug.dosage_form}）的已通过且在有效期内的"
                                       "待遇申请，不能手工报销（R-PAY-5、R-APP-1）",
                                       fields={f"lines.{index}.drug_code": ["无有效待遇申请"]})
    if not_listed:
        first = next(iter(not_listed.values()))[0]
        raise ApplicationError("drug_not_listed", f"药品 {first}",
                               fields={**not_listed, **bad_amounts})
    if bad_amounts:
        raise ApplicationError("invalid", "数量和单价应大于0", fields=bad_amounts)
    policy = policy_for(region=person.insured_region, on=invoice_date)
    ins = person.insurance_type
    terms = engine.PolicyTerms(policy.deductible(care_setting=care_setting, insurance_type=ins),
                               policy.ratio(care_setting=care_setting, insurance_type=ins),
                               policy.annual_cap(insurance_type=ins))
    usage_row = _locked_usage(person_id=person.pk, year=invoice_date.year, now=now)
    result = engine.settle(lines=inputs, terms=terms,
                           usage=engine.YearUsage(usage_row.deductible_met, usage_row.fund_paid))
    for item, r in zip(snapshot, result.lines):
        item.update(line_total=str(r.line_total), fund_payment=str(r.fund_payment))
    claim = ManualClaim.objects.create(
        person=person, region=user.region or person.insured_region, insured_region=person.insured_region,
        insurance_type=ins, care_setting=care_setting, policy=policy, dispensing=dispensing, invoice_no=invoice_no,
        invoice_date=invoice_date, provider_name=provider_name, lines=snapshot,
        deductible_met_before=usage_row.deductible_met, fund_paid_before=usage_row.fund_paid, recorded_by=user,
        **result.figures())
    usage_row.deductible_met += result.deductible
    usage_row.fund_paid += result.fund_payment
    usage_row.save(update_fields=["deductible_met", "fund_paid", "updated_at"])
    record_event(subject=claim, action=EventAction.MANUAL_CLAIM_RECORDED, actor=user,
                 data={"invoice_no": invoice_no, "fund": str(result.fund_payment)})
    return claim
