"""The Excel imports of section 10 on the shared engine (``apps.core.excel``, R-CAT-2): winning products of a
round (R-VBP-1), the region's base per variety and the institutions' base use (R-VBP-2), the provincial
platform's purchases (R-VBP-3) and the institutions' repayments (R-VBP-5).

Each kind is an ``ImportSpec`` registered in ``ProcurementConfig.ready()`` (so its template and export come from
the same columns). ``import_file`` plans a file with the engine's ``run_import``: every bad cell or row is
reported with its row, column and a Chinese reason and nothing is written; a preview (``dry_run``) stops
before writing; applying writes everything in one transaction with an import record and its event. The row
rules are the services' (``services.purchase_facts``, ``services.repayment_check``, ``winning_product_build``).
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Iterable

from apps.core.events import EventAction, record_event
from apps.core.excel import registry
from apps.core.excel.engine import CellError, Column, ImportSpec, Plan, date, decimal, is_blank, run_import, text
from apps.core.exceptions import ApplicationError
from apps.core.scoping import scope_to_user
from apps.institutions.models import Institution
from apps.procurement import selectors, services
from apps.procurement.models import (
    Agreement, BaseUse, Contract, ProcurementImport, Purchase, RegionBase, Repayment, WinningProduct,
)

PRODUCTS = "vbp_products"
BASES = "vbp_bases"
BASE_USES = "vbp_base_uses"
PURCHASES = "vbp_purchases"
REPAYMENTS = "vbp_repayments"

KIND_CHOICES = [
    (PURCHASES, "采购记录（省平台月度导出）"),
    (REPAYMENTS, "医疗机构回款"),
    (PRODUCTS, "中选药品"),
    (BASES, "品种计算基数"),
    (BASE_USES, "机构基期使用量"),
]


# --- parsers -----------------------------------------------------------------------------------------------------

def whole_number(*, allow_zero: bool = False):
    """A whole number of packs; a negative one is refused with its own reason (R-VBP-3)."""
    def parse(value) -> int:
        if is_blank(value):
            raise CellError("必填，不能为空")
        if isinstance(value, bool):
            raise CellError(f"“{value}”不是整数")
        try:
            number = Decimal(str(value).strip().replace(",", "").replace("，", ""))
        except Exception:
            raise CellError(f"“{value}”不是整数") from None
        if not number.is_finite() or number != number.to_integral_value():
            raise CellError(f"“{value}”不是整数")
        if number < 0:
            raise CellError(f"数量不能为负数（{int(number)}）")
        if number == 0 and not allow_zero:
            raise CellError("应为正整数，不能为 0")
        return int(number)
    return parse


def code_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return text(32)(value)


class _Spec(ImportSpec):
    """Shared context: the uploader's region scope, its institutions and winning products by code."""

    needs_round = False
    audit_fields = ()

    def context(self, *, run) -> dict:  # the engine's hook; ``run`` is this module's ``_Run``
        user = run.created_by
        # ``run`` is this module's ``_Run`` or, through the catalogue's generic import workflow, an ``ImportRun``
        # (which chooses no round: winning products are refused there, see ProductSpec.check_row)
        ctx = {"run": run, "user": user, "round": getattr(run, "round", None),
               "region": selectors.scope_region(user) if user else None}
        ctx["institutions"] = {i.code: i for i in scope_to_user(
            Institution.objects.all(), user, region_fields=("region",), institution_field=None, pharmacy_field=None)}
        products = selectors.products_visible_to(user).select_related("region")
        ctx["products"] = defaultdict(list)
        for product in products:
            ctx["products"][product.code].append(product)
        return ctx

    def institution_parser(self, ctx):
        institutions = ctx["institutions"]

        def parse(value):
            code = code_text(value)
            institution = institutions.get(code)
            if institution is None:
                raise CellError(f"未知医疗机构编码“{code}”（不在本统筹区的定点医疗机构中）")
            return institution
        return parse

    def product_parser(self, ctx):
        products = ctx["products"]

        def parse(value):
            code = code_text(value)
            found = products.get(code) or []
            if not found:
                raise CellError(f"未知品种编码“{code}”（本统筹区的中选药品中没有该品种）")
            if len(found) > 1:
                raise CellError(f"品种编码“{code}”在多个统筹区存在，请由所属统筹区的经办机构导入")
            return found[0]
        return parse

    def show(self, attr, value):
        if isinstance(value, (Institution, WinningProduct)):
            return value.code
        return super().show(attr, value)

    def record(self, plan: Plan, ctx: dict) -> ProcurementImport:
        run = ctx["run"]
        log = ProcurementImport.objects.create(
            kind=self.kind, file_name=run.file_name[:255], region=ctx["region"], round=ctx["round"],
            created_by=services.user_or_none(ctx["user"]), created_count=len(plan.creates),
            updated_count=len(plan.updates), unchanged_count=plan.unchanged)
        record_event(subject=log, action=EventAction.PROCUREMENT_IMPORTED, actor=ctx["user"],
                     data={"kind": self.kind, "file": run.file_name, "created": len(plan.creates),
                           "updated": len(plan.updates), "unchanged": plan.unchanged})
        return log


