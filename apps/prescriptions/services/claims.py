"""R-PAY-5 for bureau users: cross-region filings (异地就医备案) and manual claims (手工报销) computed by the R-PAY-3
engine and counted in the patient's year."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.applications.models import InsuredPerson
from apps.applications.selectors import application_covering
from apps.catalogue.models import Drug
from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.core.roles import BUREAU_ROLES
from apps.policies.models import CareSetting
from apps.policies.selectors import policy_for
from apps.prescriptions import engine
from apps.prescriptions.models import CrossRegionFiling, Dispensing, ManualClaim
from apps.prescriptions.selectors import payment_standards_on
from apps.prescriptions.sql_reads import locked_year_usage


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
    usage_row = locked_year_usage(person_id=person.pk, year=invoice_date.year, now=now)
    result = engine.settle(lines=inputs, terms=terms,
                           usage=engine.cap_usage(usage_row))
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
                 data={"invoice_no": invoice_no, "fund": str(result.fund_payment)}, now=now)
    return claim
