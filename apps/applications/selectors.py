"""Reads of treatment applications: who may see which (R-SEC-1), coverage (R-APP-1/6/7), the review queue."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from apps.core.roles import BUREAU_ROLES, Role
from apps.applications.models import (
    HOSPITAL_STAGES,
    Application,
    ApplicationReview,
    InsuredPerson,
    OtherFundUse,
    Stage,
)
from apps.institutions.models import HospitalDuty
from apps.core.models import Region
from apps.core.scoping import region_in_q, scope_to_user
from apps.core.selectors import region_q, region_settings_for

OPEN_STATUSES = (Application.Status.SUBMITTED, Application.Status.IN_REVIEW, Application.Status.RETURNED)
DECIDABLE_STATUSES = (Application.Status.SUBMITTED, Application.Status.IN_REVIEW)


def _base() -> QuerySet[Application]:
    return Application.objects.select_related(
        "person", "person__insured_region", "insured_region", "institution", "pharmacy", "physician",
        "therapeutic_area",
    )


def applications_visible_to(user) -> QuerySet[Application]:
    """Bureau users: applications of persons insured in their region or made at their region's institutions.
    Hospital users: their institution's. Pharmacy users: the approved ones naming their pharmacy (R-SEC-1: not the
    rejected or in-review ones; what they show a pharmacy is masked, ``pharmacy_summary_only``). Nobody else:
    none."""
    return scope_to_user(_base(), user, region_fields=("insured_region", "institution__region"),
                         pharmacy_scope=_approved_naming_pharmacy)


def _approved_naming_pharmacy(qs, user):
    return qs.filter(pharmacy_id=user.pharmacy_id, status=Application.Status.APPROVED)


def pharmacy_summary_only(user) -> bool:
    """A pharmacy sees an application's summary, masked, without diagnosis, reviews or documents; the rest of what
    it needs comes with the flowed prescription (R-SEC-1, R-SEC-2)."""
    return getattr(user, "role", None) == Role.PHARMACY


def application_get_for(user, pk) -> Application:
    """One application through the user's scope; ``Http404`` for anything outside it (R-SEC-1)."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(applications_visible_to(user), pk=pk)


def application_records_get_for(user, pk) -> Application:
    """An application with its records — documents, diagnosis, review history, the printable form: bureau and
    hospital users within their scope; a pharmacy never (``Http404``, R-SEC-1)."""
    if pharmacy_summary_only(user):
        raise Http404
    return application_get_for(user, pk)


def application_covering(*, person: InsuredPerson, generic_name: str, on: dt.date,
                         dosage_form: str | None = None, institution_id: int | None = None) -> Application | None:
    """The approved application that covers ``person`` for ``generic_name`` in ``dosage_form`` on ``on`` (R-APP-1,
    R-APP-6), or ``None``. One application covers one generic name in one dosage form (R-APP-7, R-CAT-6), whatever
    the manufacturer; an application recorded without a dosage form (before revision 2) covers every form. An
    application terminated (R-CAT-5) or expired later still covers the days before. With ``institution_id`` only
    an application filed by that institution counts (R-SEC-1: a prescription uses its own institution's)."""
    form_q = Q() if dosage_form is None else (Q(dosage_form="") | Q(dosage_form=dosage_form))
    if institution_id is not None:
        form_q &= Q(institution_id=institution_id)
    return (
        Application.objects.filter(form_q,
            person=person, generic_name=generic_name.strip(),
            status__in=(Application.Status.APPROVED, Application.Status.TERMINATED, Application.Status.EXPIRED),
            valid_from__lte=on, valid_until__gte=on,
        )
        .filter(Q(terminated_on__isnull=True) | Q(terminated_on__gt=on))
        .select_related("person", "physician", "therapeutic_area", "institution", "pharmacy")
        .order_by("-valid_until", "-id")
        .first()
    )


def stage_owner_filter(user) -> Q | None:
    """``Q`` over applications whose current stage ``user``'s role owns (R-APP-4), ``None`` for no stage."""
    if user.role == Role.HOSPITAL and user.institution_id:
        return Q(institution_id=user.institution_id, current_stage__in=[s.value for s in HOSPITAL_STAGES])
    if user.role in BUREAU_ROLES or user.is_superuser:
        region = user.scope_region
        return Q(current_stage=Stage.BUREAU) & (region_in_q(Application, region, "insured_region")
                                                if region is not None else Q())
    return None


