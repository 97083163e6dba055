"""Excel layout of the pharmacy registry (R-PHA-1, Excel import R-CAT-2): the columns are declared once on the spec (template, export
and import); imported rows are created and changed by ``apps.pharmacies.services`` so model validation and the
events hold for them as for the REST API. Registered in ``PharmaciesConfig.ready()``."""
from __future__ import annotations

from import_export import widgets

from apps.core.excel import engine as imp
from apps.core.excel.widgets import yes_no_label
from apps.core.models import Region
from apps.pharmacies import services
from apps.pharmacies.models import Pharmacy
from apps.pharmacies.selectors import pharmacies_visible_to

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
LIFECYCLE = ("agreement_no", "agreement_start", "agreement_end", "trading_licence_valid")
TEXTS = {"address": 255, "contact_name": 64, "contact_phone": 20, "licence_no": 64, "agreement_no": 64}


def _column(attr: str) -> imp.Column:
    if attr in BOOLS:
        return imp.Column(H[attr], attr, imp.yes_no, render=yes_no_label)
    if attr in TEXTS:
        return imp.Column(H[attr], attr, imp.text(TEXTS[attr], required=False), required=False)
    if attr in ("agreement_start", "agreement_end"):
        return imp.Column(H[attr], attr, imp.date(required=False), required=False)
    if attr == "region":
        return imp.Column(H[attr], "region_id", imp.text(6), field="region",
                          widget=widgets.ForeignKeyWidget(Region, "code"))
    return imp.Column(H[attr], attr, imp.text({"code": 20, "name": 128}[attr]))


class PharmacyImportSpec(imp.RegistrySpec):
    kind = "pharmacies"
    label = "定点零售药店"
    model = Pharmacy
    columns = [_column(attr) for attr in H]
    #: signed on admission (R-PHA-1); the licence is revoked only by ``pharmacy_revoke_licence`` (R-PHA-2)
    lifecycle_attrs = LIFECYCLE
    lifecycle_message = "只能通过纳入或吊销许可操作变更，不能通过导入填写或修改"
    copy_attrs = tuple("region_id" if attr == "region" else attr for attr in H if attr not in LIFECYCLE)

    def export_queryset(self, user):
        return pharmacies_visible_to(user).order_by("code")

    def bind(self, ctx):
        region = self.region_parser(ctx)
        return [c.rebind(region) if c.attr == "region_id" else c for c in self.columns]

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

    def apply_create(self, row, ctx):
        return services.pharmacy_create(actor=ctx["user"], **self.service_values(row.values, ctx, self.copy_attrs))

    def apply_change(self, row, ctx):
        pharmacy = Pharmacy.objects.get(pk=row.instance.pk)
        return services.pharmacy_update(pharmacy=pharmacy, actor=ctx["user"],
                                        data=self.service_values(row.values, ctx, list(row.changed)))


PHARMACIES = PharmacyImportSpec()
