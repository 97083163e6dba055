"""Excel layout of the institution registry (R-INS-1, Excel import R-CAT-2): the columns are declared once on the spec (template,
export and import); imported rows are created and changed by ``apps.institutions.services`` so model validation,
R-INS-2 and the events hold for them as for the REST API. Registered in ``InstitutionsConfig.ready()``."""
from __future__ import annotations

from import_export import widgets

from apps.catalogue.models import TherapeuticArea
from apps.core.excel import engine as imp
from apps.core.excel.widgets import label_of, yes_no_label
from apps.core.models import Region
from apps.institutions import services
from apps.institutions.models import Institution
from apps.institutions.selectors import institutions_visible_to

H = {
    "code": "机构编码", "name": "机构名称", "region": "所在县区", "address": "地址", "contact_name": "联系人",
    "contact_phone": "联系电话", "level": "医院等级", "hospital_type": "医院类型", "specialty": "专科领域",
    "kind": "机构类别", "has_clinical_department": "具备相应临床科室", "sells_at_negotiated_price": "按谈判价格销售",
    "info_system_capable": "信息系统可审核流转追溯处方", "no_penalty_past_year": "近一年无医保或卫健处罚",
    "agreement_no": "补充协议编号", "agreement_start": "协议开始", "agreement_end": "协议结束",
}


def _level(value):
    labels = {str(label): v for v, label in Institution.Level.choices}
    if imp.is_blank(value):
        raise imp.CellError("必填，应为 一级 / 二级 / 三级")
    s = str(int(value)) if isinstance(value, (int, float)) else str(value).strip()
    if s in labels:
        return labels[s]
    if s in {"1", "2", "3"}:
        return int(s)
    raise imp.CellError(f"未知医院等级“{s}”，应为 一级 / 二级 / 三级")


class InstitutionImportSpec(imp.RegistrySpec):
    kind = "institutions"
    label = "定点医疗机构"
    model = Institution
    area_model = TherapeuticArea
    copy_attrs = ("code", "name", "region_id", "address", "contact_name", "contact_phone", "level", "hospital_type",
                  "specialty_id", "kind", "has_clinical_department", "sells_at_negotiated_price",
                  "info_system_capable", "no_penalty_past_year")
    lifecycle_attrs = ("agreement_no", "agreement_start", "agreement_end")
    lifecycle_message = "在纳入时随补充协议登记，不能通过导入填写或修改"
    columns = [
        imp.Column(H["code"], "code", imp.text(20)),
        imp.Column(H["name"], "name", imp.text(128)),
        imp.Column(H["region"], "region_id", imp.text(6), field="region", widget=widgets.ForeignKeyWidget(Region, "code")),
        imp.Column(H["address"], "address", imp.text(255, required=False), required=False),
        imp.Column(H["contact_name"], "contact_name", imp.text(64, required=False), required=False),
        imp.Column(H["contact_phone"], "contact_phone", imp.text(20, required=False), required=False),
        imp.Column(H["level"], "level", _level, render=label_of(Institution.Level)),
        imp.Column(H["hospital_type"], "hospital_type", imp.choice(Institution.HospitalType, "医院类型"),
                   render=label_of(Institution.HospitalType)),
        imp.Column(H["specialty"], "specialty_id", imp.text(64, required=False), required=False, field="specialty",
                   widget=widgets.ForeignKeyWidget(TherapeuticArea, "name")),
        imp.Column(H["kind"], "kind", imp.choice(Institution.Kind, "机构类别"), render=label_of(Institution.Kind)),
        imp.Column(H["has_clinical_department"], "has_clinical_department", imp.yes_no, render=yes_no_label),
        imp.Column(H["sells_at_negotiated_price"], "sells_at_negotiated_price", imp.yes_no, render=yes_no_label),
        imp.Column(H["info_system_capable"], "info_system_capable", imp.yes_no, render=yes_no_label),
        imp.Column(H["no_penalty_past_year"], "no_penalty_past_year", imp.yes_no, render=yes_no_label),
        imp.Column(H["agreement_no"], "agreement_no", imp.text(64, required=False), required=False),
        imp.Column(H["agreement_start"], "agreement_start", imp.date(required=False), required=False),
        imp.Column(H["agreement_end"], "agreement_end", imp.date(required=False), required=False),
    ]

    def export_queryset(self, user):
        return institutions_visible_to(user).order_by("code")

    def bind(self, ctx):
        self._names = ctx["area_names"]
        bound = {"region_id": self.region_parser(ctx),
                 "specialty_id": self.area_parser(ctx, required=False, many=False)}
        return [c.rebind(bound[c.attr]) if c.attr in bound else c for c in self.columns]

    def load_existing(self, keys, ctx):
        found = {}
        for start in range(0, len(keys), 5000):
            for obj in Institution.objects.select_related("region").filter(code__in=keys[start:start + 5000]):
                found[obj.code] = obj
        return found

    def check_row(self, values, ctx):
        if values.get("hospital_type") == Institution.HospitalType.SPECIALIST and not values.get("specialty_id"):
            yield H["specialty"], "专科医院须填写专科领域"
        start, end = values.get("agreement_start"), values.get("agreement_end")
        if start and end and end < start:
            yield H["agreement_end"], f"协议结束 {end} 早于协议开始 {start}"

    def apply_create(self, row, ctx):
        return services.institution_create(actor=ctx["user"], **self.service_values(row.values, ctx, self.copy_attrs))

    def apply_change(self, row, ctx):
        institution = Institution.objects.get(pk=row.instance.pk)
        return services.institution_update(institution=institution, actor=ctx["user"],
                                           data=self.service_values(row.values, ctx, list(row.changed)))


INSTITUTIONS = InstitutionImportSpec()