def user_owns_stage(user, application: Application) -> bool:
    """R-APP-4: hospital stages belong to the institution's staff, the bureau stage to bureau reviewers of the
    insured region."""
    stage = application.current_stage
    if not stage:
        return False
    if stage in HOSPITAL_STAGES:
        return user.role == Role.HOSPITAL and user.institution_id == application.institution_id
    if stage == Stage.BUREAU:
        if user.is_superuser:
            return True
        if user.role not in BUREAU_ROLES or user.region_id is None:
            return False
        return application.insured_region.code.startswith(user.region.descendant_prefix)
    return False


def user_holds_stage_duty(user, application: Application, stage: str | None = None) -> bool:
    """R-APP-4: the user holds the duty of ``stage`` (default: the current one) in the application's institution:
    the responsible physician's own account for the physician stage; a ``HospitalDuty`` of the stage's kind for the
    pharmacy-department and insurance-office stages. The bureau stage has no hospital duty."""
    stage = stage or application.current_stage
    if stage not in HOSPITAL_STAGES or user.role != Role.HOSPITAL or user.institution_id != application.institution_id:
        return False
    if stage == Stage.PHYSICIAN:
        return application.physician.user_id is not None and application.physician.user_id == user.pk
    return HospitalDuty.objects.filter(user=user, institution_id=application.institution_id, duty=stage).exists()


def stages_decided_by(user, application: Application) -> set[str]:
    """R-APP-4: the stages of ``application`` this user has already decided (approve, reject or return)."""
    return set(ApplicationReview.objects.filter(
        application=application, reviewer=user,
        decision__in=[ApplicationReview.Decision.APPROVE, ApplicationReview.Decision.REJECT,
                      ApplicationReview.Decision.RETURN]).values_list("stage", flat=True))


@dataclass
class QueueFilters:
    stage: str = ""
    status: str = ""
    generic_name: str = ""
    institution: str = ""  # institution code
    region: str = ""  # insured region code prefix
    due: str = ""  # "overdue" | "today" | "week" | ""
    q: str = ""  # application number or patient name


def review_queue_for(user, filters: QueueFilters | None = None, *, today: dt.date) -> QuerySet:
    """The applications waiting on ``user``'s stages (or, with a ``status`` filter, any visible application),
    most urgent first: overdue, then by due date, then by submission (R-APP-5)."""
    filters = filters or QueueFilters()
    qs = applications_visible_to(user)
    owner = stage_owner_filter(user)
    if filters.status:
        qs = qs.filter(status=filters.status)
    elif owner is not None:
        qs = qs.filter(owner, status__in=OPEN_STATUSES)
    else:
        qs = qs.filter(status__in=OPEN_STATUSES)
    if filters.stage:
        qs = qs.filter(current_stage=filters.stage)
    if filters.generic_name:
        qs = qs.filter(generic_name__icontains=filters.generic_name.strip())
    if filters.institution:
        qs = qs.filter(institution__code=filters.institution.strip())
    if filters.region:
        chosen = Region.objects.filter(code=filters.region.strip()).first()
        qs = qs.filter(region_q(chosen, "insured_region")) if chosen else qs.none()
    if filters.due == "overdue":
        qs = qs.filter(stage_due_date__lt=today)
    elif filters.due == "today":
        qs = qs.filter(stage_due_date=today)
    elif filters.due == "week":
        qs = qs.filter(stage_due_date__gte=today, stage_due_date__lte=today + dt.timedelta(days=7))
    if filters.q:
        term = filters.q.strip()
        qs = qs.filter(Q(number__icontains=term) | Q(person__name__icontains=term))
    return with_urgency(qs, today=today)


