"""The hospital side of an e-prescription (R-RX-1..4): upload (replay/conflict by serial number, R-RX-3), cancel,
the first download by the pharmacy (R-RX-6) and expiry."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from django.utils import timezone
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction

from apps.applications.models import Application, InsuredPerson
from apps.applications.selectors import application_covering
from apps.applications.services import insured_person_upsert
from apps.catalogue.models import Drug
from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.core.models import Event
from apps.policies.models import CareSetting
from apps.prescriptions.models import Delivery, Prescription, PrescriptionItem
from apps.prescriptions.services.common import is_expired, local_day, lock_prescription, status_label
from apps.prescriptions.sql_reads import upload_context


MAX_DAYS_SUPPLY = 30  # R-RX-2, 001 第三十三条


MAX_DAYS_SUPPLY_LONG_TERM = 84  # 长期处方: at most 12 weeks


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
    issued_on = local_day(data.issued_at)
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
        person, application = _outpatient_person_and_application(data=data, named=ctx.application,
                                                                 institution_id=institution.pk)
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
                found = application_covering(person=person, generic_name=generic, dosage_form=form, on=issued_on,
                                             institution_id=institution.pk)
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
                prescription.person = _person_from_patient(data.patient, actor=user, today=issued_on, now=now)
            prescription.save(force_insert=True)
            PrescriptionItem.objects.bulk_create([
                PrescriptionItem(prescription=prescription, drug=drugs[code], quantity=item.quantity,
                                 days_supply=item.days_supply) for code, item in zip(codes, data.items)
            ])
            record_event(now=now, subject=prescription, action=EventAction.PRESCRIPTION_UPLOADED, actor=user,
                         to_status=prescription.status, data={"serial_no": data.serial_no, "pharmacy": pharmacy.code})
    except IntegrityError:
        # uploaded concurrently with the same serial number: the constraint decided, answer as R-RX-3
        existing = Prescription.objects.filter(institution=institution, serial_no=data.serial_no).first()
        if existing is None:
            raise
        return _replay_or_conflict(existing, content_hash), False
    return prescription, True


def _outpatient_person_and_application(*, data: UploadData, named: Application | None, institution_id: int
                                       ) -> tuple[InsuredPerson, Application | None]:
    """The patient and the application named in the upload (``named``: read with it by ``upload_context``, only
    when this institution filed it), or the patient by ID number when no application is named — only a patient
    with an application filed by this institution. Another institution's application, or a patient known only
    elsewhere, is the same error as a missing one (R-SEC-1: nothing to enumerate)."""
    if data.application is not None:
        if named is None:
            raise ApplicationError("no_valid_application", "本机构没有该待遇申请",
                                   fields={"application": ["申请不存在"]})
        return named.person, named
    if data.patient and data.patient.get("id_number"):
        person = (InsuredPerson.objects
                  .filter(id_number=str(data.patient["id_number"]).strip().upper(),
                          applications__institution_id=institution_id)
                  .distinct().first())
        if person is None:
            raise ApplicationError("no_valid_application", "该参保人在本机构没有待遇申请（R-APP-1）",
                                   fields={"patient.id_number": ["无待遇申请"]})
        return person, None
    raise ApplicationError("invalid", "门诊处方须填写待遇申请（application）", fields={"application": ["必填"]})


def _person_from_patient(patient: dict, *, actor, today: dt.date, now: dt.datetime) -> InsuredPerson:
    return insured_person_upsert(
        name=patient.get("name", ""), id_number=str(patient.get("id_number", "")),
        insurance_type=patient.get("insurance_type", ""), insured_region_code=str(patient.get("insured_region", "")),
        phone=patient.get("phone", "") or "", card_number=patient.get("card_number", "") or "",
        employer=patient.get("employer", "") or "", sex=patient.get("sex"), age=patient.get("age"), actor=actor,
        today=today, now=now)


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


@transaction.atomic
def prescription_cancel(*, prescription: Prescription, user, reason: str,
                        now: dt.datetime) -> Prescription:
    """The hospital withdraws a prescription before it is dispensed, with a reason (R-RX-6)."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("invalid", "请填写撤销原因", fields={"reason": ["必填"]})
    prescription = lock_prescription(prescription)
    if prescription.status != Prescription.Status.FLOWED or is_expired(prescription, now):
        raise ApplicationError("prescription_not_cancellable",
                               f"处方当前状态为{status_label(prescription, now)}，不能撤销", status=409)
    prescription.status, prescription.cancel_reason, prescription.status_changed_at = (
        Prescription.Status.CANCELLED, reason, now)
    prescription.save(update_fields=["status", "cancel_reason", "status_changed_at"])
    record_event(subject=prescription, action=EventAction.PRESCRIPTION_CANCELLED, actor=user, from_status="flowed",
                 to_status=prescription.status, reason=reason, now=now)
    return prescription


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
