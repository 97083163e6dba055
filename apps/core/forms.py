"""Forms shared by the registry pages and the admin actions (inputs of the lifecycle services)."""
from django import forms
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ApplicationError
from apps.core.models import Sanction


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), widget=forms.Textarea(attrs={"rows": 3}))


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(label="说明", required=False, widget=forms.Textarea(attrs={"rows": 3}))


class AgreementForm(forms.Form):
    agreement_no = forms.CharField(label="补充协议编号", max_length=64)
    agreement_start = forms.DateField(label="协议开始", widget=forms.DateInput(attrs={"type": "date"}))
    agreement_end = forms.DateField(label="协议结束", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label="说明", required=False)


class SanctionForm(forms.Form):
    kind = forms.ChoiceField(label=_("处理方式"), choices=Sanction.Kind.choices)
    decided_on = forms.DateField(label=_("决定日期"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("事由"), widget=forms.Textarea(attrs={"rows": 2}))
    amount = forms.DecimalField(label=_("金额（元）"), max_digits=14, decimal_places=2, required=False)
    deadline = forms.DateField(label=_("整改期限"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


def apply_error_to_form(form: forms.Form, exc: ApplicationError) -> bool:
    """Show a service refusal on the form once (issue 15: one error, one message). A refusal about one field of
    the form is shown at that field with the full explanation; about several fields, each field gets its own
    message; otherwise the explanation goes on top. Returns whether it was placed on fields."""
    placed = [name for name in (exc.fields or {}) if name in form.fields]
    if len(placed) == 1 and len(exc.fields) == 1:
        form.add_error(placed[0], exc.message)
    elif placed:
        for name in placed:
            for message in exc.fields[name]:
                form.add_error(name, message)
    else:
        form.add_error(None, exc.message)
    return bool(placed)
