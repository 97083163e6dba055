"""Writes of volume-based procurement (R-VBP-1..6). Each service runs in one transaction with its event row.

The Excel imports (winning products, bases, purchases, repayments) write through ``apps.procurement.importing``,
which calls the row-level rules defined here (``winning_product_create``, ``purchase_facts``, ``repayment_check``),
so a rule lives once whether a row arrives by file or by form.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from apps.catalogue.models import Drug, PaymentStandard
from apps.catalogue.services import drug_update
from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.procurement import selectors
from apps.procurement.models import (
    Agreement, BaseUse, CompletionSnapshot, Contract, FundAccount, FundEntry, LinkedStandard, ProcurementRound,
    Purchase, RegionBase, Repayment, WinningProduct,
)

CENT = Decimal("0.01")

# R-VBP-2: first-year agreed volume = base × this ratio, by the number of winning firms (004 四(一)1).
FIRST_YEAR_RATIO = {1: Decimal("0.50"), 2: Decimal("0.60"), 3: Decimal("0.70")}
# R-VBP-4: the advance is at least this share of the annual agreed amount (004 四(二)1).
ADVANCE_MINIMUM_SHARE = Decimal("0.50")


def user_or_none(user):
    return user if getattr(user, "is_authenticated", False) else None


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# --- R-VBP-1: rounds, winning products, cycles ---------------------------------------------------------------

def cycle_years_for(firm_count: int) -> int:
    """R-VBP-1: one year for a variety with one or two winning firms, two years with three."""
    if firm_count not in FIRST_YEAR_RATIO:
        raise ApplicationError("invalid_firm_count", f"中选企业数应为 1–3 家，收到 {firm_count}",
                               fields={"firm_count": ["中选企业数应为 1–3"]})
    return 1 if firm_count <= 2 else 2


def first_year_volume(*, base: int, firm_count: int) -> int:
    """R-VBP-2: base × 50 / 60 / 70 % (one / two / three firms), rounded half-up to a whole pack."""
    cycle_years_for(firm_count)  # validates the count
    return int((Decimal(base) * FIRST_YEAR_RATIO[firm_count]).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


@transaction.atomic
def round_create(*, region, code: str, name: str, actor) -> ProcurementRound:
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name:
        raise ApplicationError("invalid", "批次编号和名称必填", fields={"code": ["必填"], "name": ["必填"]})
    if ProcurementRound.objects.filter(region=region, code=code).exists():
        raise ApplicationError("round_exists", f"批次编号 {code} 已存在", fields={"code": ["已存在"]}, status=409)
    round_ = ProcurementRound.objects.create(region=region, code=code, name=name, created_by=user_or_none(actor))
    FundAccount.objects.create(round=round_, region=region)
    record_event(subject=round_, action=EventAction.PROCUREMENT_ROUND_CREATED, actor=actor,
                 data={"code": code, "name": name, "region": region.code})
    return round_


def winning_product_build(*, round_: ProcurementRound, code: str, generic_name: str, dosage_form: str,
                          specification: str, firms: list[str], firm_count: int, winning_price: Decimal,
                          execution_date: dt.date) -> WinningProduct:
    """An unsaved winning product after the R-VBP-1 checks (shared by the form path and the import)."""
    firms = [f.strip() for f in firms if f and f.strip()]
    if len(set(firms)) != len(firms):
        raise ApplicationError("invalid", "中选企业重复", fields={"firms": ["中选企业重复"]})
    if len(firms) != firm_count:
        raise ApplicationError("firm_count_mismatch", f"中选企业数 {firm_count} 与列出的企业 {len(firms)} 家不一致",
                               fields={"firm_count": [f"列出了 {len(firms)} 家企业"]})
    if winning_price is None or winning_price <= 0:
        raise ApplicationError("invalid", "中选价格应大于 0", fields={"winning_price": ["应大于 0"]})
    return WinningProduct(round=round_, region_id=round_.region_id, code=code, generic_name=generic_name,
                          dosage_form=dosage_form, specification=specification, firms=firms,
                          firm_count=firm_count, winning_price=money(winning_price), execution_date=execution_date,
                          cycle_years=cycle_years_for(firm_count))


@transaction.atomic
def winning_product_create(*, round_: ProcurementRound, actor, **fields) -> WinningProduct:
    product = winning_product_build(round_=round_, **fields)
    if WinningProduct.objects.filter(region_id=round_.region_id, code=product.code).exists():
        raise ApplicationError("duplicate_variety", f"品种编码 {product.code} 已存在", fields={"code": ["已存在"]})
    product.save()
    return product


@transaction.atomic
def winning_product_extend(*, product: WinningProduct, decision: str, decided_on: dt.date, actor) -> WinningProduct:
    """R-VBP-1: the cycle is extendable once by a year, with the recorded decision."""
    product = WinningProduct.objects.select_for_update().get(pk=product.pk)
    decision = (decision or "").strip()
    if not decision:
        raise ApplicationError("invalid", "须填写延长采购周期的决定（文号或说明）", fields={"decision": ["必填"]})
    if product.extended:
        raise ApplicationError("already_extended", "该品种的采购周期已延长过一次，不能再次延长", status=409)
    if decided_on > product.cycle_end:
        raise ApplicationError("cycle_ended", f"采购周期已于 {product.cycle_end} 届满，不能再延长",
                               fields={"decided_on": [f"应不晚于 {product.cycle_end}"]})
    old_end = product.cycle_end
    product.extended = True
    product.extension_decision = decision
    product.extension_decided_on = decided_on
    product.extension_decided_by = user_or_none(actor)
    product.save(update_fields=["extended", "extension_decision", "extension_decided_on", "extension_decided_by"])
    record_event(subject=product, action=EventAction.PROCUREMENT_CYCLE_EXTENDED, actor=actor, reason=decision,
                 data={"from": str(old_end), "to": str(product.cycle_end), "decided_on": str(decided_on)})
    return product


# --- R-VBP-2: bases and decomposition -------------------------------------------------------------------------

def largest_remainder(total: int, weights: dict) -> dict:
    """Split ``total`` (a whole number) in proportion to ``weights`` so that the parts add up to ``total`` exactly:
    every key gets the floor of its exact share, and the packs left over go one each to the largest remainders
    (ties: the larger weight, then the key's order). Keys of zero weight get 0."""
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        raise ApplicationError("no_base_use", "各机构基期使用量合计为 0，无法按比例分解")
    parts, remainders = {}, []
    for order, (key, weight) in enumerate(weights.items()):
        quotient, remainder = divmod(total * weight, weight_sum)
        parts[key] = quotient
        remainders.append((-remainder, -weight, order, key))
    for _r, _w, _o, key in sorted(remainders)[: total - sum(parts.values())]:
        parts[key] += 1
    return parts


@transaction.atomic
def region_base_set(*, product: WinningProduct, quantity: int) -> RegionBase:
    if quantity is None or quantity <= 0:
        raise ApplicationError("invalid", "计算基数应为正整数", fields={"quantity": ["应为正整数"]})
    base, _ = RegionBase.objects.update_or_create(product=product, defaults={"quantity": quantity})
    return base


@transaction.atomic
def base_use_set(*, product: WinningProduct, institution, quantity: int) -> BaseUse:
    if quantity is None or quantity < 0:
        raise ApplicationError("invalid", "基期使用量不能为负数", fields={"quantity": ["不能为负数"]})
    use, _ = BaseUse.objects.update_or_create(product=product, institution=institution,
                                              defaults={"quantity": quantity})
    return use


@transaction.atomic
def contract_decompose(*, product: WinningProduct, cycle_year: int, actor,
                       agreed_volume: int | None = None) -> Contract:
    """R-VBP-2: sign the contract of ``cycle_year`` and decompose its agreed volume to the institutions in
    proportion to their base use (largest remainder: the parts add up to the whole exactly).

    Year 1: the region's base × 50/60/70 % by the number of winning firms. Later years: ``agreed_volume``
    (default: the first year's), never below the first year's, and no institution below its first-year part —
    each keeps its first-year part and the increase is decomposed in proportion to base use."""
    product = WinningProduct.objects.select_for_update().get(pk=product.pk)
    if not 1 <= cycle_year <= product.total_years:
        raise ApplicationError(
            "cycle_year_out_of_range",
            f"该品种的采购周期为 {product.total_years} 年（{product.execution_date}–{product.cycle_end}），没有第 {cycle_year} 年",
            fields={"cycle_year": [f"应为 1–{product.total_years}"]})
    if Contract.objects.filter(product=product, cycle_year=cycle_year).exists():
        raise ApplicationError("contract_exists", f"第 {cycle_year} 年的合同已签订并分解", status=409)
    weights = {use.institution_id: use.quantity for use in BaseUse.objects.filter(product=product).order_by("institution__code")}
    if not weights:
        raise ApplicationError("no_base_use", "尚未导入各医疗机构的基期使用量，无法分解")
    first = None
    if cycle_year == 1:
        base = RegionBase.objects.filter(product=product).first()
        if base is None:
            raise ApplicationError("no_region_base", "尚未导入该品种的计算基数")
        if agreed_volume is not None:
            raise ApplicationError("invalid", "首年约定采购量由计算基数和中选企业数确定，不能另行填写",
                                   fields={"agreed_volume": ["首年不填"]})
        total = first_year_volume(base=base.quantity, firm_count=product.firm_count)
        parts = largest_remainder(total, weights)
    else:
        first = Contract.objects.filter(product=product, cycle_year=1).first()
        if first is None:
            raise ApplicationError("previous_year_missing", "首年合同尚未签订，不能签订次年合同")
        total = first.agreed_volume if agreed_volume is None else int(agreed_volume)
        if total < first.agreed_volume:
            raise ApplicationError(
                "second_year_below_first",
                f"次年约定采购量 {total} 少于首年约定采购量 {first.agreed_volume}，次年应不少于首年",
                fields={"agreed_volume": [f"不少于 {first.agreed_volume}"]})
        floors = {a.institution_id: a.agreed_volume for a in first.agreements.all()}
        floor_sum = sum(floors.values())
        extra = largest_remainder(total - floor_sum, weights) if total > floor_sum else {}
        parts = {key: floors.get(key, 0) + extra.get(key, 0) for key in weights | floors}
    starts_on, ends_on = product.year_bounds(cycle_year)
    contract = Contract.objects.create(product=product, cycle_year=cycle_year, starts_on=starts_on, ends_on=ends_on,
                                       agreed_volume=total, signed_by=user_or_none(actor))
    Agreement.objects.bulk_create([
        Agreement(contract=contract, institution_id=key, base_quantity=weights.get(key, 0), agreed_volume=part)
        for key, part in parts.items()
    ])
    record_event(subject=contract, action=EventAction.PROCUREMENT_CONTRACT_DECOMPOSED, actor=actor,
                 data={"product": product.code, "cycle_year": cycle_year, "agreed_volume": total,
                       "first_year": first.agreed_volume if first else None, "institutions": len(parts)})
    return contract


# --- R-VBP-3 / R-VBP-5: purchases (invoices) ------------------------------------------------------------------

def invoice_due_on(*, invoice_date: dt.date, region) -> dt.date:
    """R-VBP-5: due the region's repayment days (30) after the invoice date; that day is still on time."""
    return invoice_date + dt.timedelta(days=selectors.procurement_settings_for(region).repayment_days)


def purchase_facts(*, product: WinningProduct, firm: str, quantity: int, amount: Decimal) -> bool:
    """R-VBP-3 row rules of a purchase: a positive quantity; a winning firm's product is bought at the winning
    price (also after completion), i.e. amount = quantity × winning price. Returns whether it is a winning
    product. Raises ``ApplicationError`` with the field at fault."""
    if quantity is None or quantity <= 0:
        raise ApplicationError("negative_quantity" if quantity is not None and quantity < 0 else "invalid",
                               "数量应为正整数" + ("（不能为负数）" if quantity is not None and quantity < 0 else ""),
                               fields={"quantity": ["应为正整数"]})
    if amount is None or amount <= 0:
        raise ApplicationError("invalid", "金额应大于 0", fields={"amount": ["应大于 0"]})
    winning = firm in product.firms
    if winning:
        expected = money(product.winning_price * quantity)
        if money(amount) != expected:
            raise ApplicationError(
                "price_not_winning",
                f"中选药品按中选价 {product.winning_price} 元采购，{quantity} 的金额应为 {expected} 元，文件为 {amount} 元",
                fields={"amount": [f"应为 {expected}"]})
    return winning


# --- R-VBP-5: repayments ------------------------------------------------------------------------------------

def repayment_check(*, purchase: Purchase, amount: Decimal, paid_on: dt.date, outstanding: Decimal) -> None:
    """R-VBP-5 row rules of a repayment (shared with the import)."""
    if not purchase.is_winning:
        raise ApplicationError("not_winning_invoice", f"发票 {purchase.invoice_no} 不是中选药品发票，不经周转金回款",
                               fields={"invoice_no": ["非中选药品发票"]})
    if amount is None or amount <= 0:
        raise ApplicationError("invalid", "回款金额应大于 0", fields={"amount": ["应大于 0"]})
    if paid_on < purchase.invoice_date:
        raise ApplicationError("repayment_before_invoice", f"回款日期 {paid_on} 早于发票日期 {purchase.invoice_date}",
                               fields={"paid_on": [f"不早于 {purchase.invoice_date}"]})
    if amount > outstanding:
        raise ApplicationError(
            "repayment_exceeds_invoice",
            f"回款 {amount} 元大于发票 {purchase.invoice_no} 的未回款金额 {outstanding} 元（发票金额 {purchase.amount} 元）",
            fields={"amount": [f"不超过 {outstanding}"]})


def repayments_write(*, items: list[tuple[Purchase, Decimal, dt.date, str]], actor, source: str,
                     imported_by=None) -> list[Repayment]:
    """Write checked repayments with their fund entries (inside the caller's transaction)."""
    repayments = Repayment.objects.bulk_create([
        Repayment(purchase=p, amount=money(a), paid_on=d, reference=ref, source=source, recorded_by=user_or_none(actor),
                  imported_by=imported_by)
        for p, a, d, ref in items
    ])
    accounts = {a.round_id: a for a in FundAccount.objects.filter(
        round_id__in={p.product.round_id for p, *_ in items})}
    entries = []
    for repayment, (purchase, *_rest) in zip(repayments, items):
        account = accounts.get(purchase.product.round_id)
        if account is None:
            account = accounts[purchase.product.round_id] = FundAccount.objects.create(
                round_id=purchase.product.round_id, region_id=purchase.product.region_id)
        entries.append(FundEntry(account=account, kind=FundEntry.Kind.REPAYMENT, amount=repayment.amount,
                                 occurred_on=repayment.paid_on, counterparty=purchase.institution.name,
                                 reference=purchase.invoice_no, repayment=repayment, recorded_by=user_or_none(actor)))
    FundEntry.objects.bulk_create(entries)
    return repayments


@transaction.atomic
def repayment_record(*, purchase: Purchase, amount: Decimal, paid_on: dt.date, actor, reference: str = "") -> Repayment:
    """R-VBP-5: the bureau records an institution's repayment of an invoice; it enters the fund (R-VBP-4)."""
    purchase = Purchase.objects.select_for_update().select_related("product", "institution").get(pk=purchase.pk)
    repayment_check(purchase=purchase, amount=amount, paid_on=paid_on, outstanding=selectors.outstanding_of(purchase))
    repayment = repayments_write(items=[(purchase, amount, paid_on, reference)], actor=actor,
                                 source=Repayment.Source.MANUAL)[0]
    record_event(subject=purchase, action=EventAction.PROCUREMENT_REPAYMENT_RECORDED, actor=actor,
                 data={"amount": str(repayment.amount), "paid_on": str(paid_on), "invoice_no": purchase.invoice_no,
                       "due_on": str(purchase.due_on), "late_days": max(0, (paid_on - purchase.due_on).days)})
    return repayment


# --- R-VBP-4: the revolving fund ------------------------------------------------------------------------------

def _account_for_update(round_: ProcurementRound) -> FundAccount:
    account, _ = FundAccount.objects.get_or_create(round=round_, defaults={"region_id": round_.region_id})
    return FundAccount.objects.select_for_update().get(pk=account.pk)


@transaction.atomic
def fund_advance(*, round_: ProcurementRound, amount: Decimal, occurred_on: dt.date, actor, cycle_year: int = 1,
                 reference: str = "") -> FundEntry:
    """R-VBP-4: the advance into the special account, refused below 50 % of the annual agreed amount."""
    account = _account_for_update(round_)
    annual = selectors.annual_agreed_amount(round_=round_, cycle_year=cycle_year)
    if annual <= 0:
        raise ApplicationError("no_agreed_volume", f"第 {cycle_year} 年尚未分解约定采购量，无法测算周转金",
                               fields={"cycle_year": ["无约定采购量"]})
    minimum = money(annual * ADVANCE_MINIMUM_SHARE)
    if amount is None or money(amount) < minimum:
        raise ApplicationError(
            "advance_below_minimum",
            f"预付周转金 {amount} 元低于年度约定采购金额 {annual} 元的 50%（{minimum} 元）",
            fields={"amount": [f"不低于 {minimum}"]}, data={"minimum": str(minimum), "annual_amount": str(annual)})
    entry = FundEntry.objects.create(account=account, kind=FundEntry.Kind.ADVANCE, amount=money(amount),
                                     occurred_on=occurred_on, cycle_year=cycle_year, counterparty="财政",
                                     reference=reference, recorded_by=user_or_none(actor))
    record_event(subject=account, action=EventAction.PROCUREMENT_FUND_ADVANCED, actor=actor,
                 data={"amount": str(entry.amount), "annual_amount": str(annual), "cycle_year": cycle_year})
    return entry


@transaction.atomic
def fund_settle(*, round_: ProcurementRound, firm: str, amount: Decimal, occurred_on: dt.date, actor,
                reference: str = "") -> FundEntry:
    """R-VBP-4: the bureau settles with a winning firm from the account; never beyond the balance."""
    account = _account_for_update(round_)
    firm = (firm or "").strip()
    firms = {f for fs in round_.products.values_list("firms", flat=True) for f in fs}
    if firm not in firms:
        raise ApplicationError("unknown_firm", f"“{firm}”不是本批次的中选企业", fields={"firm": ["非中选企业"]})
    if amount is None or amount <= 0:
        raise ApplicationError("invalid", "结算金额应大于 0", fields={"amount": ["应大于 0"]})
    balance = selectors.fund_balance(account)
    if money(amount) > balance:
        raise ApplicationError("fund_insufficient", f"结算金额 {amount} 元超过周转金余额 {balance} 元",
                               fields={"amount": [f"不超过 {balance}"]})
    entry = FundEntry.objects.create(account=account, kind=FundEntry.Kind.SETTLEMENT, amount=money(amount),
                                     occurred_on=occurred_on, counterparty=firm, reference=reference,
                                     recorded_by=user_or_none(actor))
    record_event(subject=account, action=EventAction.PROCUREMENT_FUND_SETTLED, actor=actor,
                 data={"firm": firm, "amount": str(entry.amount), "balance_after": str(balance - entry.amount)})
    return entry


# --- R-VBP-6: payment standard linkage ------------------------------------------------------------------------

def standard_link_plan(*, product: WinningProduct) -> list[dict]:
    """What applying R-VBP-6 would do: every catalogue product of the same generic name and dosage form, its
    payment standard now and from the execution date, and whether it can change (R-CAT-3 versions are ordered:
    a version already starting on or after the execution date blocks it)."""
    rows = []
    drugs = Drug.objects.filter(generic_name=product.generic_name, dosage_form=product.dosage_form).order_by("code")
    latest = {}
    for version in PaymentStandard.objects.filter(drug__in=drugs).order_by("drug_id", "-valid_from"):
        latest.setdefault(version.drug_id, version)
    for drug in drugs:
        version = latest.get(drug.pk)
        if drug.payment_standard == product.winning_price:
            action, note = "unchanged", "支付标准已等于中选价格"
        elif version is not None and version.valid_from >= product.execution_date:
            action, note = "blocked", f"已有 {version.valid_from} 起执行的支付标准版本，不晚于执行日期，无法插入"
        else:
            action, note = "change", ""
        rows.append({"drug": drug, "code": drug.code, "manufacturer": drug.manufacturer,
                     "specification": drug.specification, "current": drug.payment_standard,
                     "new": product.winning_price, "effective_date": product.execution_date,
                     "action": action, "note": note})
    return rows


@transaction.atomic
def standard_link_apply(*, product: WinningProduct, actor, now: dt.datetime) -> list[LinkedStandard]:
    """R-VBP-6: from the execution date the winning price is the payment standard of every catalogue product of
    the same generic name and dosage form — one new version each through the catalogue's own service (R-CAT-3).
    All or nothing; applied once."""
    product = WinningProduct.objects.select_for_update().get(pk=product.pk)
    if product.standard_linked_at is not None:
        raise ApplicationError("already_linked", "该品种的支付标准已联动", status=409)
    plan = standard_link_plan(product=product)
    if not plan:
        raise ApplicationError("no_catalogue_products",
                               f"目录中没有通用名“{product.generic_name}”、剂型“{product.dosage_form}”的药品")
    blocked = [row for row in plan if row["action"] == "blocked"]
    if blocked:
        raise ApplicationError("standard_link_blocked", "；".join(f"{r['code']}：{r['note']}" for r in blocked),
                               fields={r["code"]: [r["note"]] for r in blocked})
    linked = []
    for row in plan:
        if row["action"] != "change":
            continue
        drug_update(drug=row["drug"], actor=actor, effective_date=product.execution_date,
                    payment_standard=product.winning_price)
        linked.append(LinkedStandard(product=product, drug=row["drug"], previous_amount=row["current"],
                                     amount=product.winning_price, effective_date=product.execution_date,
                                     applied_by=user_or_none(actor)))
    LinkedStandard.objects.bulk_create(linked)
    product.standard_linked_at = now
    product.standard_linked_by = user_or_none(actor)
    product.save(update_fields=["standard_linked_at", "standard_linked_by"])
    record_event(subject=product, action=EventAction.PROCUREMENT_STANDARD_LINKED, actor=actor,
                 data={"price": str(product.winning_price), "effective_date": str(product.execution_date),
                       "drugs": [l.drug.code for l in linked]}, now=now)
    return linked


# --- R-VBP-3: the monthly recomputation ---------------------------------------------------------------------

@transaction.atomic
def completion_recompute(*, period: dt.date, region=None) -> int:
    """R-VBP-3 (monthly job): completion, pace and use share of every agreement in force in ``period`` (a month,
    as its first day) as at the month's last day, stored as that month's snapshot; flags raised for behind-pace
    and low-use agreements. Idempotent: the month's snapshots are replaced."""
    as_of = selectors.month_end(period)
    rows = selectors.agreement_progress(as_of=as_of, region=region)
    CompletionSnapshot.objects.filter(period=period, agreement_id__in=[r["agreement"].pk for r in rows]).delete()
    CompletionSnapshot.objects.bulk_create([
        CompletionSnapshot(agreement=r["agreement"], period=period, purchased=r["purchased"], other_use=r["other_use"],
                           completion=r["completion"], expected=r["expected"], behind_pace=r["behind_pace"],
                           winning_share=r["winning_share"], low_use=r["low_use"])
        for r in rows
    ])
    by_round: dict = {}
    for r in rows:
        by_round.setdefault(r["product"].round, []).append(r)
    for round_, items in by_round.items():
        record_event(subject=round_, action=EventAction.PROCUREMENT_COMPLETION_COMPUTED, data={
            "period": period.isoformat(), "agreements": len(items),
            "behind_pace": [[r["institution"].code, r["product"].code] for r in items if r["behind_pace"]],
            "low_use": [[r["institution"].code, r["product"].code] for r in items if r["low_use"]]})
    return len(rows)