def _refusal(exc: ApplicationError, headers: dict) -> Iterable[tuple[str, str]]:
    """A service's refusal located on the file's columns (``headers``: service field → column header)."""
    located = False
    for name in exc.fields:
        if name in headers:
            located = True
            yield headers[name], exc.message
            break
    if not located:
        yield None, exc.message


# --- R-VBP-1: winning products ------------------------------------------------------------------------------

class ProductSpec(_Spec):
    kind = PRODUCTS
    label = "中选药品"
    model = WinningProduct
    key_attr = "code"
    needs_round = True
    columns = [
        Column("品种编码", "code", code_text),
        Column("通用名", "generic_name", text(128)),
        Column("剂型", "dosage_form", text(32)),
        Column("规格", "specification", text(128)),
        Column("中选企业", "firms", text(512), export=lambda obj: "、".join(obj.firms)),
        Column("中选企业数", "firm_count", whole_number()),
        Column("中选价格", "winning_price", decimal(2)),
        Column("执行日期", "execution_date", date()),
    ]
    HEADERS = {"firms": "中选企业", "firm_count": "中选企业数", "winning_price": "中选价格"}

    def export_queryset(self, user):
        return selectors.products_visible_to(user)

    def check_row(self, values, ctx):
        if ctx["round"] is None:
            yield "品种编码", "中选药品须在“带量采购导入”页面选择批次后导入"
            return
        if "firms" in values:
            values["firms"] = [f.strip() for f in
                               values["firms"].replace("，", "、").replace(",", "、").replace(";", "、").split("、")
                               if f.strip()]
        if {"firms", "firm_count", "winning_price"} <= values.keys():
            try:
                services.winning_product_build(round_=ctx["round"], code=values.get("code", ""),
                                               generic_name="", dosage_form="", specification="",
                                               firms=values["firms"], firm_count=values["firm_count"],
                                               winning_price=values["winning_price"],
                                               execution_date=values.get("execution_date"))
            except ApplicationError as exc:
                yield from _refusal(exc, self.HEADERS)

    def load_existing(self, keys, ctx):
        return {p.code: p for p in WinningProduct.objects.filter(region_id=ctx["round"].region_id, code__in=keys)}

    def current_value(self, instance, attr):
        return getattr(instance, attr)

    def check_change(self, row, ctx):
        if row.instance.round_id != ctx["round"].pk:
            yield "品种编码", f"品种编码 {row.values['code']} 已属于批次“{row.instance.round.name}”"
        elif row.changed:
            yield "品种编码", (f"品种 {row.values['code']} 已导入，中选信息不能修改（变化：" +
                            "、".join(self.header_of(k) for k in row.changed) + "）")

    def write(self, plan, ctx):
        self.record(plan, ctx)
        WinningProduct.objects.bulk_create([
            services.winning_product_build(round_=ctx["round"], **row.values) for row in plan.creates])


# --- R-VBP-2: bases -------------------------------------------------------------------------------------------

def _decomposed(product_ids) -> set:
    return set(Contract.objects.filter(product_id__in=product_ids, cycle_year=1).values_list("product_id", flat=True))


