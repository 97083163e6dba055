"""Browser forms of prescriptions: shapes only; the services decide."""
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.policies.models import CareSetting
from apps.prescriptions.models import Prescription, StockMovement
from apps.prescriptions.services.claims import ClaimLine
from apps.prescriptions.services.dispensing import DispenseItem


class PrescriptionFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), required=False, choices=[("", _("全部"))] + Prescription.Status.choices)
    date_from = forms.DateField(label=_("开具日期起"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("开具日期止"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    patient = forms.CharField(label=_("参保人（姓名或身份证号后几位）"), required=False, max_length=64)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("撤销原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class DeclineForm(forms.Form):
    reason = forms.ChoiceField(label=_("拒配原因"), choices=Prescription.DeclineReason.choices)
    note = forms.CharField(label=_("说明"), max_length=255, required=False)


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("冲正原因"), max_length=500)


class DispenseForm(forms.Form):
    """One quantity, unit price and trace-code box per prescription item (R-RX-5)."""

    def __init__(self, *args, items, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = list(items)
        for item in self.items:
            self.fields[f"qty_{item.pk}"] = forms.IntegerField(
                label=_("数量（盒）"), min_value=0, max_value=10000, initial=item.quantity)
            self.fields[f"price_{item.pk}"] = forms.DecimalField(
                label=_("单价（元）"), min_value=Decimal("0"), max_digits=14, decimal_places=2,
                initial=item.drug.payment_standard)
            self.fields[f"codes_{item.pk}"] = forms.CharField(
                label=_("追溯码（每盒一个，每行一个）"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def rows(self):
        return [(item, self[f"qty_{item.pk}"], self[f"price_{item.pk}"], self[f"codes_{item.pk}"])
                for item in self.items]

    def dispense_items(self, *, with_codes: bool):
        out = []
        for item in self.items:
            quantity = self.cleaned_data[f"qty_{item.pk}"]
            if not quantity:
                continue
            raw = self.cleaned_data.get(f"codes_{item.pk}") or ""
            codes = [c.strip() for c in raw.replace(",", "\n").splitlines() if c.strip()]
            out.append(DispenseItem(drug_code=item.drug.code, quantity=quantity,
                                    unit_price=self.cleaned_data[f"price_{item.pk}"],
                                    trace_codes=codes if (with_codes or codes) else None))
        return out


class StockMovementForm(forms.Form):
    drug_code = forms.CharField(label=_("医保药品代码"), max_length=23)
    kind = forms.ChoiceField(label=_("类型"), choices=StockMovement.Kind.choices)
    quantity = forms.IntegerField(label=_("数量（盒）"), min_value=1)
    unit_price = forms.DecimalField(label=_("单价（元）"), min_value=0, max_digits=14, decimal_places=2)
    occurred_at = forms.DateTimeField(label=_("发生时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class UsageSearchForm(forms.Form):
    q = forms.CharField(label=_("身份证号或姓名"), max_length=64, required=False)
    year = forms.IntegerField(label=_("年度"), min_value=2000, max_value=2100, required=False)


class ManualClaimForm(forms.Form):
    id_number = forms.CharField(label=_("参保人身份证号"), max_length=18)
    invoice_no = forms.CharField(label=_("发票号"), max_length=64)
    invoice_date = forms.DateField(label=_("发票日期"), widget=forms.DateInput(attrs={"type": "date"}))
    provider_name = forms.CharField(label=_("开票机构"), max_length=128)
    care_setting = forms.ChoiceField(label=_("就医类型"), choices=CareSetting.choices)


class ClaimLineForm(forms.Form):
    """One invoice line of a manual claim; the payment standard and first self-pay ratio come from the catalogue
    on the invoice date (the service looks them up), so only what is printed on the invoice is entered."""

    drug_code = forms.CharField(label=_("医保药品代码"), max_length=23,
                                widget=forms.TextInput(attrs={"size": 26, "autocomplete": "off"}))
    quantity = forms.IntegerField(label=_("数量（盒）"), min_value=1, max_value=10000)
    unit_price = forms.DecimalField(label=_("发票单价（元）"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2)


class BaseClaimLineFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        if not self.filled_forms():
            raise forms.ValidationError(_("请至少填写一行发票明细"), code="no_lines")

    def filled_forms(self):
        return [form for form in self.forms if form.has_changed() and form.cleaned_data]

    def claim_lines(self):
        return [ClaimLine(form.cleaned_data["drug_code"].strip().upper(), form.cleaned_data["quantity"],
                          form.cleaned_data["unit_price"]) for form in self.filled_forms()]


# R-PAY-5: up to 5 blank rows are shown, a blank row is ignored, at least one row must be filled in.
ClaimLineFormSet = forms.formset_factory(ClaimLineForm, formset=BaseClaimLineFormSet, extra=5, max_num=20,
                                         validate_max=True)


class CrossRegionFilingForm(forms.Form):
    id_number = forms.CharField(label=_("参保人身份证号"), max_length=18)
    treatment_region = forms.CharField(label=_("就医地区划代码"), max_length=6,
                                       help_text=_("本统筹区内的区划代码，如 640500"))
    filing_no = forms.CharField(label=_("备案号"), max_length=64)
    valid_from = forms.DateField(label=_("有效期起"), widget=forms.DateInput(attrs={"type": "date"}))
    valid_until = forms.DateField(label=_("有效期止"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    direct_settlement = forms.BooleanField(label=_("直接结算"), required=False, initial=True)
