"""Test helpers for applications: a submitted application in a few lines."""
import datetime as dt

from django.utils import timezone

from apps.applications import services
from apps.applications.models import Application
from tests import factories as f

NOW = timezone.make_aware(dt.datetime(2026, 11, 2, 9, 0))  # a Monday


def setup_hospital(*, region_code="640502"):
    """An institution in ``region_code`` with a filed oncology physician, a pharmacy, a drug and a hospital user;
    R-APP-4 duty holders: the physician's own account, a pharmacy-department user and an insurance-office user."""
    institution = f.InstitutionFactory(region=f.region(region_code))
    physician = f.PhysicianFactory(institution=institution)
    pharmacy = f.PharmacyFactory(region=f.region(region_code))
    user = f.hospital_user(institution)
    give_duties(institution, physician)
    return institution, physician, pharmacy, user


def give_duties(institution, physician=None):
    """R-APP-4: a pharmacy-department user and an insurance-office user for ``institution`` and, for ``physician``,
    an own account (created when missing)."""
    from apps.institutions.models import HospitalDuty

    for duty in (HospitalDuty.Duty.PHARMACY_DEPT, HospitalDuty.Duty.INSURANCE_OFFICE):
        if not HospitalDuty.objects.filter(institution=institution, duty=duty).exists():
            HospitalDuty.objects.create(user=f.hospital_user(institution), institution=institution, duty=duty,
                                        granted_at=NOW)
    if physician is not None and physician.user_id is None:
        physician.user = f.hospital_user(institution)
        physician.save(update_fields=["user"])


def stage_actor(application, reviewer=None):
    """The user who decides ``application``'s current stage (R-APP-4): the physician's own account, the holder of
    the pharmacy-department or insurance-office duty, or ``reviewer`` for the bureau stage."""
    from apps.applications.models import Stage
    from apps.institutions.models import HospitalDuty

    application.refresh_from_db()
    stage = application.current_stage
    if stage == Stage.BUREAU:
        return reviewer
    if stage == Stage.PHYSICIAN or not stage:
        physician = application.physician
        if physician.user_id is None:
            give_duties(application.institution, physician)
        return physician.user
    duty = HospitalDuty.objects.filter(institution=application.institution, duty=stage).first()
    if duty is None:
        give_duties(application.institution)
        duty = HospitalDuty.objects.get(institution=application.institution, duty=stage)
    return duty.user


def patient(seq=1, region_code="640500", **overrides):
    data = {"name": f"患者{seq}", "id_number": f.id_number(seq=seq), "insurance_type": "employee",
            "insured_region": region_code, "phone": f"139000000{seq:02d}", "card_number": f"C{seq:08d}"}
    data.update(overrides)
    return data


def submit(hospital_user, physician, *, seq=1, generic_name="奥希替尼", pharmacy=None, now=NOW,
           region_code="640500", **kw) -> Application:
    return services.application_submit(
        actor=hospital_user, patient=patient(seq, region_code), physician_code=physician.code,
        generic_name=generic_name, diagnosis_code="C34.9", diagnosis_name="肺恶性肿瘤", usage="80mg qd",
        course_days=90, pharmacy_code=pharmacy.code if pharmacy else "", now=now, **kw)


def approve_through(application, hospital_user, reviewer, *, now=NOW, valid_until=None):
    """Approve every remaining stage: hospital stages by their duty holders (R-APP-4; ``hospital_user`` is kept
    for the callers' convenience), the bureau stage by ``reviewer``."""
    from apps.applications.models import Stage

    while application.current_stage:
        actor = reviewer if application.current_stage == Stage.BUREAU else stage_actor(application)
        last = application.current_stage == application.review_stages[-1]
        application = services.application_decide(
            application=application, actor=actor, decision="approve", opinion="同意",
            valid_until=valid_until if last else None, now=now)
    return application
