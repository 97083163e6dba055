"""Excel layout of the institution registry (issue 3 §1): template/export through django-import-export, import
through the shared all-or-nothing engine (``apps.core.excel.engine``)."""
from __future__ import annotations

from import_export import fields, resources, widgets

from apps.core.excel import engine as imp
from apps.catalogue.models import TherapeuticArea
from apps.catalogue.resources import ParsedWidget, _label
from apps.core.models import Region
from apps.institutions.models import Institution

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


def _yes(v):
    return "是" if v else "否"


class InstitutionResource(resources.ModelResource):
    code = fields.Field("code", H["code"], widget=ParsedWidget(imp.text(20)))
    name = fields.Field("name", H["name"], widget=ParsedWidget(imp.text(128)))
    region = fields.Field("region", H["region"], widget=widgets.ForeignKeyWidget(Region, "code"))
    address = fields.Field("address", H["address"], widget=ParsedWidget(imp.text(255, required=False)))
    contact_name = fields.Field("contact_name", H["contact_name"], widget=ParsedWidget(imp.text(64, required=False)))
    contact_phone = fields.Field("contact_phone", H["contact_phone"], widget=ParsedWidget(imp.text(20, required=False)))
    level = fields.Field("level", H["level"], widget=ParsedWidget(_level, _label(Institution.Level)))
    hospital_type = fields.Field("hospital_type", H["hospital_type"], widget=ParsedWidget(
        imp.choice(Institution.HospitalType, "医院类型"), _label(Institution.HospitalType)))
    specialty = fields.Field("specialty", H["specialty"], widget=widgets.ForeignKeyWidget(TherapeuticArea, "name"))
    kind = fields.Field("kind", H["kind"], widget=ParsedWidget(imp.choice(Institution.Kind, "机构类别"),
                                                              _label(Institution.Kind)))
    has_clinical_department = fields.Field("has_clinical_department", H["has_clinical_department"],
                                           widget=ParsedWidget(imp.yes_no, _yes))
    sells_at_negotiated_price = fields.Field("sells_at_negotiated_price", H["sells_at_negotiated_price"],
                                             widget=ParsedWidget(imp.yes_no, _yes))
    info_system_capable = fields.Field("info_system_capable", H["info_system_capable"],
                                       widget=ParsedWidget(imp.yes_no, _yes))
    no_penalty_past_year = fields.Field("no_penalty_past_year", H["no_penalty_past_year"],
                                        widget=ParsedWidget(imp.yes_no, _yes))
    agreement_no = fields.Field("agreement_no", H["agreement_no"], widget=ParsedWidget(imp.text(64, required=False)))
    agreement_start = fields.Field("agreement_start", H["agreement_start"],
                                   widget=ParsedWidget(imp.date(required=False)))
    agreement_end = fields.Field("agreement_end", H["agreement_end"], widget=ParsedWidget(imp.date(required=False)))

    class Meta:
        model = Institution
        import_id_fields = ("code",)
        fields = tuple(H)
        export_order = tuple(H)


class InstitutionImportSpec(imp.RegistrySpec):
    kind = "institutions"
    label = "定点医疗机构"
    model = Institution
    resource_class = InstitutionResource
    copy_attrs = ("code", "name", "region_id", "address", "contact_name", "contact_phone", "level", "hospital_type",
                  "specialty_id", "kind", "has_clinical_department", "sells_at_negotiated_price",
                  "info_system_capable", "no_penalty_past_year", "agreement_no", "agreement_start", "agreement_end")
    columns = [
        imp.Column(H["code"], "code", imp.text(20)),
        imp.Column(H["name"], "name", imp.text(128)),
        imp.Column(H["region"], "region_id", imp.text(6)),
        imp.Column(H["address"], "address", imp.text(255, required=False), required=False),
        imp.Column(H["contact_name"], "contact_name", imp.text(64, required=False), required=False),
        imp.Column(H["contact_phone"], "contact_phone", imp.text(20, required=False), required=False),
        imp.Column(H["level"], "level", _level),
        imp.Column(H["hospital_type"], "hospital_type", imp.choice(Institution.HospitalType, "医院类型")),
        imp.Column(H["specialty"], "specialty_id", imp.text(64, required=False), required=False),
        imp.Column(H["kind"], "kind", imp.choice(Institution.Kind, "机构类别")),
        imp.Column(H["has_clinical_department"], "has_clinical_department", imp.yes_no),
        imp.Column(H["sells_at_negotiated_price"], "sells_at_negotiated_price", imp.yes_no),
        imp.Column(H["info_system_capable"], "info_system_capable", imp.yes_no),
        imp.Column(H["no_penalty_past_year"], "no_penalty_past_year", imp.yes_no),
        imp.Column(H["agreement_no"], "agreement_no", imp.text(64, required=False), required=False),
        imp.Column(H["agreement_start"], "agreement_start", imp.date(required=False), required=False),
        imp.Column(H["agreement_end"], "agreement_end", imp.date(required=False), required=False),
    ]

    def bind(self, ctx):
        self._names = ctx["area_names"]
        bound = {"region_id": self.region_parser(ctx),
                 "specialty_id": self.area_parser(ctx, required=False, many=False)}
        return [imp.Column(c.header, c.attr, bound.get(c.attr, c.parse), c.required, c.compare) for c in self.columns]

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


imp.register(InstitutionImportSpec())