def with_urgency(qs: QuerySet, *, today: dt.date) -> QuerySet:
    """Annotate ``urgency`` (0 overdue, 1 due today, 2 later, 3 no due date) and sort by it and due date."""
    return qs.annotate(
        urgency=Case(
            When(stage_due_date__lt=today, then=Value(0)),
            When(stage_due_date=today, then=Value(1)),
            When(stage_due_date__isnull=False, then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        ),
        due_sort=Coalesce("stage_due_date", Value(dt.date(9999, 12, 31))),
    ).order_by("urgency", "due_sort", "submitted_at", "id")


def queue_counts(user, *, today: dt.date) -> dict:
    """Counts for the queue header: waiting on the user, overdue, due today, per stage."""
    owner = stage_owner_filter(user)
    qs = applications_visible_to(user).filter(status__in=DECIDABLE_STATUSES)
    if owner is not None:
        qs = qs.filter(owner)
    totals = qs.aggregate(
        waiting=Count("id"),
        overdue=Count("id", filter=Q(stage_due_date__lt=today)),
        due_today=Count("id", filter=Q(stage_due_date=today)),
    )
    per_stage = dict(qs.values_list("current_stage").annotate(n=Count("id")).values_list("current_stage", "n"))
    totals["per_stage"] = [(value, label, per_stage.get(value, 0)) for value, label in Stage.choices]
    returned = applications_visible_to(user).filter(status=Application.Status.RETURNED)
    if user.role == Role.HOSPITAL:
        totals["returned"] = returned.count()
    return totals


def next_in_queue(user, current: Application, filters: QueueFilters | None = None,
                  *, today: dt.date) -> Application | None:
    """The queue item after ``current`` in urgency order (wrapping to the first), ``None`` when empty."""
    ids = list(review_queue_for(user, filters, today=today).values_list("id", flat=True)[:2000])
    others = [pk for pk in ids if pk != current.pk]
    if not others:
        return None
    if current.pk in ids:
        position = ids.index(current.pk)
        after = [pk for pk in ids[position + 1:]]
        target = after[0] if after else others[0]
    else:
        target = others[0]
    return _base().get(pk=target)


def reviews_of(application: Application):
    return application.reviews.select_related("reviewer").order_by("decided_at", "id")


def filing_after_first_use_allowed(person: InsuredPerson) -> bool:
    """R-APP-10: whether the person's insured region lets patients use the drug first and file the application
    afterwards (Jilin, 002 三(二)). Approval then covers from the recorded first-use date (``first_use_on``)."""
    return bool(region_settings_for(person.insured_region).filing_after_first_use)


def dual_channel_patient_counts(*, field: str, org_ids, start: dt.date, end: dt.date) -> dict[int, int]:
    """R-INS-4: per organisation (``field`` is the FK to it, "institution" or "pharmacy"), the distinct patients with
    an approved dual-channel application there whose validity overlaps [start, end]; terminated and expired ones
    count too. One grouped query for all ``org_ids``. Registered on
    ``apps.registries.hooks.dual_channel_patient_counts``."""
    counted = (Application.Status.APPROVED, Application.Status.TERMINATED, Application.Status.EXPIRED)
    rows = (Application.objects.filter(**{f"{field}_id__in": list(org_ids)}, status__in=counted,
                                       valid_from__lte=end, valid_until__gte=start)
            .values(f"{field}_id").annotate(patients=Count("person_id", distinct=True)).order_by())
    return {row[f"{field}_id"]: row["patients"] for row in rows}


def other_fund_uses_visible_to(user):
    """R-PAY-3 step 4 / R-SEC-1: other fund use of the persons insured in the bureau user's region."""
    qs = OtherFundUse.objects.select_related("person")
    if user.is_superuser:
        return qs
    if user.role not in BUREAU_ROLES or user.region_id is None:
        return qs.none()
    return qs.filter(person__insured_region__code__startswith=user.region.descendant_prefix)


def other_fund_paid(*, person_id: int, year: int):
    """R-PAY-3 step 4: the patient's other fund use in ``year`` (``0`` when none)."""
    total = OtherFundUse.objects.filter(person_id=person_id, year=year).aggregate(t=Sum("amount"))["t"]
    return total if total is not None else Decimal("0.00")


def persons_insured_under(user) -> QuerySet[InsuredPerson]:
    """The insured persons of the bureau user's region (all for a superuser, none for other roles)."""
    qs = InsuredPerson.objects.select_related("insured_region")
    if user.is_superuser:
        return qs
    if user.role not in BUREAU_ROLES or user.region_id is None:
        return qs.none()
    return qs.filter(insured_region__code__startswith=user.region.descendant_prefix)
