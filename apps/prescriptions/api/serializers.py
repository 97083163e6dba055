"""The prescriptions API's shapes: what a request may contain (``…In``) and what every response is (``…Out``). The
output serializers ARE the responses — the views render model instances through them — so the OpenAPI schema at
``/api/schema/`` describes exactly what is sent (``tests/prescriptions/test_api_schema.py`` pins it)."""
from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from apps.core.masking import mask_id_number
from apps.policies.models import CareSetting
from apps.prescriptions.models import Delivery, Dispensing, Prescription, StockMovement
from apps.prescriptions.selectors import prescription_items

MONEY = {"max_digits": 14, "decimal_places": 2}
RATIO = {"max_digits": 5, "decimal_places": 4}


def valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- input shapes ------------------------------------------------------------------------------------------------

class PatientIn(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    id_number = serializers.CharField(max_length=18)
    insurance_type = serializers.CharField(max_length=10)
    insured_region = serializers.CharField(max_length=6)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    card_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    employer = serializers.CharField(max_length=128, required=False, allow_blank=True)


class UploadItemIn(serializers.Serializer):
    drug_code = serializers.CharField(max_length=23)
    quantity = serializers.IntegerField(min_value=1, max_value=10000)
    days_supply = serializers.IntegerField(min_value=1, max_value=366)


class UploadIn(serializers.Serializer):
    serial_no = serializers.CharField(max_length=64)
    application = serializers.IntegerField(required=False, allow_null=True)
    physician_code = serializers.CharField(max_length=20)
    pharmacy_code = serializers.CharField(max_length=20)
    issued_at = serializers.DateTimeField()
    long_term = serializers.BooleanField(required=False, default=False)
    care_setting = serializers.ChoiceField(choices=CareSetting.choices, required=False, default=CareSetting.OUTPATIENT)
    items = UploadItemIn(many=True, allow_empty=False)
    signature = serializers.CharField()
    patient = PatientIn(required=False, allow_null=True)
    delivery = serializers.ChoiceField(choices=Delivery.choices, required=False, allow_blank=True, default="")


class DispenseItemIn(serializers.Serializer):
    drug_code = serializers.CharField(max_length=23)
    quantity = serializers.IntegerField(min_value=1, max_value=10000)
    unit_price = serializers.DecimalField(min_value=0, **MONEY)
    trace_codes = serializers.ListField(child=serializers.CharField(max_length=40), required=False, allow_null=True)


class DispenseIn(serializers.Serializer):
    dispensed_at = serializers.DateTimeField()
    items = DispenseItemIn(many=True, allow_empty=False)


class QuoteIn(DispenseIn):
    dispensed_at = serializers.DateTimeField(required=False, allow_null=True)


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class DeclineIn(serializers.Serializer):
    reason = serializers.ChoiceField(choices=Prescription.DeclineReason.choices)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ReverseIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class StockMovementIn(serializers.Serializer):
    drug_code = serializers.CharField(max_length=23)
    kind = serializers.ChoiceField(choices=StockMovement.Kind.choices)
    quantity = serializers.IntegerField(min_value=1, max_value=1000000)
    unit_price = serializers.DecimalField(min_value=0, **MONEY)
    occurred_at = serializers.DateTimeField()


class ClaimLineIn(serializers.Serializer):
    drug_code = serializers.CharField(max_length=23)
    quantity = serializers.IntegerField(min_value=1, max_value=10000)
    unit_price = serializers.DecimalField(min_value=Decimal("0.01"), help_text="invoice unit price", **MONEY)


class ManualClaimIn(serializers.Serializer):
    id_number = serializers.CharField(max_length=18, help_text="the insured person's ID number (insured in your region)")
    invoice_no = serializers.CharField(max_length=64)
    invoice_date = serializers.DateField()
    provider_name = serializers.CharField(max_length=128)
    care_setting = serializers.ChoiceField(choices=CareSetting.choices, required=False, default=CareSetting.OUTPATIENT)
    dispensing = serializers.IntegerField(required=False, allow_null=True,
                                          help_text="optional: the self-paid dispensing in this system it refunds")
    lines = ClaimLineIn(many=True, allow_empty=False, max_length=50)


class CrossRegionFilingIn(serializers.Serializer):
    id_number = serializers.CharField(max_length=18)
    treatment_region = serializers.CharField(max_length=6, help_text="the treatment region's code, outside your region, e.g. 430100")
    filing_no = serializers.CharField(max_length=64)
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(required=False, allow_null=True, default=None)
    direct_settlement = serializers.BooleanField(required=False, default=True)


# --- output shapes -----------------------------------------------------------------------------------------------

class Money(serializers.DecimalField):
    def __init__(self, **kwargs):
        super().__init__(**MONEY, **kwargs)


class Ratio(serializers.DecimalField):
    def __init__(self, **kwargs):
        super().__init__(**RATIO, **kwargs)


class MaskedIdNumber(serializers.CharField):
    """An ID number shown masked (R-SEC-2)."""

    def to_representation(self, value):
        return mask_id_number(value)


class YearMonth(serializers.CharField):
    """A month as ``YYYY-MM`` (from the first day of it)."""

    def to_representation(self, value):
        return f"{value:%Y-%m}"


class RegionCode(serializers.CharField):
    def to_representation(self, value):
        return value.code


class PatientOut(serializers.Serializer):
    name = serializers.CharField()
    id_number = MaskedIdNumber(help_text="masked (R-SEC-2)")
    insurance_type = serializers.CharField()


class ItemOut(serializers.Serializer):
    drug_code = serializers.CharField(source="drug.code")
    generic_name = serializers.CharField(source="drug.generic_name")
    specification = serializers.CharField(source="drug.specification")
    quantity = serializers.IntegerField()
    days_supply = serializers.IntegerField()


class PrescriptionItems(serializers.ListSerializer):
    """A prescription's items: the prefetched ones (lists), else read in id order with their drugs."""

    def to_representation(self, prescription):
        prefetched = getattr(prescription, "_prefetched_objects_cache", {}).get("items")
        return super().to_representation(prefetched if prefetched is not None else prescription_items(prescription))


class PrescriptionOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    serial_no = serializers.CharField()
    status = serializers.ChoiceField(choices=Prescription.Status.choices)
    expires_at = serializers.DateTimeField()
    issued_at = serializers.DateTimeField()
    institution_code = serializers.CharField(source="institution.code")
    institution_name = serializers.CharField(source="institution.name")
    physician_code = serializers.CharField(source="physician.code")
    physician_name = serializers.CharField(source="physician.name")
    pharmacy_code = serializers.CharField(source="pharmacy.code")
    pharmacy_name = serializers.CharField(source="pharmacy.name")
    application = serializers.IntegerField(source="application_id", allow_null=True)
    patient = PatientOut(source="person")
    long_term = serializers.BooleanField()
    care_setting = serializers.CharField()
    delivery = serializers.ChoiceField(choices=Delivery.choices)
    downloaded_at = serializers.DateTimeField(allow_null=True)
    status_changed_at = serializers.DateTimeField(allow_null=True)
    cancel_reason = serializers.CharField()
    decline_reason = serializers.CharField()
    decline_note = serializers.CharField()
    items = PrescriptionItems(child=ItemOut(), source="*")


class UploadOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    serial_no = serializers.CharField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    delivery = serializers.CharField()


class SettlementOut(serializers.Serializer):
    """R-PAY-3 figures of a dispensing, a quote or a manual claim."""

    total = Money()
    first_self_pay = Money()
    in_scope = Money()
    deductible = Money()
    fund_payment = Money()
    personal_payment = Money()


class LineOut(serializers.Serializer):
    drug_code = serializers.CharField(source="drug.code")
    quantity = serializers.IntegerField()
    unit_price = Money()
    line_total = Money()
    payment_standard = Money()
    first_self_pay_ratio = Ratio()
    reimbursement_ratio = Ratio()
    first_self_pay = Money()
    in_scope = Money()
    fund_payment = Money()
    personal_payment = Money()


class DispensingLines(serializers.ListSerializer):
    """A dispensing's lines: those the dispensing service just wrote (``lines_cache``), the prefetched ones (lists),
    else read with their drugs."""

    def to_representation(self, dispensing):
        lines = getattr(dispensing, "lines_cache", None)
        if lines is None:
            lines = getattr(dispensing, "_prefetched_objects_cache", {}).get("lines")
        if lines is None:
            lines = dispensing.lines.select_related("drug")
        return super().to_representation(lines)


class DispensingOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    prescription = serializers.IntegerField(source="prescription_id")
    kind = serializers.ChoiceField(choices=Dispensing.Kind.choices)
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True)
    dispensed_at = serializers.DateTimeField()
    period = YearMonth(help_text="YYYY-MM, the settlement month it counts in")
    settlement_mode = serializers.ChoiceField(source="settlement", choices=Dispensing.Settlement.choices)
    policy = serializers.IntegerField(source="policy_id")
    delivery = serializers.CharField()
    settlement = SettlementOut(source="*")
    lines = DispensingLines(child=LineOut(), source="*")


