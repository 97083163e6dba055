"""Browser forms of applications: shapes only; rules live in the services."""
from django import forms
from django.utils.translation import gettext_lazy as _

from apps.applications.models import Application, ApplicationDocument, Stage
from apps.policies.models import InsuranceType

DATE = forms.DateInput(attrs={"type": "date"})


class ApplicationCreateForm(forms.Form):
    """The 001 附件 申请表 fields (R-APP-2), filled in by the hospital."""

    name = forms.CharField(label=_("姓名"), max_length=64)
    id_number = forms.CharField(label=_("身份证号"), min_length=18, max_length=18)
    sex = forms.ChoiceField(label=_("性别"), choices=[("", "—"), ("male", "男"), ("female", "女")], required=False,
                            help_text=_("填写后须与身份证号一致"))
    age = forms.IntegerField(label=_("年龄"), required=False, min_value=0, max_value=150,
                             help_text=_("填写后须与身份证号一致"))
    card_number = forms.CharField(label=_("医保卡号"), max_length=32, required=False)
    insurance_type = forms.ChoiceField(label=_("人员类别"), choices=InsuranceType.choices)
    insured_region = forms.RegexField(label=_("参保地（区划代码）"), regex=r"^\d{6}$", max_length=6,
                                      error_messages={"invalid": _("应为6位行政区划代码")})
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    employer = forms.CharField(label=_("工作单位"), max_length=128, required=False)
    pharmacy_code = forms.ChoiceField(label=_("享受待遇定点零售药店"), required=False)
    diagnosis_code = forms.CharField(label=_("疾病诊断编码（ICD-10）"), max_length=16)
    diagnosis_name = forms.CharField(label=_("疾病诊断名称"), max_length=128)
    generic_name = forms.CharField(label=_("申请使用药品（通用名）"), max_length=128)
    dosage_form = forms.CharField(label=_("剂型"), max_length=32, required=False,
                                  help_text=_("同一通用名有多个剂型时必填：一个申请只覆盖一个剂型"))
    physician_code = forms.ChoiceField(label=_("责任医师"))
    usage = forms.CharField(label=_("药品用法"), max_length=128)
    course_days = forms.IntegerField(label=_("疗程（天）"), min_value=1, max_value=3650)
    first_use_on = forms.DateField(label=_("首次用药日期"), required=False, widget=DATE,
                                   help_text=_("仅参保地允许先用药后备案时填写"))

    # The two sections of the printed 申请表, by exact field name (never a substring test: "name" is inside
    # "diagnosis_name" and "age" inside "usage").
    PATIENT_FIELDS = ("name", "id_number", "sex", "age", "card_number", "insurance_type", "insured_region", "phone",
                      "employer")
    HOSPITAL_FIELDS = ("pharmacy_code", "diagnosis_code", "diagnosis_name", "generic_name", "dosage_form",
                       "physician_code", "usage", "course_days", "first_use_on")

    def __init__(self, *args, physicians=(), pharmacies=(), **kwargs):
        super().__init__(*args, **kwargs)
        assert set(self.PATIENT_FIELDS) | set(self.HOSPITAL_FIELDS) == set(self.fields), "every field in one section"
        self.fields["physician_code"].choices = [("", "—")] + [
            (p.code, f"{p.name}（{p.code}，{p.department}）") for p in physicians]
        self.fields["pharmacy_code"].choices = [("", _("不选择（仅在医院购药）"))] + [
            (p.code, f"{p.name}（{p.code}）") for p in pharmacies]

    def patient_section(self):
        return [self[name] for name in self.PATIENT_FIELDS]

    def hospital_section(self):
        return [self[name] for name in self.HOSPITAL_FIELDS]

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "patient": {"name": d["name"], "id_number": d["id_number"].upper(), "insurance_type": d["insurance_type"],
                        "insured_region": d["insured_region"], "phone": d["phone"], "card_number": d["card_number"],
                        "employer": d["employer"], "sex": d["sex"] or None, "age": d["age"]},
            "physician_code": d["physician_code"], "pharmacy_code": d["pharmacy_code"],
            "generic_name": d["generic_name"], "dosage_form": d.get("dosage_form", ""),
            "diagnosis_code": d["diagnosis_code"],
            "diagnosis_name": d["diagnosis_name"], "usage": d["usage"], "course_days": d["course_days"],
            "first_use_on": d["first_use_on"],
        }


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("审核结论"), widget=forms.RadioSelect, choices=[
        ("approve", _("同意")), ("reject", _("不同意")), ("return", _("退回补充材料"))])
    opinion = forms.CharField(label=_("审核意见"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 4}),
                              help_text=_("不同意或退回时必须填写理由"))
    valid_until = forms.DateField(label=_("核定有效期止"), required=False, widget=DATE,
                                  help_text=_("留空则至申请次年12月31日"))


class ResubmitForm(forms.Form):
    note = forms.CharField(label=_("补充说明"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("材料类型"), choices=ApplicationDocument.Kind.choices)
    file = forms.FileField(label=_("文件（PDF、JPEG、PNG）"), allow_empty_file=True)


class QueueFilterForm(forms.Form):
    stage = forms.ChoiceField(label=_("环节"), required=False, choices=[("", _("全部"))] + list(Stage.choices))
    status = forms.ChoiceField(label=_("状态"), required=False,
                               choices=[("", _("待处理"))] + list(Application.Status.choices))
    generic_name = forms.CharField(label=_("药品"), required=False, max_length=128)
    institution = forms.CharField(label=_("医疗机构编码"), required=False, max_length=20)
    region = forms.CharField(label=_("参保地代码"), required=False, max_length=6)
    due = forms.ChoiceField(label=_("办结时限"), required=False, choices=[
        ("", _("全部")), ("overdue", _("已超时")), ("today", _("今日到期")), ("week", _("7日内到期"))])
    q = forms.CharField(label=_("编号/姓名"), required=False, max_length=64)


class LookupForm(forms.Form):
    number = forms.CharField(label=_("申请编号"), max_length=24)
    id_suffix = forms.CharField(label=_("身份证号后六位"), min_length=6, max_length=6)


class FilingDecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("备案结论"), widget=forms.RadioSelect,
                                 choices=[("file", _("予以备案")), ("reject", _("不予备案"))])
    reason = forms.CharField(label=_("意见"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}), help_text=_("不予备案时必须填写理由"))
    valid_until = forms.DateField(label=_("备案有效期至"), required=False, widget=DATE)
