"""Writes of treatment applications: insured persons (R-APP-2/3), submission, the review chain (R-APP-4),
deadlines (R-APP-5), validity and expiry (R-APP-6), termination on drug withdrawal (R-CAT-5), documents,
revealing personal numbers (R-SEC-2) and the public lookup (R-APP-9)."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.roles import BUREAU_ROLES, Role
from apps.applications.models import (
    Application,
    ApplicationDocument,
    ApplicationReview,
    InsuredPerson,
    InsuredPersonChange,
    ManufacturerSwitch,
    OtherFundUse,
    Stage,
    HOSPITAL_STAGES,
)
from apps.applications import hooks as applications_hooks
from apps.applications.selectors import (
    DECIDABLE_STATUSES,
    OPEN_STATUSES,
    stages_decided_by,
    user_holds_stage_duty,
    user_owns_stage,
)
from apps.catalogue.models import Drug
from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.core.idnumber import parse_id_number
from apps.core.models import DesignationStatus, Region
from apps.core.selectors import region_settings_for
from apps.core.working_days import add_working_days, is_provisional
from apps.pharmacies.models import Pharmacy
from apps.physicians.models import Physician
from apps.policies.models import InsuranceType

logger = logging.getLogger("apps.applications")

STAGE_ORDER = [s.value for s in Stage]

# Supporting documents (R-APP-2): type by content, size-limited.
DOCUMENT_MAX_BYTES = getattr(settings, "APPLICATION_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)
_MAGIC = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
)

# Public lookup throttling (R-APP-9): failures per IP and per application number within the window.
LOOKUP_MAX_FAILURES = getattr(settings, "APPLICATION_LOOKUP_MAX_FAILURES", 5)
LOOKUP_WINDOW_SECONDS = getattr(settings, "APPLICATION_LOOKUP_WINDOW_SECONDS", 15 * 60)


# --------------------------------------------------------------------------------------------------------------
# Insured persons
# --------------------------------------------------------------------------------------------------------------

@transaction.atomic
def insured_person_upsert(*, name: str, id_number: str, insurance_type: str, insured_region_code: str,
                          phone: str = "", card_number: str = "", employer: str = "", sex: str | None = None,
                          age: int | None = None, today: dt.date, actor=None,
                          now: dt.datetime | None = None) -> InsuredPerson:
    """The insured person with this ID number, created when new (R-APP-2). R-APP-3: the ID number must be valid
    (GB 11643) and, where sex or age are entered, agree with them.

    An existing person's identity and insurance facts are never overwritten by a hospital (R-SEC-1, R-SEC-3): a
    hospital of another pooling region leaves them as stored; a hospital of the person's own pooling region
    proposes the change (``InsuredPersonChange``, pending) for the insured region's bureau to approve
    (``insured_person_change_approve``). Bureau users and system imports (no actor) change them directly, with
    the event row."""
    info = parse_id_number(id_number, today=today)
    if sex is not None and sex != "" and sex != info.sex:
        raise ApplicationError("invalid_id_number", "填写的性别与身份证号不一致",
                               fields={"sex": ["与身份证号不一致"], "id_number": ["与填写的性别不一致"]})
    if age is not None and age != "" and int(age) != info.age_on(today):
        raise ApplicationError("invalid_id_number", f"填写的年龄与身份证号不一致（按身份证号应为 {info.age_on(today)} 岁）",
                               fields={"age": ["与身份证号不一致"], "id_number": ["与填写的年龄不一致"]})
    name = (name or "").strip()
    if not name:
        raise ApplicationError("invalid", "请填写参保人姓名", fields={"name": ["必填"]})
    if insurance_type not in InsuranceType.values:
        raise ApplicationError("invalid", "参保类型应为职工医保（employee）或城乡居民医保（resident）",
                               fields={"insurance_type": ["取值无效"]})
    region = Region.objects.filter(code=(insured_region_code or "").strip()).first()
    if region is None:
        raise ApplicationError("invalid", f"参保地区划代码 {insured_region_code} 不存在",
                               fields={"insured_region": ["区划代码不存在"]})
    values = {"name": name, "sex": info.sex, "birth_date": info.birth_date, "insurance_type": insurance_type,
              "insured_region": region, "phone": (phone or "").strip(), "card_number": (card_number or "").strip(),
              "employer": (employer or "").strip()}
    person = InsuredPerson.objects.select_for_update().filter(id_number=info.number).first()
    if person is None:
        try:
            with transaction.atomic():
                person = InsuredPerson.objects.create(id_number=info.number, **values)
        except IntegrityError:  # created concurrently: update it instead
            person = InsuredPerson.objects.select_for_update().get(id_number=info.number)
        else:
            record_event(subject=person, action=EventAction.INSURED_PERSON_CREATED, actor=actor, now=now)
            return person
    changed = [k for k, v in values.items() if getattr(person, k) != v and (v != "" or k in ("name",))]
    if not changed:
        return person
    if getattr(actor, "role", None) == Role.HOSPITAL:
        institution = actor.institution
        if institution is not None and same_pooling_area(institution.region, person.insured_region):
            _insured_person_change_propose(person=person, values={k: values[k] for k in changed}, actor=actor,
                                           institution=institution,
                                           now=now or timezone.make_aware(dt.datetime.combine(today, dt.time.min)))
        return person
    for key in changed:
        setattr(person, key, values[key])
    person.save(update_fields=[*changed, "updated_at"])
    record_event(subject=person, action=EventAction.INSURED_PERSON_UPDATED, actor=actor, data={"fields": changed},
                 now=now)
    return person


def same_pooling_area(a: Region, b: Region) -> bool:
    """Two regions of one pooling area (统筹区: the city, the first four digits of the code; a province-level code
    covers its whole province)."""
    if a is None or b is None:
        return False
    pa = a.code[:2] if a.code.endswith("0000") else a.code[:4]
    pb = b.code[:2] if b.code.endswith("0000") else b.code[:4]
    return pa.startswith(pb) or pb.startswith(pa)


def _fact_value(value):
    return value.code if isinstance(value, Region) else value


def _insured_person_change_propose(*, person: InsuredPerson, values: dict, actor, institution,
                                   now: dt.datetime) -> InsuredPersonChange:
    """One pending change per person and institution: a later proposal replaces the earlier pending one."""
    before = {k: _fact_value(getattr(person, k)) for k in values}
    after = {k: _fact_value(v) for k, v in values.items()}
    change = (InsuredPersonChange.objects.select_for_update()
              .filter(person=person, institution=institution, status=InsuredPersonChange.Status.PENDING).first())
    if change is None:
        return InsuredPersonChange.objects.create(person=person, institution=institution, before=before,
                                                  after=after, requested_by=actor, requested_at=now)
    change.before, change.after, change.requested_by, change.requested_at = before, after, actor, now
    change.save(update_fields=["before", "after", "requested_by", "requested_at"])
    return change


def _check_change_reviewer(change: InsuredPersonChange, actor) -> None:
    if actor is None or not actor.is_authenticated:
        raise ApplicationError("permission_denied", "请先登录", status=403)
    if actor.is_superuser:
        return
    if actor.role not in BUREAU_ROLES or not actor.region_id or \
            not change.person.insured_region.code.startswith(actor.region.descendant_prefix):
        raise ApplicationError("not_found", "未找到该变更申请", status=404)


@transaction.atomic
def insured_person_change_approve(*, change: InsuredPersonChange, actor, now: dt.datetime,
                                  reason: str = "") -> InsuredPerson:
    """The insured region's bureau approves a proposed change: the facts are written with the event row."""
    change = InsuredPersonChange.objects.select_for_update().select_related("person__insured_region").get(pk=change.pk)
    _check_change_reviewer(change, actor)
    if change.status != InsuredPersonChange.Status.PENDING:
        raise ApplicationError("invalid_state", "该变更申请已处理", status=409)
    person = InsuredPerson.objects.select_for_update().get(pk=change.person_id)
    fields = []
    for key, value in change.after.items():
        if key == "insured_region":
            value = Region.objects.filter(code=value).first()
            if value is None:
                raise ApplicationError("invalid", "参保地区划代码不存在", fields={"insured_region": ["区划代码不存在"]})
        setattr(person, key, value)
        fields.append(key)
    person.save(update_fields=[*fields, "updated_at"])
    change.status, change.decided_by, change.decided_at, change.reason = (
        InsuredPersonChange.Status.APPROVED, actor, now, (reason or "").strip())
    change.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    record_event(subject=person, action=EventAction.INSURED_PERSON_UPDATED, actor=actor,
                 data={"fields": sorted(fields), "change": change.pk, "institution": change.institution_id}, now=now)
    return person