class QuoteLineOut(serializers.Serializer):
    """One line of a quote (R-PAY-3), in the order of the request's items."""

    quantity = serializers.IntegerField()
    unit_price = Money()
    line_total = Money()
    first_self_pay = Money()
    in_scope = Money()
    fund_payment = Money()
    personal_payment = Money()


class QuoteOut(serializers.Serializer):
    """What dispensing would settle, without writing anything: ``{"prescription", "settlement", "lines"}``."""

    prescription = serializers.IntegerField()
    settlement = SettlementOut()
    lines = QuoteLineOut(many=True)


class DispensingsInOrder(serializers.ListSerializer):
    def to_representation(self, prescription):
        return super().to_representation(prescription.dispensings.order_by("id"))


class PrescriptionDetailOut(PrescriptionOut):
    dispensings = DispensingsInOrder(child=DispensingOut(), source="*")


class MovementOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    pharmacy_code = serializers.CharField(source="pharmacy.code")
    drug_code = serializers.CharField(source="drug.code")
    kind = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = Money()
    occurred_at = serializers.DateTimeField()


class StockRowOut(serializers.Serializer):
    drug_code = serializers.CharField(source="drug.code")
    generic_name = serializers.CharField(source="drug.generic_name")
    purchased = serializers.IntegerField()
    returned = serializers.IntegerField()
    dispensed = serializers.IntegerField()
    on_hand = serializers.IntegerField()


