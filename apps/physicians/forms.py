from django import forms
from django.utils.translation import gettext_lazy as _

from apps.catalogue.models import TherapeuticArea
from apps.core.models import DesignationStatus
from apps.institutions.selectors import institutions_visible_to
from apps.physicians.models import Physician


class ProposeForm(forms.Form):
    institution = forms.ModelChoiceField(label=_("执业机构"), queryset=None)
    name = forms.CharField(label=_("姓名"), max_length=64)
    department = forms.CharField(label=_("科室"), max_length=64)
    title = forms.ChoiceField(label=_("职称"), choices=Physician.Title.choices)
    is_certifying = forms.BooleanField(label=_("认定医师"), required=False, help_text=_("须在认定类机构"))
    is_treating = forms.BooleanField(label=_("诊治医师"), required=False, initial=True)
    therapeutic_areas = forms.ModelMultipleChoiceField(label=_("治疗领域"), queryset=TherapeuticArea.objects.all(),
                                                       widget=forms.CheckboxSelectMultiple)
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    practice_licence_no = forms.CharField(label=_("执业证书编号"), max_length=64, required=False)
    no_insurance_sanction_3y = forms.BooleanField(label=_("近三年无医保处理"), required=False, initial=True)
    no_pharmacy_incident_3y = forms.BooleanField(label=_("近三年无药事事故"), required=False, initial=True)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = institutions_visible_to(user).filter(
            status__in=(DesignationStatus.ADMITTED, DesignationStatus.APPLIED))
        if user.is_hospital:
            self.fields["institution"].initial = user.institution_id
            self.fields["institution"].disabled = True


class FileForm(forms.Form):
    filed_on = forms.DateField(label=_("备案日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    valid_until = forms.DateField(label=_("备案有效期至"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("说明"), required=False)


class DatedReasonForm(forms.Form):
    on = forms.DateField(label=_("生效日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                         help_text=_("默认今天"))
    reason = forms.CharField(label=_("原因"), widget=forms.Textarea(attrs={"rows": 2}))