@transaction.atomic
def insured_person_change_reject(*, change: InsuredPersonChange, actor, now: dt.datetime,
                                 reason: str) -> InsuredPersonChange:
    change = InsuredPersonChange.objects.select_for_update().select_related("person__insured_region").get(pk=change.pk)
    _check_change_reviewer(change, actor)
    if change.status != InsuredPersonChange.Status.PENDING:
        raise ApplicationError("invalid_state", "该变更申请已处理", status=409)
    if not (reason or "").strip():
        raise ApplicationError("invalid", "请填写驳回理由", fields={"reason": ["必填"]})
    change.status, change.decided_by, change.decided_at, change.reason = (
        InsuredPersonChange.Status.REJECTED, actor, now, reason.strip())
    change.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    return change


# --------------------------------------------------------------------------------------------------------------
# Submission
# --------------------------------------------------------------------------------------------------------------

def _stages_for(region: Region) -> list[str]:
    """The region's enabled stages in chain order (R-APP-4); the bureau stage is never skipped."""
    configured = region_settings_for(region).review_stages or []
    stages = [s for s in STAGE_ORDER if s in configured]
    return stages or [Stage.BUREAU.value]


def stage_due_date(*, stage: str, received_on: dt.date, region: Region) -> dt.date:
    """R-APP-5: the bureau decides within ``bureau_review_days`` working days of receipt; the hospital stages
    within ``insurance_office_review_days`` (1 by default: 000 五(三); decision: the same limit applies to the
    physician and pharmacy-department stages, which the sources do not time separately)."""
    region_settings = region_settings_for(region)
    days = region_settings.bureau_review_days if stage == Stage.BUREAU else region_settings.insurance_office_review_days
    return add_working_days(received_on, days)


def _mark_provisional(application: Application) -> bool:
    """R-APP-5: the stage's due date is provisional when a year it spans has no official holiday arrangement."""
    application.stage_due_provisional = bool(
        application.stage_due_date and application.stage_received_on
        and is_provisional(application.stage_received_on, application.stage_due_date))
    return application.stage_due_provisional


def _new_number(day: dt.date) -> str:
    """A hard-to-guess application number: ``SQ`` + date + 6 random digits (R-APP-9)."""
    for _ in range(20):
        number = f"SQ{day:%Y%m%d}{secrets.randbelow(10**6):06d}"
        if not Application.objects.filter(number=number).exists():
            return number
    raise ApplicationError("number_exhausted", "申请编号生成失败，请重试", status=503)


def _drug_for_generic(generic_name: str, on: dt.date, dosage_form: str = "", manufacturer: str = "") -> Drug:
    """The listed product for the application's drug: one generic name in one dosage form (R-APP-7, R-CAT-6). The
    dosage form may be left out only when the generic is listed in one form; a named manufacturer must list a
    product of that pair."""
    products = list(Drug.objects.filter(generic_name=generic_name).select_related("therapeutic_area"))
    if not products:
        raise ApplicationError("drug_not_listed", f"药品目录中没有通用名为“{generic_name}”的药品",
                               fields={"generic_name": ["目录中不存在"]})
    listed = [d for d in products if d.is_listed_on(on)]
    if not listed:
        raise ApplicationError("drug_not_listed", f"“{generic_name}”在 {on} 不在目录有效期内或已调出",
                               fields={"generic_name": ["不在目录有效期内或已调出"]})
    forms = sorted({d.dosage_form for d in listed})
    if dosage_form:
        listed = [d for d in listed if d.dosage_form == dosage_form]
        if not listed:
            raise ApplicationError("drug_not_listed", f"“{generic_name}”在 {on} 没有剂型为“{dosage_form}”的在目录药品"
                                   f"（在目录剂型：{'、'.join(forms)}）", fields={"dosage_form": ["该剂型不在目录内"]})
    elif len(forms) > 1:
        raise ApplicationError("dosage_form_required", f"“{generic_name}”在目录中有多个剂型（{'、'.join(forms)}），"
                               "一个申请只覆盖一个剂型，请填写剂型（R-APP-7、R-CAT-6）", fields={"dosage_form": ["必填"]})
    if manufacturer:
        listed = [d for d in listed if d.manufacturer == manufacturer]
        if not listed:
            raise ApplicationError("drug_not_listed", f"“{generic_name}”（{forms[0] if len(forms) == 1 else dosage_form}）"
                                   f"没有“{manufacturer}”生产的在目录药品", fields={"manufacturer": ["该生产企业无在目录药品"]})
    return listed[0]