class BaseSpec(_Spec):
    kind = BASES
    label = "品种计算基数"
    model = RegionBase
    key_attr = "product"
    columns = [
        Column("品种编码", "product", code_text, export=lambda obj: obj.product.code),
        Column("计算基数", "quantity", whole_number()),
    ]

    def export_queryset(self, user):
        return RegionBase.objects.filter(product__in=selectors.products_visible_to(user)).select_related("product")

    def bind(self, ctx):
        return [self.columns[0].rebind(self.product_parser(ctx)), self.columns[1]]

    def load_existing(self, keys, ctx):
        return {b.product: b for b in RegionBase.objects.filter(product__in=keys).select_related("product")}

    def check_change(self, row, ctx):
        if row.changed and row.instance.product_id in _decomposed([row.instance.product_id]):
            yield "计算基数", "首年约定采购量已分解，计算基数不能再修改"

    def write(self, plan, ctx):
        self.record(plan, ctx)
        RegionBase.objects.bulk_create([RegionBase(product=r.values["product"], quantity=r.values["quantity"])
                                        for r in plan.creates])
        for row in plan.updates:
            row.instance.quantity = row.values["quantity"]
        RegionBase.objects.bulk_update([r.instance for r in plan.updates], ["quantity"])


class BaseUseSpec(_Spec):
    """Key: variety and institution together (one base use each); duplicates within the file are refused."""

    kind = BASE_USES
    label = "机构基期使用量"
    model = BaseUse
    key_attr = "key"
    columns = [
        Column("品种编码", "product", code_text, export=lambda obj: obj.product.code),
        Column("医疗机构编码", "institution", code_text, export=lambda obj: obj.institution.code),
        Column("基期使用量", "quantity", whole_number(allow_zero=True)),
    ]

    def export_queryset(self, user):
        return BaseUse.objects.filter(product__in=selectors.products_visible_to(user)).select_related(
            "product", "institution")

    def bind(self, ctx):
        ctx["seen"] = set()
        return [self.columns[0].rebind(self.product_parser(ctx)),
                self.columns[1].rebind(self.institution_parser(ctx)), self.columns[2]]

    def check_row(self, values, ctx):
        if "product" in values and "institution" in values:
            key = (values["product"].pk, values["institution"].pk)
            if key in ctx["seen"]:
                yield "医疗机构编码", (f"品种 {values['product'].code} 的医疗机构 {values['institution'].code} "
                                    "在文件中重复")
            ctx["seen"].add(key)
            values["key"] = key

    def load_existing(self, keys, ctx):
        found = {}
        product_ids = {p[0].pk for p in ctx["products"].values() if len(p) == 1}
        for use in BaseUse.objects.filter(product_id__in=product_ids):
            found[(use.product_id, use.institution_id)] = use
        return found

    def diff(self, instance, values, ctx):
        return {"quantity": (instance.quantity, values["quantity"])} if instance.quantity != values["quantity"] else {}

    def check_change(self, row, ctx):
        if row.changed and row.instance.product_id in _decomposed([row.instance.product_id]):
            yield "基期使用量", "首年约定采购量已分解，基期使用量不能再修改"

    def check_create(self, row, ctx):
        if row.values["product"].pk in _decomposed([row.values["product"].pk]):
            yield "品种编码", "首年约定采购量已分解，不能再增加机构"

    def write(self, plan, ctx):
        self.record(plan, ctx)
        BaseUse.objects.bulk_create([BaseUse(product=r.values["product"], institution=r.values["institution"],
                                             quantity=r.values["quantity"]) for r in plan.creates])
        for row in plan.updates:
            row.instance.quantity = row.values["quantity"]
        BaseUse.objects.bulk_update([r.instance for r in plan.updates], ["quantity"])


# --- R-VBP-3: purchases -----------------------------------------------------------------------------------------

