"""factory_boy factories for the foundation models. Apps add theirs in ``tests/<app>/factories.py``."""
import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from apps.core.roles import Role
from apps.catalogue.models import Drug, PaymentStandard, TherapeuticArea
from apps.core.idnumber import make_id_number
from apps.core.models import DesignationStatus, Region
from apps.institutions.models import Institution
from apps.pharmacies.models import Pharmacy
from apps.physicians.models import Physician
from apps.policies.models import PaymentPolicy
from apps.policies.presets import PRESETS

PASSWORD = "test-pass-2026"


def region(code: str, name: str | None = None) -> Region:
    """Get or create a region by code with its parents (province XX0000, city XXYY00)."""
    level = "province" if code.endswith("0000") else "city" if code.endswith("00") else "county"
    parent = None
    if level == "city":
        parent = region(code[:2] + "0000")
    elif level == "county":
        parent = region(code[:4] + "00")
    obj, _ = Region.objects.get_or_create(code=code, defaults={"name": name or f"区划{code}", "level": level,
                                                               "parent": parent})
    return obj


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution

    code = factory.Sequence(lambda n: f"H640500{n:03d}")
    name = factory.Sequence(lambda n: f"测试医院{n}")
    region = factory.LazyFunction(lambda: region("640502"))
    level = Institution.Level.LEVEL_3
    kind = Institution.Kind.CERTIFYING
    status = DesignationStatus.ADMITTED
    has_clinical_department = True
    sells_at_negotiated_price = True
    info_system_capable = True
    agreement_start = dt.date(2026, 1, 1)
    agreement_end = dt.date(2027, 12, 31)


class PharmacyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pharmacy

    code = factory.Sequence(lambda n: f"P640500{n:03d}")
    name = factory.Sequence(lambda n: f"测试大药房{n}")
    region = factory.LazyFunction(lambda: region("640502"))
    status = DesignationStatus.ADMITTED
    has_business_licence = True
    has_dedicated_storage = True
    has_cold_storage = True
    sells_at_or_below_price = True
    has_licensed_pharmacist = True
    traceability_capable = True
    delivery_capable = True
    agreement_start = dt.date(2026, 1, 1)
    agreement_end = dt.date(2027, 12, 31)


def area(code: str = "oncology") -> TherapeuticArea:
    return TherapeuticArea.objects.get(code=code)


class PhysicianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Physician
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"D640500{n:03d}")
    name = factory.Sequence(lambda n: f"医师{n}")
    institution = factory.SubFactory(InstitutionFactory)
    department = "肿瘤内科"
    title = Physician.Title.ASSOCIATE_CHIEF
    is_certifying = True
    is_treating = True
    status = Physician.Status.FILED
    filed_on = dt.date(2026, 1, 1)

    @factory.post_generation
    def areas(self, create, extracted, **kwargs):
        if create:
            self.therapeutic_areas.set([area(c) for c in (extracted or ["oncology"])])


class DrugFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Drug
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"XL01XEA{n:016d}")
    generic_name = "奥希替尼"
    dosage_form = "片剂"
    specification = "80mg*30片"
    manufacturer = "阿斯利康制药有限公司"
    category = Drug.Category.NEGOTIATED
    therapeutic_area = factory.LazyFunction(lambda: area("oncology"))
    route = Drug.Route.ORAL
    payment_standard = Decimal("1000.00")
    first_self_pay_ratio = Decimal("0.1000")
    agreement_start = dt.date(2026, 1, 1)
    agreement_end = dt.date(2027, 12, 31)

    @factory.post_generation
    def standard(self, create, extracted, **kwargs):
        if create:
            PaymentStandard.objects.get_or_create(drug=self, valid_from=self.agreement_start,
                                                  defaults={"amount": self.payment_standard})


def policy(region_code: str = "640500", preset: str = "zhongwei-2021",
           valid_from: dt.date = dt.date(2021, 1, 1)) -> PaymentPolicy:
    values = dict(PRESETS[preset])
    name = values.pop("name")
    source = values.pop("source")
    obj, _ = PaymentPolicy.objects.get_or_create(
        region=region(region_code), valid_from=valid_from,
        defaults={"preset": preset, "name": name, "source": source, **values},
    )
    return obj


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.BUREAU_REVIEWER
    region = factory.LazyFunction(lambda: region("640500"))
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


def bureau_admin(region_code="640500", **kw):
    return UserFactory(role=Role.BUREAU_ADMIN, region=region(region_code), **kw)


def system_admin(region_code="640500", **kw):
    """A system-wide administrator (superuser): the only role that writes shared reference data — the national
    catalogue, payment standards, withdrawals, the holiday calendar (R-SEC-1)."""
    return UserFactory(role=Role.BUREAU_ADMIN, region=region(region_code), is_superuser=True, is_staff=True, **kw)


def reviewer(region_code="640500", **kw):
    return UserFactory(role=Role.BUREAU_REVIEWER, region=region(region_code), **kw)


def hospital_user(institution=None, **kw):
    return UserFactory(role=Role.HOSPITAL, region=None, institution=institution or InstitutionFactory(), **kw)


def pharmacy_user(pharmacy=None, **kw):
    return UserFactory(role=Role.PHARMACY, region=None, pharmacy=pharmacy or PharmacyFactory(), **kw)


def id_number(region_code="640502", birth=dt.date(1980, 1, 1), seq=1, female=False) -> str:
    return make_id_number(region_code, birth, seq, female=female)