def _check_certifying(*, physician, institution) -> None:
    """R-DOC-2 / R-INS-2: where the institution's region splits the roles, only a certifying physician of a
    certifying institution signs an application's initial review."""
    if not region_settings_for(institution.region).role_split:
        return
    if institution.kind != institution.Kind.CERTIFYING:
        raise ApplicationError("physician_not_certifying",
                               f"本统筹区区分认定与诊治，{institution.name} 不是认定类机构，其医师不能签署待遇申请初审（R-INS-2）",
                               fields={"physician_code": ["所在机构不是认定类机构"]})
    if not physician.is_certifying:
        raise ApplicationError("physician_not_certifying",
                               f"本统筹区区分认定与诊治，{physician.name} 不是认定医师，不能签署待遇申请初审（R-DOC-2）",
                               fields={"physician_code": ["不是认定医师"]})


@transaction.atomic
def application_submit(*, actor, patient: dict, physician_code: str, generic_name: str, diagnosis_code: str,
                       diagnosis_name: str, usage: str, course_days: int, pharmacy_code: str = "",
                       dosage_form: str = "", manufacturer: str = "",
                       first_use_on: dt.date | None = None, now: dt.datetime) -> Application:
    """A hospital submits a treatment application for one generic drug (R-APP-2, R-APP-7). The chain starts at
    the first stage the insured region enables (R-APP-4) with its due date (R-APP-5)."""
    today = timezone.localdate(now)
    if actor.role != Role.HOSPITAL or not actor.institution_id:
        raise ApplicationError("permission_denied", "只有定点医疗机构可以提交待遇申请", status=403)
    institution = actor.institution
    if institution.status != DesignationStatus.ADMITTED:
        raise ApplicationError("institution_not_designated", "本机构不是有效的定点医疗机构，不能提交申请")
    generic_name = (generic_name or "").strip()
    if not generic_name:
        raise ApplicationError("invalid", "请填写药品通用名", fields={"generic_name": ["必填"]})
    for key, value in (("diagnosis_code", diagnosis_code), ("diagnosis_name", diagnosis_name), ("usage", usage)):
        if not (value or "").strip():
            raise ApplicationError("invalid", "请填写诊断编码、诊断名称和用法用量", fields={key: ["必填"]})
    if not course_days or int(course_days) <= 0:
        raise ApplicationError("invalid", "疗程天数应为正整数", fields={"course_days": ["应为正整数"]})

    person = insured_person_upsert(
        name=patient.get("name", ""), id_number=patient.get("id_number", ""),
        insurance_type=patient.get("insurance_type", ""), insured_region_code=patient.get("insured_region", ""),
        phone=patient.get("phone", ""), card_number=patient.get("card_number", ""),
        employer=patient.get("employer", ""), sex=patient.get("sex"), age=patient.get("age"), today=today,
        actor=actor, now=now,
    )

    physician = Physician.objects.filter(code=(physician_code or "").strip()).prefetch_related(
        "therapeutic_areas").first()
    if physician is None or physician.institution_id != institution.pk:
        raise ApplicationError("physician_not_filed", f"本机构没有编码为 {physician_code} 的责任医师",
                               fields={"physician_code": ["本机构无此医师"]})
    if not physician.is_active_on(today):
        raise ApplicationError("physician_not_filed", f"责任医师 {physician.name} 未备案或备案已失效（R-DOC-3）",
                               fields={"physician_code": ["未备案或备案已失效"]})
    _check_certifying(physician=physician, institution=institution)

    dosage_form, manufacturer = (dosage_form or "").strip(), (manufacturer or "").strip()
    drug = _drug_for_generic(generic_name, today, dosage_form, manufacturer)
    dosage_form = drug.dosage_form
    area = drug.therapeutic_area
    if area.pk not in {a.pk for a in physician.therapeutic_areas.all()}:
        raise ApplicationError("therapeutic_area_mismatch",
                               f"责任医师 {physician.name} 的治疗领域不包括“{area.name}”（R-APP-8）",
                               fields={"physician_code": ["治疗领域不符"]})

    pharmacy = None
    if (pharmacy_code or "").strip():
        pharmacy = Pharmacy.objects.filter(code=pharmacy_code.strip()).first()
        if pharmacy is None or pharmacy.status != DesignationStatus.ADMITTED:
            raise ApplicationError("pharmacy_not_designated", f"{pharmacy_code} 不是有效的定点零售药店",
                                   fields={"pharmacy_code": ["不是有效的定点药店"]})

    region_settings = region_settings_for(person.insured_region)
    if first_use_on is not None:
        if first_use_on > today:
            raise ApplicationError("invalid", "首次用药日期不能晚于今天", fields={"first_use_on": ["晚于今天"]})
        if first_use_on < today and not region_settings.filing_after_first_use:
            raise ApplicationError("filing_after_first_use_not_allowed",
                                   "参保地不允许先用药后备案（R-APP-10），请先申请后用药",
                                   fields={"first_use_on": ["参保地不允许先用药后备案"]})

    # R-APP-7: one application per generic; an open or still valid one for the same generic blocks a new one.
    existing = (Application.objects.select_for_update().filter(person=person, generic_name=generic_name)
                .filter(Q(dosage_form="") | Q(dosage_form=dosage_form))
                .filter(status__in=[*OPEN_STATUSES, Application.Status.APPROVED]).order_by("-valid_until").first())
    if existing is not None and (existing.is_open or (existing.valid_until and existing.valid_until >= today)):
        raise ApplicationError(
            "duplicate_application",
            f"该参保人已有“{generic_name}”（{dosage_form}）的申请 {existing.number}（{existing.get_status_display()}），"
            "同一通用名同一剂型更换生产企业无需重新申请（R-APP-7、R-CAT-6）",
            status=409, data={"existing": existing.number},
        )

    stages = _stages_for(person.insured_region)
    first = stages[0]
    application = Application.objects.create(
        number=_new_number(today), person=person, insured_region=person.insured_region, institution=institution,
        pharmacy=pharmacy, physician=physician, generic_name=generic_name, dosage_form=dosage_form,
        manufacturer=manufacturer, therapeutic_area=area,
        diagnosis_code=diagnosis_code.strip().upper(), diagnosis_name=diagnosis_name.strip(), usage=usage.strip(),
        course_days=int(course_days), first_use_on=first_use_on, patient_phone=person.phone,
        status=Application.Status.SUBMITTED, review_stages=stages, current_stage=first, stage_received_on=today,
        stage_due_date=stage_due_date(stage=first, received_on=today, region=person.insured_region),
        submitted_at=now, applied_on=today, created_by=actor,
    )
    if _mark_provisional(application):
        application.save(update_fields=["stage_due_provisional"])
    record_event(subject=application, action=EventAction.APPLICATION_SUBMITTED, actor=actor, to_status=application.status,
                 data={"number": application.number, "stage": first, "generic_name": generic_name}, now=now)
    return application