class StockOut(serializers.Serializer):
    pharmacy_code = serializers.CharField(source="pharmacy.code")
    results = StockRowOut(many=True, source="rows")


class ClaimLineOut(serializers.Serializer):
    """One invoice line of a manual claim as recorded (``ManualClaim.lines``)."""

    drug_code = serializers.CharField()
    generic_name = serializers.CharField(required=False)
    quantity = serializers.IntegerField()
    invoice_unit_price = Money(required=False)
    unit_price = Money(required=False, help_text="settled price: the invoice price, at most the payment standard")
    payment_standard = Money(required=False)
    first_self_pay_ratio = Ratio()
    line_total = Money(required=False)
    fund_payment = Money(required=False)


class ManualClaimOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    patient = PatientOut(source="person")
    region = RegionCode(help_text="region code of the bureau that recorded it")
    insured_region = RegionCode()
    insurance_type = serializers.CharField()
    care_setting = serializers.ChoiceField(choices=CareSetting.choices)
    policy = serializers.IntegerField(source="policy_id")
    dispensing = serializers.IntegerField(source="dispensing_id", allow_null=True)
    invoice_no = serializers.CharField()
    invoice_date = serializers.DateField()
    provider_name = serializers.CharField()
    settlement = SettlementOut(source="*")
    deductible_met_before = Money()
    fund_paid_before = Money()
    lines = ClaimLineOut(many=True)
    created_at = serializers.DateTimeField()


class CrossRegionFilingOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    filing_no = serializers.CharField()
    patient = PatientOut(source="person")
    insured_region = RegionCode()
    treatment_region = RegionCode()
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(allow_null=True)
    direct_settlement = serializers.BooleanField()
    created_at = serializers.DateTimeField()
