"""Foundation demo data: regions, region settings, payment policies, registries and the demo users."""
import datetime as dt
import functools
import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from apps.core.roles import Role
from apps.catalogue.models import TherapeuticArea
from apps.core.models import DesignationStatus, Region, RegionSettings
from apps.core.region_presets import REGION_SETTINGS_PRESETS
from apps.demo.window import demo_start
from apps.institutions.models import Institution
from apps.institutions.models import HospitalDuty
from apps.institutions.services import hospital_duty_grant, institution_admit, institution_create
from apps.pharmacies.models import Pharmacy
from apps.pharmacies.services import pharmacy_admit, pharmacy_create
from apps.physicians.models import Physician
from apps.physicians.services import physician_account_link, physician_file, physician_propose, physician_revoke
from apps.policies.models import PaymentPolicy
from apps.policies.presets import PRESETS
from apps.policies.services import policy_create, policy_create_from_preset

DEMO_PASSWORD = "demo-pass-2026"


@functools.cache
def demo_password_hash() -> str:
    """The demo password hashed once per load (the hasher's full work factor; one salt for all demo accounts,
    which share the password anyway): hashing it per user made the demo's users take seconds each."""
    return make_password(DEMO_PASSWORD)

INSTITUTIONS = [
    # code, name, county, level, type, specialty, kind, status
    ("H640500001", "中卫市人民医院", "640502", 3, "general", None, "certifying", "admitted"),
    ("H640500002", "中宁县人民医院", "640521", 2, "general", None, "treating", "admitted"),
    ("H640500003", "海原县人民医院", "640522", 2, "general", None, "treating", "applied"),
    ("H430100001", "中南大学湘雅医院", "430105", 3, "general", None, "certifying", "admitted"),
    ("H430100002", "湖南省肿瘤医院", "430104", 3, "specialist", "oncology", "certifying", "admitted"),
    ("H430100003", "长沙市望城区人民医院", "430112", 2, "general", None, "treating", "admitted"),
]

PHARMACIES = [
    ("P640500001", "国大药房（中卫鼓楼店）", "640502", "admitted", True),
    ("P640500002", "百草堂大药房（中宁店）", "640521", "admitted", False),
    ("P430100001", "老百姓大药房（五一大道店）", "430102", "admitted", True),
    ("P430100002", "益丰大药房（岳麓麓山店）", "430104", "admitted", True),
    ("P430100003", "九芝堂大药房（浏阳店）", "430181", "applied", False),
]

PHYSICIANS = [
    # code, name, institution, department, title, certifying, treating, areas, status
    ("D640500001", "王建国", "H640500001", "肿瘤内科", "chief", True, True, ["oncology"], "filed"),
    ("D640500002", "李秀兰", "H640500001", "肿瘤内科", "associate_chief", True, True, ["oncology", "hematology"], "filed"),
    ("D640500003", "马志强", "H640500001", "内分泌科", "associate_chief", True, True, ["endocrine"], "filed"),
    ("D640500004", "杨丽", "H640500001", "内分泌科", "chief", False, True, ["endocrine", "cardiovascular"], "filed"),
    ("D640500005", "张文博", "H640500001", "皮肤科", "associate_chief", True, True, ["immunology"], "filed"),
    ("D640500006", "丁海燕", "H640500001", "神经内科", "chief", True, True, ["neurology", "rare_disease"], "filed"),
    ("D640500007", "田永红", "H640500001", "神经内科", "associate_chief", False, True, ["rare_disease"], "proposed"),
    ("D640500008", "苏明", "H640500001", "感染科", "associate_chief", True, True, ["hepatitis", "hiv"], "filed"),
    ("D640500009", "何军", "H640500001", "眼科", "associate_chief", False, True, ["ophthalmology"], "revoked"),
    ("D640500010", "周静", "H640500002", "内科", "attending", False, True, ["endocrine", "cardiovascular"], "filed"),
    ("D640500011", "金涛", "H640500002", "内科", "associate_chief", False, True, ["oncology", "respiratory"], "filed"),
    ("D640500012", "罗晓梅", "H640500002", "肿瘤科", "attending", False, True, ["oncology"], "proposed"),
    ("D430100001", "刘志华", "H430100001", "肿瘤科", "chief", True, True, ["oncology"], "filed"),
    ("D430100002", "陈思远", "H430100001", "肿瘤科", "associate_chief", True, True, ["oncology", "hematology"], "filed"),
    ("D430100003", "黄蓉", "H430100001", "风湿免疫科", "chief", True, True, ["immunology"], "filed"),
    ("D430100004", "彭勇", "H430100001", "儿科", "associate_chief", True, True, ["rare_disease", "neurology"], "filed"),
    ("D430100005", "谭雅", "H430100001", "内分泌科", "associate_chief", True, True, ["endocrine"], "filed"),
    ("D430100006", "曾凡", "H430100002", "胸部内科", "chief", True, True, ["oncology"], "filed"),
    ("D430100007", "邓敏", "H430100002", "胸部内科", "associate_chief", True, True, ["oncology"], "filed"),
    ("D430100008", "欧阳琳", "H430100003", "内科", "associate_chief", False, True, ["endocrine", "hepatitis"], "filed"),
]