# --------------------------------------------------------------------------------------------------------------
# Review chain
# --------------------------------------------------------------------------------------------------------------

def default_valid_until(applied_on: dt.date) -> dt.date:
    """R-APP-6 decision: "two natural years" ends on 31 December of the year after the application year."""
    return dt.date(applied_on.year + 1, 12, 31)


def _lock(application: Application) -> Application:
    return Application.objects.select_for_update().select_related("insured_region", "institution").get(
        pk=application.pk)


def _check_stage_duty(*, actor, application: Application) -> None:
    """R-APP-4: a hospital stage is decided only by a holder of its duty (``stage_duty_required``), and one person
    never decides two stages of the same application (``same_reviewer``)."""
    stage = application.current_stage
    if stage in HOSPITAL_STAGES and not user_holds_stage_duty(actor, application):
        holder = "责任医师本人账号" if stage == Stage.PHYSICIAN else f"持有“{Stage(stage).label}”职责的人员"
        raise ApplicationError("stage_duty_required",
                               f"“{Stage(stage).label}”环节只能由{holder}审核（R-APP-4）", status=403)
    other = stages_decided_by(actor, application) - {stage}
    if other:
        labels = "、".join(str(Stage(s).label) for s in sorted(other, key=STAGE_ORDER.index))
        raise ApplicationError("same_reviewer",
                               f"您已审核本申请的“{labels}”环节，同一人不能审核同一申请的两个环节（R-APP-4）",
                               status=409)


#: the event each review decision writes
DECISION_EVENTS = {ApplicationReview.Decision.APPROVE: EventAction.APPLICATION_APPROVE,
                   ApplicationReview.Decision.REJECT: EventAction.APPLICATION_REJECT,
                   ApplicationReview.Decision.RETURN: EventAction.APPLICATION_RETURN}


@transaction.atomic
def application_decide(*, application: Application, actor, decision: str, opinion: str = "",
                       valid_until: dt.date | None = None, now: dt.datetime) -> Application:
    """Record the current stage's decision (R-APP-4): approve (to the next stage, or approved with validity
    R-APP-6 at the last), reject (opinion required; ends it) or return (opinion required; back to the first
    stage for the hospital to resubmit). Decisions are append-only; the due date is checked (R-APP-5)."""
    today = timezone.localdate(now)
    application = _lock(application)
    opinion = (opinion or "").strip()
    if decision not in (ApplicationReview.Decision.APPROVE, ApplicationReview.Decision.REJECT,
                        ApplicationReview.Decision.RETURN):
        raise ApplicationError("invalid", "审核意见应为同意、不同意或退回", fields={"decision": ["取值无效"]})
    if application.status not in DECIDABLE_STATUSES:
        raise ApplicationError("application_not_in_review",
                               f"申请 {application.number} 当前状态为“{application.get_status_display()}”，不能审核",
                               status=409)
    if not user_owns_stage(actor, application):
        raise ApplicationError("permission_denied",
                               f"当前环节“{application.get_current_stage_display()}”不由您的角色审核", status=403)
    _check_stage_duty(actor=actor, application=application)
    if decision == ApplicationReview.Decision.REJECT and not opinion:
        raise ApplicationError("opinion_required", "不同意时必须填写审核意见，说明不予通过的理由",
                               fields={"opinion": ["不同意时必须填写理由"]})
    if decision == ApplicationReview.Decision.RETURN and not opinion:
        raise ApplicationError("opinion_required", "退回时必须填写审核意见，说明需要补充的材料",
                               fields={"opinion": ["退回时必须说明需补充的材料"]})

    stages = application.review_stages or [Stage.BUREAU.value]
    stage = application.current_stage
    is_last = stage == stages[-1]
    latest_end = default_valid_until(application.applied_on)
    valid_from = application.first_use_on or application.applied_on
    if application.kind == EXTENSION and application.extends_id:
        # R-APP-11: the new period starts the day after the current one ends, so cover never lapses
        valid_from = application.extends.valid_until + dt.timedelta(days=1)
        latest_end = default_valid_until(valid_from)
    if valid_until is not None:
        if decision != ApplicationReview.Decision.APPROVE or not is_last:
            raise ApplicationError("invalid", "只有最后环节同意时才能核定有效期", fields={"valid_until": ["此时不能填写"]})
        if valid_until > latest_end or valid_until < valid_from:
            raise ApplicationError(
                "invalid", f"有效期止应在 {valid_from} 至 {latest_end} 之间（R-APP-6：最长至申请次年12月31日）",
                fields={"valid_until": [f"应在 {valid_from} 至 {latest_end} 之间"]})

    from_status = application.status
    review = ApplicationReview.objects.create(
        application=application, stage=stage, decision=decision, opinion=opinion, reviewer=actor, decided_at=now,
        due_date=application.stage_due_date,
        overdue=bool(application.stage_due_date and today > application.stage_due_date),
        valid_until=(valid_until or latest_end) if decision == "approve" and is_last else None,
    )
    fields = ["status", "current_stage", "stage_received_on", "stage_due_date", "updated_at"]
    if decision == ApplicationReview.Decision.APPROVE and not is_last:
        next_stage = stages[stages.index(stage) + 1]
        application.status = Application.Status.IN_REVIEW
        application.current_stage = next_stage
        application.stage_received_on = today
        application.stage_due_date = stage_due_date(stage=next_stage, received_on=today,
                                                    region=application.insured_region)
    else:
        application.current_stage = ""
        application.stage_received_on = None
        application.stage_due_date = None
        application.decided_at = now
        fields.append("decided_at")
        if decision == ApplicationReview.Decision.APPROVE:
            application.status = Application.Status.APPROVED
            application.valid_from = valid_from
            application.valid_until = review.valid_until
            fields += ["valid_from", "valid_until"]
        elif decision == ApplicationReview.Decision.REJECT:
            application.status = Application.Status.REJECTED
        else:  # return: back to the first stage (the physician), waiting for the hospital to resubmit
            application.status = Application.Status.RETURNED
            application.current_stage = stages[0]
            application.decided_at = None
    _mark_provisional(application)
    application.save(update_fields=[*fields, "stage_due_provisional"])
    record_event(subject=application, action=DECISION_EVENTS[decision], actor=actor, from_status=from_status,
                 to_status=application.status, reason=opinion,
                 data={"stage": stage, "review": review.pk, "overdue": review.overdue,
                       "valid_until": str(application.valid_until or "")}, now=now)
    return application


