"""Test data for prescriptions: an approved outpatient set-up in Zhongwei (zhongwei-2021 policy)."""
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from apps.applications.models import Application, InsuredPerson, Sex
from apps.catalogue.models import Drug, TherapeuticArea
from tests import factories as f

TZ = dt.timezone(dt.timedelta(hours=8))


def at(day: dt.date, hour: int = 9, minute: int = 30) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


_seq = {"n": 0}


def person(*, insured_region="640502", insurance_type="employee", name="张三") -> InsuredPerson:
    _seq["n"] += 1
    number = f.id_number(insured_region, seq=_seq["n"] % 999 + 1, birth=dt.date(1970, 1, 1) + dt.timedelta(days=_seq["n"]))
    return InsuredPerson.objects.create(
        id_number=number, name=name, sex=Sex.MALE if int(number[16]) % 2 else Sex.FEMALE,
        birth_date=dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
        insurance_type=insurance_type, insured_region=f.region(insured_region))


def approved_application(*, person, physician, drug, pharmacy=None, valid_from=dt.date(2026, 1, 1),
                         valid_until=dt.date(2027, 12, 31)) -> Application:
    _seq["n"] += 1
    return Application.objects.create(
        number=f"SQ{_seq['n']:010d}", person=person, insured_region=person.insured_region,
        institution=physician.institution, pharmacy=pharmacy, physician=physician, generic_name=drug.generic_name,
        therapeutic_area=drug.therapeutic_area, diagnosis_code="C34.9", diagnosis_name="肺恶性肿瘤",
        usage="80mg qd", course_days=90, status=Application.Status.APPROVED, submitted_at=timezone.now(),
        applied_on=valid_from, valid_from=valid_from, valid_until=valid_until)


@dataclass
class Setup:
    institution: object
    physician: object
    pharmacy: object
    drug: Drug
    person: InsuredPerson
    application: Application
    hospital: object
    pharmacist: object

    def upload_body(self, serial="RX0001", *, quantity=3, days_supply=30, issued_at=None, **extra) -> dict:
        body = {
            "serial_no": serial, "application": self.application.pk, "physician_code": self.physician.code,
            "pharmacy_code": self.pharmacy.code,
            "issued_at": (issued_at or timezone.now() - dt.timedelta(hours=1)).isoformat(),
            "long_term": False, "care_setting": "outpatient",
            "items": [{"drug_code": self.drug.code, "quantity": quantity, "days_supply": days_supply}],
            "signature": "SIG-abc",
        }
        body.update(extra)
        return body


def ensure_areas():
    """Transactional tests flush the data-migration rows: put back the areas the factories use."""
    for code, name, group in (("oncology", "肿瘤", "oncology"), ("endocrine", "内分泌", "chronic")):
        TherapeuticArea.objects.get_or_create(code=code, defaults={"name": name, "group": group})


def setup(*, insurance_type="employee", standard=Decimal("1000.00"), ratio=Decimal("0.1000")) -> Setup:
    ensure_areas()
    f.policy("640500", "zhongwei-2021")
    institution = f.InstitutionFactory()
    physician = f.PhysicianFactory(institution=institution)
    pharmacy = f.PharmacyFactory()
    drug = f.DrugFactory(payment_standard=standard, first_self_pay_ratio=ratio)
    p = person(insurance_type=insurance_type)
    application = approved_application(person=p, physician=physician, drug=drug, pharmacy=pharmacy)
    return Setup(institution=institution, physician=physician, pharmacy=pharmacy, drug=drug, person=p,
                 application=application, hospital=f.hospital_user(institution),
                 pharmacist=f.pharmacy_user(pharmacy))


_code = {"n": 10_000_000}


def trace_codes(n: int) -> list[str]:
    out = []
    for _ in range(n):
        _code["n"] += 1
        out.append(f"8{_code['n']:019d}")
    return out


def dispense_body(drug, quantity=3, unit_price="980.00", *, codes=None, dispensed_at=None) -> dict:
    return {"dispensed_at": (dispensed_at or timezone.now()).isoformat(),
            "items": [{"drug_code": drug.code, "quantity": quantity, "unit_price": unit_price,
                       "trace_codes": trace_codes(quantity) if codes is None else codes}]}