USERS = [
    # username, name, role, region, institution, pharmacy, superuser
    ("admin", "系统管理员", Role.BUREAU_ADMIN, "640500", None, None, True),
    ("reviewer", "赵审核", Role.BUREAU_REVIEWER, "640500", None, None, False),
    ("hospital", "中卫市人民医院医保办", Role.HOSPITAL, None, "H640500001", None, False),
    ("pharmacy", "国大药房（中卫鼓楼店）", Role.PHARMACY, None, None, "P640500001", False),
    ("admin_cs", "长沙医保局管理员", Role.BUREAU_ADMIN, "430100", None, None, False),
    ("reviewer_cs", "钱审核", Role.BUREAU_REVIEWER, "430100", None, None, False),
    ("hospital2", "中宁县人民医院医保办", Role.HOSPITAL, None, "H640500002", None, False),
    ("pharmacy2", "百草堂大药房（中宁店）", Role.PHARMACY, None, None, "P640500002", False),
    ("hospital_cs", "湘雅医院医保办", Role.HOSPITAL, None, "H430100001", None, False),
    ("pharmacy_cs", "老百姓大药房（五一大道店）", Role.PHARMACY, None, None, "P430100001", False),
]


def load_regions() -> dict[str, Region]:
    rows = json.loads((Path(settings.BASE_DIR) / "fixtures" / "regions.json").read_text(encoding="utf-8"))
    regions: dict[str, Region] = {}
    for code, name, level, parent in rows:
        regions[code], _ = Region.objects.update_or_create(
            code=code, defaults={"name": name, "level": level, "parent": regions.get(parent)})
    return regions


def load(*, today: dt.date, now: dt.datetime, stdout=None):
    regions = load_regions()
    RegionSettings.objects.get_or_create(region=regions["640500"], defaults={
        "attending_physician_allowed": True,  # 000: relaxation for the region
        "review_stages": ["physician", "pharmacy_dept", "insurance_office", "bureau"]})
    RegionSettings.objects.get_or_create(region=regions["430100"], defaults={
        "attending_physician_allowed": True,  # 001 第二十一条
        "review_stages": ["physician", "insurance_office", "bureau"],
        "deposit_rate": REGION_SETTINGS_PRESETS["hunan-2026"]["deposit_rate"]})  # R-SET-1: no deposit in Hunan
    policy_create_from_preset(region=regions["640500"], preset="zhongwei-2021", valid_from=dt.date(2021, 1, 1))
    policy_create_from_preset(region=regions["430100"], preset="hunan-2026", valid_from=dt.date(2026, 1, 1))
    _load_earlier_policy(regions["430100"], start=demo_start(today))

    areas = {a.code: a for a in TherapeuticArea.objects.all()}
    start = demo_start(today)  # agreements and filings cover the demo year (apps/demo/window.py)
    agreement = {"agreement_start": start, "agreement_end": dt.date(today.year + 1, 12, 31)}
    # Registries are built through the services, so the demo's status history (events) is real (R-INS-3).
    existing = set(Institution.objects.values_list("code", flat=True))
    for code, name, county, level, htype, specialty, kind, status in INSTITUTIONS:
        if code in existing:
            continue
        admitted = status == DesignationStatus.ADMITTED
        institution = institution_create(
            actor=None, code=code, name=name, region=regions[county], level=level, hospital_type=htype,
            specialty=areas.get(specialty), kind=kind,
            address=f"{regions[county].name}{name[-6:]}路{int(code[-3:]) * 17}号",
            contact_name="医保办", contact_phone=f"0955-70{code[-3:]}{code[-2:]}",
            has_clinical_department=True, sells_at_negotiated_price=True, info_system_capable=admitted,
        )
        if admitted:
            institution_admit(institution=institution, actor=None, agreement_no=f"SXT-{code}-{start.year}",
                              reason="演示数据：签订补充协议", now=now, **agreement)
    institutions = {i.code: i for i in Institution.objects.filter(code__in=[row[0] for row in INSTITUTIONS])}
    existing = set(Pharmacy.objects.values_list("code", flat=True))
    for code, name, county, status, cold in PHARMACIES:
        if code in existing:
            continue
        admitted = status == DesignationStatus.ADMITTED
        pharmacy = pharmacy_create(
            actor=None, code=code, name=name, region=regions[county], licence_no=f"湘/宁AA{code[-6:]}",
            address=f"{regions[county].name}{name[:4]}", contact_name="店长", contact_phone=f"139{code[-8:]}",
            has_business_licence=True, has_dedicated_storage=True, stocks_cold_chain=cold, has_cold_storage=cold,
            sells_at_or_below_price=True, has_licensed_pharmacist=True, traceability_capable=admitted,
            delivery_capable=True,
        )
        if admitted:
            pharmacy_admit(pharmacy=pharmacy, actor=None, agreement_no=f"SXT-{code}-{start.year}",
                           reason="演示数据：签订补充协议", now=now, **agreement)
    existing = set(Physician.objects.values_list("code", flat=True))
    for code, name, inst, dept, title, cert, treat, area_codes, status in PHYSICIANS:
        if code in existing:
            continue
        physician = physician_propose(
            actor=None, institution=institutions[inst], code=code, name=name, department=dept, title=title,
            is_certifying=cert, is_treating=treat, therapeutic_areas=[areas[c] for c in area_codes],
            phone=f"138{code[-8:]}", practice_licence_no=f"1106{code[-6:]}", now=now
        )
        if status in ("filed", "revoked"):
            physician_file(physician=physician, actor=None, filed_on=start, reason="演示数据", now=now)
        if status == "revoked":
            physician_revoke(physician=physician, actor=None, reason="演示数据：调离本院",
                             on=dt.date(today.year, max(today.month - 1, 1), 1), now=now)

    User = get_user_model()
    pharmacies = {p.code: p for p in Pharmacy.objects.all()}
    for username, name, role, region_code, inst, pharm, superuser in USERS:
        if User.objects.filter(username=username).exists():
            continue
        user = User(username=username, first_name=name, role=role, region=regions.get(region_code),
                    institution=institutions.get(inst), pharmacy=pharmacies.get(pharm),
                    is_superuser=superuser, is_staff=role == Role.BUREAU_ADMIN)
        user.password = demo_password_hash()
        user.save()
    _load_duty_holders(now=now)
    if stdout:
        stdout.write(f"  registries: {Institution.objects.count()} institutions, {Physician.objects.count()} "
                     f"physicians, {Pharmacy.objects.count()} pharmacies, {User.objects.count()} users")