@transaction.atomic
def application_resubmit(*, application: Application, actor, note: str = "",
                         now: dt.datetime) -> Application:
    """The hospital resubmits a returned application with the documents asked for (R-APP-4): the chain starts
    again at the first stage, with a new due date."""
    today = timezone.localdate(now)
    application = _lock(application)
    if application.status != Application.Status.RETURNED:
        raise ApplicationError("application_not_returned", "只有被退回的申请可以重新提交", status=409)
    if actor.role != Role.HOSPITAL or actor.institution_id != application.institution_id:
        raise ApplicationError("permission_denied", "只有提交申请的医疗机构可以重新提交", status=403)
    stages = application.review_stages or [Stage.BUREAU.value]
    ApplicationReview.objects.create(application=application, stage=stages[0],
                                     decision=ApplicationReview.Decision.RESUBMIT, opinion=(note or "").strip(),
                                     reviewer=actor, decided_at=now)
    application.status = Application.Status.SUBMITTED
    application.current_stage = stages[0]
    application.stage_received_on = today
    application.stage_due_date = stage_due_date(stage=stages[0], received_on=today, region=application.insured_region)
    _mark_provisional(application)
    application.save(update_fields=["status", "current_stage", "stage_received_on", "stage_due_date",
                                    "stage_due_provisional", "updated_at"])
    record_event(subject=application, action=EventAction.APPLICATION_RESUBMITTED, actor=actor,
                 from_status=Application.Status.RETURNED, to_status=application.status, reason=note, now=now)
    return application


# --------------------------------------------------------------------------------------------------------------
# Validity: expiry (R-APP-6) and termination on withdrawal (R-CAT-5)
# --------------------------------------------------------------------------------------------------------------

@transaction.atomic
def application_expire_due(*, today: dt.date) -> int:
    """Approved applications whose ``valid_until`` has passed become expired (R-APP-6). Idempotent."""
    due = list(Application.objects.select_for_update().filter(status=Application.Status.APPROVED,
                                                              valid_until__lt=today))
    for application in due:
        application.status = Application.Status.EXPIRED
        application.save(update_fields=["status", "updated_at"])
        record_event(subject=application, action=EventAction.APPLICATION_EXPIRED, from_status=Application.Status.APPROVED,
                     to_status=Application.Status.EXPIRED, data={"valid_until": str(application.valid_until)})
    return len(due)


@transaction.atomic
def application_terminate_for_drug_withdrawal(*, drug, withdrawn_on: dt.date, reason: str, actor) -> int:
    """R-CAT-5 (001 第二十三条): withdrawing a drug ends every active application for its generic name on the
    withdrawal date, the reason recorded on each. Active = open, or approved and still valid on that date.
    R-CAT-6: while another product of the same generic and dosage form stays listed on that date, patients may switch to it, so
    nothing is terminated. Returns the number of applications terminated."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("invalid", "请填写终止原因", fields={"reason": ["必填"]})
    alternatives = [d for d in Drug.objects.filter(generic_name=drug.generic_name, dosage_form=drug.dosage_form)
                    .exclude(pk=drug.pk) if d.is_listed_on(withdrawn_on)]
    if alternatives:
        return 0
    # R-CAT-6: the drug is the generic name in this dosage form; applications for another form are untouched
    active = list(
        Application.objects.select_for_update().filter(generic_name=drug.generic_name)
        .filter(Q(dosage_form="") | Q(dosage_form=drug.dosage_form)).filter(
            status__in=[*OPEN_STATUSES, Application.Status.APPROVED]).order_by("id"))
    count = 0
    for application in active:
        if application.status == Application.Status.APPROVED and application.valid_until < withdrawn_on:
            continue
        _terminate(application, on=withdrawn_on, reason=reason, actor=actor,
                   data={"drug": drug.code, "withdrawn_on": str(withdrawn_on)})
        count += 1
    return count


@transaction.atomic
def deadlines_recompute_provisional(*, years, actor=None) -> int:
    """R-APP-5: once a year's official arrangement is imported, every open application whose due date was
    provisional is recomputed from its receipt date (and stays provisional only if another year it spans still
    lacks one). Registered on ``apps.core.hooks.calendar_arrangement_imported``. Returns how many changed."""
    changed = 0
    for application in Application.objects.select_for_update().select_related("insured_region").filter(
            stage_due_provisional=True, stage_received_on__isnull=False).exclude(current_stage=""):
        old = (application.stage_due_date, application.stage_due_provisional)
        application.stage_due_date = stage_due_date(stage=application.current_stage,
                                                    received_on=application.stage_received_on,
                                                    region=application.insured_region)
        _mark_provisional(application)
        if (application.stage_due_date, application.stage_due_provisional) != old:
            application.save(update_fields=["stage_due_date", "stage_due_provisional", "updated_at"])
            record_event(subject=application, action=EventAction.DEADLINES_RECOMPUTED, actor=actor,
                         data={"from": str(old[0]), "to": str(application.stage_due_date),
                               "years": sorted(years)})
            changed += 1
    return changed


def _terminate(application: Application, *, on: dt.date, reason: str, actor, data: dict) -> None:
    from_status = application.status
    application.status = Application.Status.TERMINATED
    application.terminated_on = on
    application.termination_reason = reason
    application.current_stage = ""
    application.stage_due_date = None
    application.stage_received_on = None
    application.save(update_fields=["status", "terminated_on", "termination_reason", "current_stage",
                                    "stage_due_date", "stage_received_on", "updated_at"])
    record_event(subject=application, action=EventAction.APPLICATION_TERMINATED, actor=actor, from_status=from_status,
                 to_status=application.status, reason=reason, data=data)


@transaction.atomic
def application_terminate(*, application: Application, actor, reason: str, today: dt.date,
                          on: dt.date | None = None) -> Application:
    """The bureau of the insured region ends an approved or open application early (e.g. the patient's insurance
    moved elsewhere), from ``on`` (default today), with the reason recorded."""
    on = on or today
    application = _lock(application)
    reason = (reason or "").strip()
    if not (actor.is_superuser or actor.role in BUREAU_ROLES) or not (
            actor.is_superuser or application.insured_region.code.startswith(actor.region.descendant_prefix)):
        raise ApplicationError("permission_denied", "只有参保地经办机构可以终止待遇", status=403)
    if not reason:
        raise ApplicationError("invalid", "请填写终止原因", fields={"reason": ["必填"]})
    if application.status not in (*OPEN_STATUSES, Application.Status.APPROVED):
        raise ApplicationError("application_not_active",
                               f"申请当前状态为“{application.get_status_display()}”，不能终止", status=409)
    if application.valid_from and on < application.valid_from:
        raise ApplicationError("invalid", "终止日期不能早于有效期开始", fields={"on": ["早于有效期开始"]})
    _terminate(application, on=on, reason=reason, actor=actor, data={})
    return application


# --------------------------------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------------------------------

def sniff_content_type(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) from the file's first bytes, ``None`` when not PDF, JPEG or PNG."""
    for magic, content_type, extension in _MAGIC:
        if head.startswith(magic):
            return content_type, extension
    return None


