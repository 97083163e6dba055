"""Inputs of the procurement services (browser)."""
from django import forms
from django.utils.translation import gettext_lazy as _

from apps.procurement import importing

DATE = forms.DateInput(attrs={"type": "date"})


class RoundForm(forms.Form):
    code = forms.CharField(label=_("批次编号"), max_length=32)
    name = forms.CharField(label=_("批次名称"), max_length=128)


class ExtendForm(forms.Form):
    decision = forms.CharField(label=_("延长决定（文号或说明）"), widget=forms.Textarea(attrs={"rows": 2}))
    decided_on = forms.DateField(label=_("决定日期"), widget=DATE)


class DecomposeForm(forms.Form):
    cycle_year = forms.IntegerField(label=_("周期年度"), min_value=1, max_value=3)
    agreed_volume = forms.IntegerField(label=_("约定采购量（次年起填写，默认同首年）"), min_value=0, required=False)


class AdvanceForm(forms.Form):
    amount = forms.DecimalField(label=_("预付金额（元）"), max_digits=14, decimal_places=2)
    occurred_on = forms.DateField(label=_("拨付日期"), widget=DATE)
    cycle_year = forms.IntegerField(label=_("周期年度"), min_value=1, max_value=3, initial=1)
    reference = forms.CharField(label=_("凭证号"), max_length=64, required=False)


class SettleForm(forms.Form):
    firm = forms.CharField(label=_("中选企业"), max_length=128)
    amount = forms.DecimalField(label=_("结算金额（元）"), max_digits=14, decimal_places=2)
    occurred_on = forms.DateField(label=_("结算日期"), widget=DATE)
    reference = forms.CharField(label=_("凭证号"), max_length=64, required=False)


class RepaymentForm(forms.Form):
    invoice_no = forms.CharField(label=_("发票号"), max_length=64)
    amount = forms.DecimalField(label=_("回款金额（元）"), max_digits=14, decimal_places=2)
    paid_on = forms.DateField(label=_("回款日期"), widget=DATE)
    reference = forms.CharField(label=_("回款凭证号"), max_length=64, required=False)


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("导入类型"), choices=importing.KIND_CHOICES)
    round = forms.ChoiceField(label=_("批次（导入中选药品时选择）"), required=False)
    file = forms.FileField(label=_("Excel 文件（.xlsx）"))

    def __init__(self, *args, rounds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["round"].choices = [("", "—")] + [(str(r.pk), f"{r.name}（{r.code}）") for r in rounds]
