"""Excel layout of the pharmacy registry (issue 3 §1): template/export through django-import-export, import
through the shared all-or-nothing engine (``apps.core.excel.engine``)."""
from __future__ import annotations

from import_export import fields, resources, widgets

from apps.core.excel import engine as imp
from apps.catalogue.resources import ParsedWidget
from apps.core.models import Region
from apps.pharmacies.models import Pharmacy

H = {
    "code": "药店编码", "name": "药店名称", "region": "所在县区", "address": "地址", "contact_name": "联系人",
    "contact_phone": "联系电话", "licence_no": "药品经营许可证号", "has_business_licence": "具备营业执照",
    "has_dedicated_storage": "具备专门存储场所", "stocks_cold_chain": "经营冷链药品", "has_cold_storage": "具备冷藏设施",
    "sells_at_or_below_price": "不高于谈判价格销售", "has_licensed_pharmacist": "配备执业药师",
    "traceability_capable": "可进行数据交换和电子追溯", "delivery_capable": "具备配送能力",
    "trading_licence_valid": "药品经营许可有效", "no_penalty_past_year": "近一年无医保或卫健处罚",
    "agreement_no": "补充协议编号", "agreement_start": "协议开始", "agreement_end": "协议结束",
}
BOOLS = ("has_business_licence", "has_dedicated_storage", "stocks_cold_chain", "has_cold_storage",
         "sells_at_or_below_price", "has_licensed_pharmacist", "traceability_capable", "delivery_capable",
         "trading_licence_valid", "no_penalty_past_year")
TEXTS = {"address": 255, "contact_name": 64, "contact_phone": 20, "licence_no": 64, "agreement_no": 64}


def _yes(v):
    return "是" if v else "否"


class PharmacyResource(resources.ModelResource):
    code = fields.Field("code", H["code"], widget=ParsedWidget(imp.text(20)))
    name = fields.Field("name", H["name"], widget=ParsedWidget(imp.text(128)))
    region = fields.Field("region", H["region"], widget=widgets.ForeignKeyWidget(Region, "code"))
    agreement_start = fields.Field("agreement_start", H["agreement_start"],
                                   widget=ParsedWidget(imp.date(required=False)))
    agreement_end = fields.Field("agreement_end", H["agreement_end"], widget=ParsedWidget(imp.date(required=False)))
    locals().update({name: fields.Field(name, H[name], widget=ParsedWidget(imp.yes_no, _yes)) for name in BOOLS})
    locals().update({name: fields.Field(name, H[name], widget=ParsedWidget(imp.text(size, required=False)))
                     for name, size in TEXTS.items()})

    class Meta:
        model = Pharmacy
        import_id_fields = ("code",)
        fields = tuple(H)
        export_order = tuple(H)


class PharmacyImportSpec(imp.RegistrySpec):
    kind = "pharmacies"
    label = "定点零售药店"
    model = Pharmacy
    resource_class = PharmacyResource
    copy_attrs = ("code", "name", "region_id", *TEXTS, *BOOLS, "agreement_start", "agreement_end")
    columns = [
        imp.Column(H["code"], "code", imp.text(20)),
        imp.Column(H["name"], "name", imp.text(128)),
        imp.Column(H["region"], "region_id", imp.text(6)),
        *[imp.Column(H[name], name, imp.text(size, required=False), required=False) for name, size in TEXTS.items()],
        *[imp.Column(H[name], name, imp.yes_no) for name in BOOLS],
        imp.Column(H["agreement_start"], "agreement_start", imp.date(required=False), required=False),
        imp.Column(H["agreement_end"], "agreement_end", imp.date(required=False), required=False),
    ]

    def bind(self, ctx):
        region = self.region_parser(ctx)
        return [imp.Column(c.header, c.attr, region if c.attr == "region_id" else c.parse, c.required, c.compare)
                for c in self.columns]

    def load_existing(self, keys, ctx):
        found = {}
        for start in range(0, len(keys), 5000):
            for obj in Pharmacy.objects.select_related("region").filter(code__in=keys[start:start + 5000]):
                found[obj.code] = obj
        return found

    def check_row(self, values, ctx):
        start, end = values.get("agreement_start"), values.get("agreement_end")
        if start and end and end < start:
            yield H["agreement_end"], f"协议结束 {end} 早于协议开始 {start}"


imp.register(PharmacyImportSpec())