@transaction.atomic
def application_document_add(*, application: Application, actor, uploaded_file, kind: str) -> ApplicationDocument:
    """Attach a supporting document (R-APP-2): PDF, JPEG or PNG judged by content, at most
    ``DOCUMENT_MAX_BYTES``; only the applying hospital, while the application is open."""
    if actor.role != Role.HOSPITAL or actor.institution_id != application.institution_id:
        raise ApplicationError("permission_denied", "只有提交申请的医疗机构可以上传材料", status=403)
    if application.status not in OPEN_STATUSES:
        raise ApplicationError("application_closed", "申请已办结，不能再上传材料", status=409)
    if kind not in ApplicationDocument.Kind.values:
        raise ApplicationError("invalid", "材料类型无效", fields={"kind": ["取值无效"]})
    if uploaded_file is None:
        raise ApplicationError("invalid", "请选择要上传的文件", fields={"file": ["必填"]})
    size = uploaded_file.size or 0
    if size == 0:
        raise ApplicationError("invalid", "文件为空", fields={"file": ["文件为空"]})
    if size > DOCUMENT_MAX_BYTES:
        raise ApplicationError("file_too_large", f"文件不能超过 {DOCUMENT_MAX_BYTES // (1024 * 1024)} MB",
                               fields={"file": ["文件过大"]}, status=413)
    data = b"".join(uploaded_file.chunks())
    sniffed = sniff_content_type(data[:16])
    if sniffed is None:
        raise ApplicationError("unsupported_file_type", "只接受 PDF、JPEG、PNG 文件（按文件内容判断）",
                               fields={"file": ["文件内容不是 PDF、JPEG 或 PNG"]})
    content_type, extension = sniffed
    original = (getattr(uploaded_file, "name", "") or "document").rsplit("/", 1)[-1][:200]
    stem = original.rsplit(".", 1)[0] if "." in original else original
    document = ApplicationDocument(application=application, kind=kind, original_name=original,
                                   content_type=content_type, size=len(data),
                                   sha256=hashlib.sha256(data).hexdigest(), uploaded_by=actor)
    safe_stem = "".join(ch for ch in stem if ch.isalnum() or ch in "-_")[:60] or "document"
    document.file.save(f"{safe_stem}{extension}", ContentFile(data), save=False)
    document.save()
    record_event(subject=application, action=EventAction.APPLICATION_DOCUMENT_ADDED, actor=actor,
                 data={"document": document.pk, "kind": kind, "content_type": content_type, "size": len(data)})
    return document


# --------------------------------------------------------------------------------------------------------------
# Personal numbers (R-SEC-2)
# --------------------------------------------------------------------------------------------------------------

REVEALABLE = {"id_number": "身份证号", "phone": "联系电话", "card_number": "医保卡号"}


@transaction.atomic
def application_reveal_personal_number(*, application: Application, actor, field: str) -> str:
    """Show one personal number in full: a logged action for bureau users and the applying hospital (R-SEC-2)."""
    if field not in REVEALABLE:
        raise ApplicationError("invalid", "只能显示身份证号、联系电话或医保卡号", fields={"field": ["取值无效"]})
    permitted = actor.is_superuser or actor.role in BUREAU_ROLES or (
        actor.role == Role.HOSPITAL and actor.institution_id == application.institution_id)
    if not permitted:
        raise ApplicationError("permission_denied", "当前角色无权查看完整号码", status=403)
    record_event(subject=application, action=EventAction.PERSONAL_NUMBER_REVEALED, actor=actor,
                 data={"field": field, "person": application.person_id})
    return getattr(application.person, field)


# --------------------------------------------------------------------------------------------------------------
# Public lookup (R-APP-9)
# --------------------------------------------------------------------------------------------------------------

def _lookup_keys(ip: str, number: str) -> list[str]:
    digest = hashlib.sha256(number.encode()).hexdigest()[:24]
    return [f"app-lookup:ip:{ip}", f"app-lookup:no:{digest}"]


