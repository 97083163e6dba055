"""Browser forms of the catalogue (inputs of the services; shapes only)."""
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalogue.models import Drug, ImportRun, TherapeuticArea
from apps.core.excel import registry as excel_registry

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DrugForm(forms.Form):
    code = forms.CharField(label=_("医保药品代码"), max_length=23, help_text=_("23位，X（西药）或 Z（中成药）开头"))
    generic_name = forms.CharField(label=_("通用名"), max_length=128)
    dosage_form = forms.CharField(label=_("剂型"), max_length=32)
    specification = forms.CharField(label=_("规格"), max_length=128)
    manufacturer = forms.CharField(label=_("生产企业"), max_length=128)
    category = forms.ChoiceField(label=_("类别"), choices=Drug.Category.choices)
    therapeutic_area = forms.ModelChoiceField(label=_("治疗领域"), queryset=TherapeuticArea.objects.all())
    route = forms.ChoiceField(label=_("给药途径"), choices=Drug.Route.choices)
    cold_chain = forms.BooleanField(label=_("冷链"), required=False)
    payment_standard = forms.DecimalField(label=_("支付标准（元）"), max_digits=14, decimal_places=2,
                                          min_value=Decimal("0.01"))
    first_self_pay_ratio = forms.DecimalField(label=_("先行自付比例（%）"), max_digits=7, decimal_places=2,
                                              min_value=0, max_value=100, initial=0)
    restricted_scope = forms.CharField(label=_("限定支付范围"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    agreement_start = forms.DateField(label=_("协议期开始"), widget=DATE)
    agreement_end = forms.DateField(label=_("协议期结束"), required=False, widget=DATE)
    effective_date = forms.DateField(label=_("支付标准生效日期"), required=False, widget=DATE,
                                     help_text=_("修改支付标准时填写，默认今日；原标准至前一日止"))

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["code"].disabled = True
        else:
            del self.fields["effective_date"]

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["first_self_pay_ratio"] = (data["first_self_pay_ratio"] / Decimal(100)).quantize(Decimal("0.0001"))
        data["restricted_scope"] = data.get("restricted_scope") or ""
        return data


class WithdrawForm(forms.Form):
    withdrawn_on = forms.DateField(label=_("调出日期"), widget=DATE, initial=timezone.localdate)
    reason = forms.ChoiceField(label=_("调出原因（001 第十七、十八条）"), choices=Drug.WithdrawalReason.choices)
    note = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("导入类型"), choices=ImportRun.Kind.choices, initial=ImportRun.Kind.DRUGS)
    file = forms.FileField(label=_("Excel 文件（.xlsx）"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".xlsx"}))
    effective_date = forms.DateField(label=_("支付标准生效日期"), required=False, widget=DATE,
                                     help_text=_("仅药品目录：本次变更的支付标准自该日起执行，默认今日"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # kinds other apps registered with the Excel engine for this generic upload (``generic_upload = True``),
        # e.g. the other fund use of R-PAY-3 step 4
        known = dict(ImportRun.Kind.choices)
        self.fields["kind"].choices = [*ImportRun.Kind.choices] + [
            (kind, excel_registry.get(kind).label) for kind in excel_registry.kinds()
            if kind not in known and getattr(excel_registry.get(kind), "generic_upload", False)]