def _load_earlier_policy(region: Region, *, start: dt.date) -> None:
    """The demo year may open before the region's first policy (Changsha's begins 2026-01-01, a migration seeds
    it): the months before are covered by a demo period with the same figures, so each of them can be dispensed
    and settled (R-PAY-1). Decision: a demo assumption, named as such."""
    first = PaymentPolicy.objects.filter(region=region).order_by("valid_from").first()
    if first is None or first.valid_from <= start:
        return
    values = {k: v for k, v in PRESETS[first.preset or "hunan-2026"].items() if k not in ("name", "source")}
    policy_create(actor=None, region=region, valid_from=start, valid_until=first.valid_from - dt.timedelta(days=1),
                  name=f"{region.name}双通道药品支付政策（{start.year}，演示：沿用次年参数）",
                  source="演示数据：演示年度早于本地区首个政策，沿用其参数", **values)


#: R-APP-4 pharmacy-department reviewers: (username, name, institution); the hospital users above are the
#: insurance offices (医保办) of their institutions
PHARMACY_DEPARTMENTS = [
    ("hospital_pharmdept", "中卫市人民医院药学部", "H640500001"),
    ("hospital2_pharmdept", "中宁县人民医院药学部", "H640500002"),
    ("hospital_cs_pharmdept", "湘雅医院药学部", "H430100001"),
]


def _load_duty_holders(*, now: dt.datetime) -> None:
    """R-APP-4: every hospital stage has its duty holder — each demo physician's own account (username = the
    physician code in lower case), a pharmacy-department user and the insurance office (the hospital user)."""
    User = get_user_model()
    admin = User.objects.get(username="admin")
    institutions = {i.code: i for i in Institution.objects.filter(code__in=[row[0] for row in INSTITUTIONS])}
    for code, name, inst, *_ in PHYSICIANS:
        physician = Physician.objects.get(code=code)
        if physician.user_id is not None:
            continue
        user = _demo_user(code.lower(), name, institutions[inst])
        physician_account_link(actor=admin, physician=physician, user=user)
    for username, name, inst in PHARMACY_DEPARTMENTS:
        hospital_duty_grant(actor=admin, institution=institutions[inst], user=_demo_user(username, name, institutions[inst]),
                            duty=HospitalDuty.Duty.PHARMACY_DEPT, now=now)
    for user in User.objects.filter(username__in=["hospital", "hospital2", "hospital_cs"]):
        hospital_duty_grant(actor=admin, institution=user.institution, user=user,
                            duty=HospitalDuty.Duty.INSURANCE_OFFICE, now=now)


def _demo_user(username: str, name: str, institution: Institution):
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, first_name=name, role=Role.HOSPITAL, institution=institution)
        user.password = demo_password_hash()
        user.save()
    return user