def lookup_blocked(*, ip: str, number: str) -> bool:
    return any((cache.get(key) or 0) >= LOOKUP_MAX_FAILURES for key in _lookup_keys(ip, number))


def _lookup_failed(*, ip: str, number: str) -> None:
    for key in _lookup_keys(ip, number):
        if cache.add(key, 1, LOOKUP_WINDOW_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, LOOKUP_WINDOW_SECONDS)


def application_lookup(*, number: str, id_suffix: str, ip: str) -> Application | None:
    """The application with this number whose person's ID number ends with ``id_suffix`` (6 characters), or
    ``None``. Failures count per IP and per number; past ``LOOKUP_MAX_FAILURES`` within the window every
    attempt is refused (``throttled``, 429) without looking. Failures are logged (and recorded on the
    application when the number exists)."""
    number = (number or "").strip().upper()
    id_suffix = (id_suffix or "").strip().upper()
    if lookup_blocked(ip=ip, number=number):
        logger.warning("application lookup throttled ip=%s number=%s", ip, number)
        raise ApplicationError("throttled", "查询失败次数过多，请 15 分钟后再试", status=429)
    if len(id_suffix) != 6:
        raise ApplicationError("invalid", "请输入身份证号后六位", fields={"id_suffix": ["应为6位"]})
    application = (Application.objects.select_related("person", "insured_region")
                   .filter(number=number).first()) if number else None
    if application is not None and application.person.id_number.endswith(id_suffix):
        return application
    _lookup_failed(ip=ip, number=number)
    logger.warning("application lookup failed ip=%s number=%s", ip, number)
    if application is not None:
        with transaction.atomic():
            record_event(subject=application, action=EventAction.PUBLIC_LOOKUP_FAILED, data={"ip": ip})
    return None


# --------------------------------------------------------------------------------------------------------------
# Extension before expiry (R-APP-11)
# --------------------------------------------------------------------------------------------------------------

EXTENSION = "extension"
#: R-APP-11 (decision): an extension may be filed within the last 60 days of the approval
EXTENSION_WINDOW_DAYS = 60


@transaction.atomic
def application_extend(*, application: Application, actor, opinion: str, now: dt.datetime) -> Application:
    """R-APP-11 (001 第二十三条 简化程序): within the last ``EXTENSION_WINDOW_DAYS`` days of an approval the hospital
    files an extension for the same generic name and dosage form. It needs only the responsible physician's opinion
    (given by filing it from the physician's own account, recorded as the physician stage) and the bureau's
    decision; on approval the new period starts the day after the current one ends. Decision: the new period runs
    at most to 31 December of the year after its start (R-APP-6 counted from the new start)."""
    today = timezone.localdate(now)
    application = _lock(application)
    opinion = (opinion or "").strip()
    if actor.role != Role.HOSPITAL or actor.institution_id != application.institution_id:
        raise ApplicationError("permission_denied", "只有原申请的医疗机构可以申请延期", status=403)
    if application.status != Application.Status.APPROVED or application.valid_until is None:
        raise ApplicationError("application_not_active",
                               f"申请 {application.number} 当前状态为“{application.get_status_display()}”，只有已通过的申请可以延期",
                               status=409)
    if not user_holds_stage_duty(actor, application, Stage.PHYSICIAN):
        raise ApplicationError("stage_duty_required", "延期申请须由责任医师本人账号出具意见（R-APP-11、R-APP-4）", status=403)
    window_start = application.valid_until - dt.timedelta(days=EXTENSION_WINDOW_DAYS - 1)
    if not (window_start <= today <= application.valid_until):
        raise ApplicationError("extension_not_due",
                               f"延期申请须在有效期最后 {EXTENSION_WINDOW_DAYS} 天内提出（{window_start} 至 "
                               f"{application.valid_until}），今天是 {today}（R-APP-11）", status=409)
    if not opinion:
        raise ApplicationError("opinion_required", "请填写责任医师意见", fields={"opinion": ["必填"]})
    if application.extensions.exclude(status__in=[Application.Status.REJECTED, Application.Status.TERMINATED]).exists():
        raise ApplicationError("extension_exists", f"申请 {application.number} 已有延期申请", status=409)
    physician = application.physician
    if not physician.is_active_on(today):
        raise ApplicationError("physician_not_filed", f"责任医师 {physician.name} 未备案或备案已失效（R-DOC-3）")
    _check_certifying(physician=physician, institution=application.institution)
    _drug_for_generic(application.generic_name, application.valid_until + dt.timedelta(days=1),
                      application.dosage_form)
    stages = [Stage.PHYSICIAN.value, Stage.BUREAU.value]
    extension = Application.objects.create(
        number=_new_number(today), person=application.person, insured_region=application.insured_region,
        institution=application.institution, pharmacy=application.pharmacy, physician=physician,
        generic_name=application.generic_name, dosage_form=application.dosage_form,
        manufacturer=application.manufacturer, kind=EXTENSION, extends=application,
        therapeutic_area=application.therapeutic_area, diagnosis_code=application.diagnosis_code,
        diagnosis_name=application.diagnosis_name, usage=application.usage, course_days=application.course_days,
        patient_phone=application.patient_phone, status=Application.Status.IN_REVIEW, review_stages=stages,
        current_stage=Stage.BUREAU, stage_received_on=today,
        stage_due_date=stage_due_date(stage=Stage.BUREAU, received_on=today, region=application.insured_region),
        submitted_at=now, applied_on=today, created_by=actor,
    )
    if _mark_provisional(extension):
        extension.save(update_fields=["stage_due_provisional"])
    ApplicationReview.objects.create(application=extension, stage=Stage.PHYSICIAN,
                                     decision=ApplicationReview.Decision.APPROVE, opinion=opinion, reviewer=actor,
                                     decided_at=now)
    record_event(subject=extension, action=EventAction.APPLICATION_EXTENSION_FILED, actor=actor,
                 to_status=extension.status, reason=opinion,
                 data={"number": extension.number, "extends": application.number}, now=now)
    return extension


# --------------------------------------------------------------------------------------------------------------
# Manufacturer switch within the generic name and dosage form (R-CAT-6)
# --------------------------------------------------------------------------------------------------------------