class PurchaseSpec(_Spec):
    """One row per invoice. Refused: an unknown institution or variety, an institution without an agreement for
    the variety on the invoice date, a negative quantity, a winning firm's row not at the winning price, an
    invoice number already imported (or twice in the file)."""

    kind = PURCHASES
    label = "采购记录"
    model = Purchase
    key_attr = "invoice_no"
    columns = [
        Column("医疗机构编码", "institution", code_text, export=lambda obj: obj.institution.code),
        Column("品种编码", "product", code_text, export=lambda obj: obj.product.code),
        Column("生产企业", "firm", text(128)),
        Column("数量", "quantity", whole_number()),
        Column("金额", "amount", decimal(2)),
        Column("发票号", "invoice_no", code_text),
        Column("发票日期", "invoice_date", date()),
    ]
    HEADERS = {"quantity": "数量", "amount": "金额", "firm": "生产企业"}

    def export_queryset(self, user):
        return selectors.purchases_visible_to(user)

    def bind(self, ctx):
        ctx["agreements"] = defaultdict(list)
        for product_id, institution_id, starts, ends in Agreement.objects.filter(
                contract__product__in=[p[0] for p in ctx["products"].values() if len(p) == 1]).values_list(
                "contract__product_id", "institution_id", "contract__starts_on", "contract__ends_on"):
            ctx["agreements"][(product_id, institution_id)].append((starts, ends))
        cols = {c.attr: c for c in self.columns}
        return [cols["institution"].rebind(self.institution_parser(ctx)),
                cols["product"].rebind(self.product_parser(ctx))] + [
                c for c in self.columns if c.attr not in ("institution", "product")]

    def check_row(self, values, ctx):
        product, institution = values.get("product"), values.get("institution")
        if product is None or institution is None:
            return
        day = values.get("invoice_date")
        periods = ctx["agreements"].get((product.pk, institution.pk), [])
        if not periods:
            yield "医疗机构编码", f"医疗机构 {institution.code} 没有品种 {product.code} 的约定采购量"
        elif day is not None and not any(s <= day <= e for s, e in periods):
            yield "发票日期", f"{day} 不在医疗机构 {institution.code} 品种 {product.code} 的采购合同期内"
        if {"firm", "quantity", "amount"} <= values.keys():
            try:
                values["is_winning"] = services.purchase_facts(product=product, firm=values["firm"],
                                                               quantity=values["quantity"], amount=values["amount"])
            except ApplicationError as exc:
                yield from _refusal(exc, self.HEADERS)

    def load_existing(self, keys, ctx):
        found = {}
        for start in range(0, len(keys), 5000):
            for purchase in Purchase.objects.filter(invoice_no__in=keys[start:start + 5000]).select_related("institution"):
                found[purchase.invoice_no] = purchase
        return found

    def check_change(self, row, ctx):
        old = row.instance
        yield "发票号", (f"发票号 {old.invoice_no} 已导入过（{old.institution.code}，{old.invoice_date}，"
                      f"{old.amount} 元），同一张发票不能重复导入")

    def write(self, plan, ctx):
        log = self.record(plan, ctx)
        Purchase.objects.bulk_create([
            Purchase(institution=r.values["institution"], product=r.values["product"], firm=r.values["firm"],
                     is_winning=r.values["is_winning"], quantity=r.values["quantity"], amount=r.values["amount"],
                     invoice_no=r.values["invoice_no"], invoice_date=r.values["invoice_date"],
                     due_on=services.invoice_due_on(invoice_date=r.values["invoice_date"],
                                                    region=r.values["institution"].region),
                     imported_by=log)
            for r in plan.creates], batch_size=2000)


# --- R-VBP-5: repayments ----------------------------------------------------------------------------------------

