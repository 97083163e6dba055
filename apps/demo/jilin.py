"""A Jilin-style region beside Zhongwei and Changsha (issue 10): the Jilin preset of region settings (002) — the
certifying/treating split on (R-INS-2, R-DOC-2), all three hospital review stages (R-APP-4), filing after first use
(R-APP-10) — with a certifying hospital and a treating one, certifying-only, treating-only and dual-role physicians,
and three demo users who decide the three hospital stages (the physician's own account, the pharmacy department,
the insurance office). One application is waiting at each hospital stage so a reviewer sees the arrangement.
Everything goes through the services, as of the loader's ``now``; re-runnable."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from apps.applications import services as application_services
from apps.applications.models import Application
from apps.catalogue.models import Drug, TherapeuticArea
from apps.core.idnumber import make_id_number
from apps.core.models import Region
from apps.core.roles import Role
from apps.core.services import region_create, region_settings_apply_preset
from apps.demo.regions import demo_password_hash
from apps.demo.window import demo_start
from apps.institutions.models import HospitalDuty, Institution
from apps.institutions.services import hospital_duty_grant, institution_admit, institution_create
from apps.pharmacies.models import Pharmacy
from apps.pharmacies.services import pharmacy_admit, pharmacy_create
from apps.physicians.models import Physician
from apps.physicians.services import physician_account_link, physician_file, physician_propose
from apps.policies.models import PaymentPolicy
from apps.policies.presets import PRESETS
from apps.policies.services import policy_create

REGIONS = [("220000", "吉林省"), ("220100", "长春市"), ("220102", "南关区"), ("220104", "朝阳区")]
INSTITUTIONS = [
    # code, name, county, level, kind — the certifying one is the region's highest level (R-INS-2)
    ("H220100001", "吉林大学第一医院", "220102", 3, Institution.Kind.CERTIFYING),
    ("H220100002", "长春市朝阳区医院", "220104", 2, Institution.Kind.TREATING),
]
PHYSICIANS = [
    # code, name, institution, department, title, certifying, treating, areas
    ("D220100001", "孙立新", "H220100001", "肿瘤科", "chief", True, True, ["oncology"]),
    ("D220100002", "高雅琴", "H220100001", "肿瘤科", "associate_chief", True, False, ["oncology"]),  # certifies only
    ("D220100003", "吴鹏", "H220100002", "内科", "associate_chief", False, True, ["oncology"]),  # treats only
]
USERS = [
    # username, name, role, region, institution
    ("admin_jl", "长春医保局管理员", Role.BUREAU_ADMIN, "220100", None),
    ("reviewer_jl", "吉审核", Role.BUREAU_REVIEWER, "220100", None),
    ("hospital_jl", "吉大一院医保办（终审）", Role.HOSPITAL, None, "H220100001"),
    ("hospital_jl_pharmdept", "吉大一院药学部（复审）", Role.HOSPITAL, None, "H220100001"),
    ("d220100001", "孙立新（责任医师本人，初审）", Role.HOSPITAL, None, "H220100001"),
    ("d220100002", "高雅琴（责任医师本人）", Role.HOSPITAL, None, "H220100001"),
    ("hospital_jl2", "朝阳区医院医保办", Role.HOSPITAL, None, "H220100002"),
]


def _user(username, name, role, region=None, institution=None):
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, first_name=name, role=role, region=region, institution=institution,
                    is_staff=role == Role.BUREAU_ADMIN)
        user.password = demo_password_hash()
        user.save()
    return user


def load(*, today: dt.date, now: dt.datetime, stdout=None):
    admin = get_user_model().objects.get(username="admin")
    for code, name in REGIONS:
        if not Region.objects.filter(code=code).exists():
            region_create(actor=None, code=code, name=name)
    city = Region.objects.get(code="220100")
    region_settings_apply_preset(region=city, preset="jilin", actor=None)
    if not PaymentPolicy.objects.filter(region=city).exists():
        # Decision: the sources give no Jilin payment figures; the demo starts from the Hunan parameters (no
        # deductible, 70 % / 60 %) and names itself as a demo policy for the administrator to set.
        values = {k: v for k, v in PRESETS["hunan-2026"].items() if k not in ("name", "source")}
        policy_create(actor=None, region=city, valid_from=demo_start(today),
                      name="长春市双通道药品支付政策（演示，参数待管理员设定）", **values)

    areas = {a.code: a for a in TherapeuticArea.objects.all()}
    start = demo_start(today)
    agreement = {"agreement_start": start, "agreement_end": dt.date(today.year + 1, 12, 31)}
    for code, name, county, level, kind in INSTITUTIONS:
        if Institution.objects.filter(code=code).exists():
            continue
        institution = institution_create(
            actor=None, code=code, name=name, region=Region.objects.get(code=county), level=level, kind=kind,
            address=f"长春市{Region.objects.get(code=county).name}新民大街{int(code[-3:]) * 71}号",
            has_clinical_department=True, sells_at_negotiated_price=True, info_system_capable=True,
            grade_a=level == 3)
        institution_admit(institution=institution, actor=None, agreement_no=f"SXT-{code}-{start.year}",
                          reason="演示数据：签订补充协议", now=now, **agreement)
    institutions = {i.code: i for i in Institution.objects.filter(code__in=[r[0] for r in INSTITUTIONS])}
    if not Pharmacy.objects.filter(code="P220100001").exists():
        pharmacy = pharmacy_create(
            actor=None, code="P220100001", name="大药房（长春重庆路店）", region=Region.objects.get(code="220102"),
            licence_no="吉AA220001", address="长春市南关区重庆路88号", contact_name="店长", contact_phone="13904310001",
            has_business_licence=True, has_dedicated_storage=True, stocks_cold_chain=True, has_cold_storage=True,
            sells_at_or_below_price=True, has_licensed_pharmacist=True, traceability_capable=True,
            delivery_capable=True)
        pharmacy_admit(pharmacy=pharmacy, actor=None, agreement_no=f"SXT-P220100001-{start.year}",
                       reason="演示数据：签订补充协议", now=now, **agreement)
    for code, name, inst, dept, title, cert, treat, area_codes in PHYSICIANS:
        if Physician.objects.filter(code=code).exists():
            continue
        physician = physician_propose(
            actor=None, institution=institutions[inst], code=code, name=name, department=dept, title=title,
            is_certifying=cert, is_treating=treat, therapeutic_areas=[areas[c] for c in area_codes],
            phone=f"139{code[-8:]}", practice_licence_no=f"2201{code[-6:]}", now=now)
        physician_file(physician=physician, actor=None, filed_on=start, reason="演示数据", now=now)

    users = {u[0]: _user(u[0], u[1], u[2], Region.objects.filter(code=u[3]).first() if u[3] else None,
                         institutions.get(u[4])) for u in USERS}
    # R-APP-4: the three people of the three hospital stages
    for code in ("D220100001", "D220100002"):
        physician = Physician.objects.get(code=code)
        if physician.user_id is None:
            physician_account_link(actor=admin, physician=physician, user=users[code.lower()])
    first = institutions["H220100001"]
    hospital_duty_grant(actor=admin, institution=first, user=users["hospital_jl_pharmdept"],
                        duty=HospitalDuty.Duty.PHARMACY_DEPT, now=now)
    hospital_duty_grant(actor=admin, institution=first, user=users["hospital_jl"],
                        duty=HospitalDuty.Duty.INSURANCE_OFFICE, now=now)
    hospital_duty_grant(actor=admin, institution=institutions["H220100002"], user=users["hospital_jl2"],
                        duty=HospitalDuty.Duty.INSURANCE_OFFICE, now=now)

    # one application waiting at each hospital stage (physician, pharmacy department, insurance office)
    generic = Drug.objects.filter(therapeutic_area__code="oncology").order_by("generic_name").values_list(
        "generic_name", "dosage_form").first()
    if generic is None:
        return
    steps = [[], ["d220100001"], ["d220100001", "hospital_jl_pharmdept"]]
    for seq, chain in enumerate(steps, start=1):
        id_number = make_id_number("220102", dt.date(1960 + seq * 5, 4, seq), 70 + seq, female=seq % 2 == 0)
        if Application.objects.filter(person__id_number=id_number).exists():
            continue
        application = application_services.application_submit(
            actor=users["hospital_jl"], physician_code="D220100001", generic_name=generic[0], dosage_form=generic[1],
            patient={"name": ["赵国庆", "钱淑芬", "孙志远"][seq - 1], "id_number": id_number,
                     "insurance_type": "employee", "insured_region": "220100", "phone": f"1390431000{seq}"},
            diagnosis_code="C34.9", diagnosis_name="肺恶性肿瘤", usage="遵医嘱", course_days=90,
            pharmacy_code="P220100001", now=now)
        for username in chain:
            application = application_services.application_decide(
                application=application, actor=users[username], decision="approve", opinion="同意", now=now)
    if stdout:
        stdout.write("  jilin: 长春市 (split on, three hospital stages: d220100001 → hospital_jl_pharmdept → "
                     "hospital_jl), 3 applications waiting")