@transaction.atomic
def manufacturer_switch_determine(*, application: Application, actor, to_manufacturer: str, reason: str = "",
                                  now: dt.datetime) -> ManufacturerSwitch:
    """R-CAT-6 first step: the responsible physician (their own account) determines the switch to another
    manufacturer's listed product of the application's generic name and dosage form. Not yet in effect."""
    application = _lock(application)
    to_manufacturer = (to_manufacturer or "").strip()
    if application.status != Application.Status.APPROVED:
        raise ApplicationError("application_not_active", "只有已通过的申请可以更换生产企业", status=409)
    if not user_holds_stage_duty(actor, application, Stage.PHYSICIAN):
        raise ApplicationError("stage_duty_required", "更换生产企业须由申请的责任医师本人确定（R-CAT-6）", status=403)
    if not to_manufacturer or to_manufacturer == application.manufacturer:
        raise ApplicationError("invalid", "请填写新的生产企业（与当前不同）", fields={"to_manufacturer": ["必填且不同于当前"]})
    day = timezone.localdate(now)
    listed = [d for d in Drug.objects.filter(generic_name=application.generic_name, manufacturer=to_manufacturer)
              if d.is_listed_on(day) and (not application.dosage_form or d.dosage_form == application.dosage_form)]
    if not listed:
        raise ApplicationError("drug_not_listed",
                               f"“{to_manufacturer}”在 {day} 没有“{application.generic_name}”（{application.dosage_form}）"
                               "的在目录药品；不同剂型须重新申请（R-CAT-6、R-APP-7）",
                               fields={"to_manufacturer": ["该生产企业无同通用名同剂型在目录药品"]})
    if application.manufacturer_switches.filter(confirmed_at__isnull=True).exists():
        raise ApplicationError("switch_pending", "已有待确认的更换生产企业，请先由医疗机构确认", status=409)
    switch = ManufacturerSwitch.objects.create(
        application=application, from_manufacturer=application.manufacturer, to_manufacturer=to_manufacturer,
        reason=(reason or "").strip(), determined_by=actor, determined_at=now)
    record_event(subject=application, action=EventAction.MANUFACTURER_SWITCH_DETERMINED, actor=actor,
                 data={"switch": switch.pk, "to": to_manufacturer}, now=now)
    return switch


@transaction.atomic
def manufacturer_switch_confirm(*, switch: ManufacturerSwitch, actor, now: dt.datetime) -> Application:
    """R-CAT-6 second step: the institution (a holder of the insurance-office duty, not the physician who
    determined it) confirms; the application then records the new manufacturer and prescriptions follow it."""
    switch = ManufacturerSwitch.objects.select_for_update().get(pk=switch.pk)
    application = _lock(switch.application)
    if switch.confirmed_at is not None:
        raise ApplicationError("switch_confirmed", "该更换已确认", status=409)
    if not user_holds_stage_duty(actor, application, Stage.INSURANCE_OFFICE):
        raise ApplicationError("stage_duty_required", "更换生产企业须由本院医保部门确认（R-CAT-6）", status=403)
    if actor.pk == switch.determined_by_id:
        raise ApplicationError("same_reviewer", "确定更换的医师不能同时确认（R-CAT-6、R-APP-4）", status=409)
    switch.confirmed_by, switch.confirmed_at = actor, now
    switch.save(update_fields=["confirmed_by", "confirmed_at"])
    application.manufacturer = switch.to_manufacturer
    application.save(update_fields=["manufacturer", "updated_at"])
    record_event(subject=application, action=EventAction.MANUFACTURER_SWITCH_CONFIRMED, actor=actor,
                 data={"switch": switch.pk, "from": switch.from_manufacturer, "to": switch.to_manufacturer}, now=now)
    return application


# --------------------------------------------------------------------------------------------------------------
# Other fund use counted in the annual limit (R-PAY-3 step 4)
# --------------------------------------------------------------------------------------------------------------

def lock_patient_years(pairs, *, now: dt.datetime) -> None:
    """Hold the year accumulators of ``pairs`` [(person_id, year)] for this transaction, in a fixed order (no
    deadlock between two writers): a concurrent dispensing waits, then sees the other fund use written here."""
    applications_hooks.patient_year_lock.call(pairs=sorted(set(pairs)), now=now)


def _may_record_other_fund_use(actor, person: InsuredPerson) -> bool:
    return actor.is_superuser or (actor.role in BUREAU_ROLES and actor.region_id is not None
                                  and person.insured_region.code.startswith(actor.region.descendant_prefix))


@transaction.atomic
def other_fund_use_record(*, actor, person: InsuredPerson, year: int, month: int, amount, note: str = "",
                          now: dt.datetime, source: str = OtherFundUse.Source.MANUAL) -> OtherFundUse:
    """R-PAY-3 step 4: the patient's other fund use in a month, as the core insurance system reports it, entered by
    the bureau of the insured region. Replaces that month's figure; counts in the annual limit from now on (the
    patient's year accumulator is locked while it is written)."""
    if not _may_record_other_fund_use(actor, person):
        raise ApplicationError("permission_denied", "只有参保地经办机构可以登记其他基金支付", status=403)
    try:
        amount = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise ApplicationError("invalid", "基金支付金额应为数字", fields={"amount": ["应为数字"]}) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ApplicationError("invalid", "基金支付金额应为不小于 0、最多两位小数的金额", fields={"amount": ["金额无效"]})
    if not (1 <= int(month) <= 12) or not (2000 <= int(year) <= timezone.localdate(now).year):
        raise ApplicationError("invalid", "年月无效（不能晚于本年）", fields={"period": ["年月无效"]})
    lock_patient_years([(person.pk, int(year))], now=now)
    row, created = OtherFundUse.objects.select_for_update().get_or_create(
        person=person, year=int(year), month=int(month),
        defaults={"amount": amount, "source": source, "note": (note or "").strip()[:255], "recorded_by": actor,
                  "recorded_at": now})
    if not created:
        if row.amount == amount:
            return row
        row.amount, row.source, row.note, row.recorded_by, row.recorded_at = (
            amount, source, (note or "").strip()[:255], actor, now)
        row.save(update_fields=["amount", "source", "note", "recorded_by", "recorded_at"])
    record_event(subject=person, action=EventAction.OTHER_FUND_USE_RECORDED, actor=actor,
                 data={"year": int(year), "month": int(month), "amount": str(amount), "source": source}, now=now)
    return row