class RepaymentSpec(_Spec):
    """One row per repayment, keyed by its voucher number. Refused: an unknown invoice, a non-winning invoice, a
    date before the invoice, a repayment larger than what is left of the invoice (earlier rows of the file
    included), a voucher already imported."""

    kind = REPAYMENTS
    label = "医疗机构回款"
    model = Repayment
    key_attr = "reference"
    columns = [
        Column("发票号", "purchase", code_text, export=lambda obj: obj.purchase.invoice_no),
        Column("回款金额", "amount", decimal(2)),
        Column("回款日期", "paid_on", date()),
        Column("回款凭证号", "reference", code_text),
    ]
    HEADERS = {"amount": "回款金额", "paid_on": "回款日期", "invoice_no": "发票号"}

    def export_queryset(self, user):
        return Repayment.objects.filter(purchase__in=selectors.purchases_visible_to(user)).select_related("purchase")

    def bind(self, ctx):
        ctx["left"] = {}
        user = ctx["user"]

        def invoice(value):
            number = code_text(value)
            purchase = selectors.purchases_visible_to(user).filter(invoice_no=number).first()
            if purchase is None:
                raise CellError(f"未找到发票号“{number}”（本统筹区没有导入过这张发票）")
            return purchase
        return [self.columns[0].rebind(invoice)] + self.columns[1:]

    def check_row(self, values, ctx):
        purchase = values.get("purchase")
        if purchase is None or "amount" not in values or values.get("paid_on") is None:
            return
        left = ctx["left"].get(purchase.pk)
        if left is None:
            left = selectors.outstanding_of(purchase)
        try:
            services.repayment_check(purchase=purchase, amount=values["amount"], paid_on=values["paid_on"],
                                     outstanding=left)
        except ApplicationError as exc:
            yield from _refusal(exc, self.HEADERS)
            return
        ctx["left"][purchase.pk] = left - values["amount"]

    def load_existing(self, keys, ctx):
        return {r.reference: r for r in Repayment.objects.filter(
            reference__in=keys, purchase__in=selectors.purchases_visible_to(ctx["user"]))}

    def check_change(self, row, ctx):
        yield "回款凭证号", f"回款凭证号 {row.values['reference']} 已导入过，同一笔回款不能重复导入"

    def show(self, attr, value):
        if isinstance(value, Purchase):
            return value.invoice_no
        return super().show(attr, value)

    def write(self, plan, ctx):
        log = self.record(plan, ctx)
        services.repayments_write(
            items=[(r.values["purchase"], r.values["amount"], r.values["paid_on"], r.values["reference"])
                   for r in plan.creates],
            actor=ctx["user"], source=Repayment.Source.IMPORT, imported_by=log)


SPECS = {spec.kind: spec for spec in (ProductSpec(), BaseSpec(), BaseUseSpec(), PurchaseSpec(), RepaymentSpec())}


def register_kinds() -> None:
    """Called from ``ProcurementConfig.ready()``: the kinds' templates and exports through the shared registry."""
    for spec in SPECS.values():
        registry.register(spec)


# --- running --------------------------------------------------------------------------------------------------

class _Run:
    """What the engine's ``context`` hook reads of a run."""

    def __init__(self, *, user, file_name: str, round_):
        self.created_by, self.file_name, self.round, self.pk = user, file_name, round_, None
        self.effective_date = None


def import_file(*, kind: str, upload, actor, dry_run: bool, round_id=None, expected_digest: str = "",
                file_name: str | None = None) -> dict:
    """Plan ``upload`` (an .xlsx) as ``kind`` and, unless ``dry_run``, write it all or nothing. Returns the counts
    (and the plan's digest, which a later confirmation passes as ``expected_digest``); a bad file raises
    ``ApplicationError("invalid_import")`` with ``errors`` — each ``row``, ``column``, ``message``."""
    spec = SPECS.get(kind)
    if spec is None:
        raise ApplicationError("invalid", f"未知导入类型“{kind}”", fields={"kind": ["未知导入类型"]})
    round_ = None
    if spec.needs_round:
        round_ = selectors.rounds_visible_to(actor).filter(pk=round_id).first() if round_id else None
        if round_ is None:
            raise ApplicationError("invalid", "导入中选药品须选择本统筹区的批次", fields={"round": ["请选择批次"]})
    run = _Run(user=actor, file_name=file_name or getattr(upload, "name", "") or "upload.xlsx", round_=round_)
    ctx = spec.context(run=run)
    outcome = run_import(spec, upload, ctx, dry_run=dry_run, expected_digest=expected_digest)
    if outcome.status == outcome.FAILED:
        raise ApplicationError("invalid_import", outcome.message or "导入文件有误，未写入任何数据",
                               data={"errors": outcome.errors, "error_count": outcome.error_count})
    counts = outcome.counts
    return {"kind": kind, "dry_run": dry_run, "status": outcome.status, "total_rows": counts["total_rows"],
            "created": counts["created_count"], "updated": counts["updated_count"],
            "unchanged": counts["unchanged_count"], "digest": outcome.digest, "changes": outcome.changes[:50]}
