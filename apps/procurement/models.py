"""Volume-based procurement (带量采购, DOMAIN section 10, R-VBP-1..6).

A round (批次) of the national procurement is run per region: its winning products (中选药品, one row per variety
with its winning firms and price), the province's base per variety and each institution's base use, the yearly
contracts (采购合同) with the agreed volume decomposed to institutions (约定采购量), the provincial platform's
purchases (each one invoice), the revolving fund (采购周转金) and the institutions' repayments (回款).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class ProcurementSettings(models.Model):
    """Per-region choices of section 10, looked up walking up the region tree like ``core.RegionSettings``
    (``apps.procurement.selectors.procurement_settings_for``); kept here so the kernel needs no migration."""

    region = models.OneToOneField("core.Region", verbose_name=_("统筹区"), on_delete=models.CASCADE,
                                  related_name="procurement_settings")
    pace_margin = models.DecimalField(
        _("均衡采购容差"), max_digits=5, decimal_places=4, default=Decimal("0.1000"),
        help_text=_("完成率落后于按月均衡进度超过该百分点即预警（决定：10 个百分点，填 0.1）"),
    )
    low_use_threshold = models.DecimalField(
        _("中选药品使用比例下限"), max_digits=5, decimal_places=4, default=Decimal("0.5000"),
        help_text=_("中选药品占该品种用量的比例低于该值即标记使用量低（填 0.5 表示 50%）"),
    )
    repayment_days = models.PositiveSmallIntegerField(_("回款期限（天）"), default=30, help_text=_("医疗机构自发票日期起应在此天数内回款"))  # R-VBP-5
    repeat_overdue_count = models.PositiveSmallIntegerField(
        _("年度逾期次数（通报/约谈）"), default=2, help_text=_("一年内逾期回款达到该次数即标记通报、约谈"),
    )

    class Meta:
        verbose_name = _("带量采购设置")
        verbose_name_plural = _("带量采购设置")

    def __str__(self):
        return f"{self.region} 带量采购设置"


class ProcurementRound(models.Model):
    """One round (批次) of the national volume-based procurement as executed by a region."""

    region = models.ForeignKey("core.Region", verbose_name=_("统筹区"), on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("批次编号"), max_length=32)
    name = models.CharField(_("批次名称"), max_length=128)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("集中采购批次")
        verbose_name_plural = _("集中采购批次")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["region", "code"], name="uniq_procurement_round_code")]

    def __str__(self):
        return f"{self.name}（{self.code}）"


class WinningProduct(models.Model):
    """A winning variety (中选品种) of a round (R-VBP-1): one winning price shared by its firms."""

    round = models.ForeignKey(ProcurementRound, verbose_name=_("批次"), on_delete=models.PROTECT,
                              related_name="products")
    region = models.ForeignKey("core.Region", verbose_name=_("统筹区"), on_delete=models.PROTECT, related_name="+",
                               help_text=_("与批次的统筹区相同；品种编码在统筹区内唯一"))
    code = models.CharField(_("品种编码"), max_length=32)
    generic_name = models.CharField(_("通用名"), max_length=128)
    dosage_form = models.CharField(_("剂型"), max_length=32)
    specification = models.CharField(_("规格"), max_length=128)
    firms = models.JSONField(_("中选企业"), default=list)
    firm_count = models.PositiveSmallIntegerField(_("中选企业数"))
    winning_price = models.DecimalField(_("中选价格（元）"), max_digits=14, decimal_places=2)
    execution_date = models.DateField(_("执行日期"))
    cycle_years = models.PositiveSmallIntegerField(_("采购周期（年）"), help_text=_("1–2 家中选 1 年，3 家 2 年"))
    extended = models.BooleanField(_("已延长一年"), default=False)
    extension_decision = models.TextField(_("延长决定"), blank=True)
    extension_decided_on = models.DateField(_("延长决定日期"), null=True, blank=True)
    extension_decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("延长决定登记人"), null=True,
                                             blank=True, on_delete=models.PROTECT, related_name="+")
    standard_linked_at = models.DateTimeField(_("支付标准联动时间"), null=True, blank=True, help_text=_("中选价格联动调整支付标准的时间"))  # R-VBP-6
    standard_linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("支付标准联动操作人"), null=True,
                                           blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("中选药品")
        verbose_name_plural = _("中选药品")
        ordering = ["round", "code"]
        constraints = [
            models.UniqueConstraint(fields=["region", "code"], name="uniq_winning_product_code"),
            models.CheckConstraint(condition=models.Q(firm_count__gte=1) & models.Q(firm_count__lte=3),
                                   name="winning_product_firm_count_1_3"),
            models.CheckConstraint(condition=models.Q(winning_price__gt=0), name="winning_product_price_positive"),
        ]

    def __str__(self):
        return f"{self.generic_name} {self.dosage_form} {self.specification}（{self.code}）"

    @property
    def total_years(self) -> int:
        return self.cycle_years + (1 if self.extended else 0)

    @property
    def cycle_end(self) -> dt.date:
        """Last day of the cycle (inclusive), the extension included."""
        return add_years(self.execution_date, self.total_years) - dt.timedelta(days=1)

    def year_bounds(self, cycle_year: int) -> tuple[dt.date, dt.date]:
        """First and last day of contract year ``cycle_year`` (1-based) of the cycle."""
        start = add_years(self.execution_date, cycle_year - 1)
        return start, add_years(self.execution_date, cycle_year) - dt.timedelta(days=1)

    @property
    def firms_display(self) -> str:
        return "、".join(self.firms)


class RegionBase(models.Model):
    """The province's first-year base (首年约定采购量计算基数) of a variety for the region (R-VBP-2)."""

    product = models.OneToOneField(WinningProduct, verbose_name=_("中选品种"), on_delete=models.CASCADE,
                                   related_name="region_base")
    quantity = models.PositiveBigIntegerField(_("计算基数（最小包装）"))

    class Meta:
        verbose_name = _("品种计算基数")
        verbose_name_plural = _("品种计算基数")

    def __str__(self):
        return f"{self.product.code} {self.quantity}"


class BaseUse(models.Model):
    """An institution's base use (基期使用量) of a variety, the weight of its share (R-VBP-2)."""

    product = models.ForeignKey(WinningProduct, verbose_name=_("中选品种"), on_delete=models.CASCADE,
                                related_name="base_uses")
    institution = models.ForeignKey("institutions.Institution", verbose_name=_("医疗机构"), on_delete=models.PROTECT,
                                    related_name="+")
    quantity = models.PositiveBigIntegerField(_("基期使用量"))

    class Meta:
        verbose_name = _("机构基期使用量")
        verbose_name_plural = _("机构基期使用量")
        ordering = ["product", "institution"]
        constraints = [models.UniqueConstraint(fields=["product", "institution"], name="uniq_base_use")]

    def __str__(self):
        return f"{self.product.code} {self.institution.code} {self.quantity}"


class Contract(models.Model):
    """A yearly contract (采购合同, 每年一签) of a variety: the region's agreed volume of one cycle year."""

    product = models.ForeignKey(WinningProduct, verbose_name=_("中选品种"), on_delete=models.PROTECT,
                                related_name="contracts")
    cycle_year = models.PositiveSmallIntegerField(_("周期年度"))
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    agreed_volume = models.PositiveBigIntegerField(_("约定采购量（合计）"))
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(_("分解时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("年度采购合同")
        verbose_name_plural = _("年度采购合同")
        ordering = ["product", "cycle_year"]
        constraints = [models.UniqueConstraint(fields=["product", "cycle_year"], name="uniq_contract_year")]

    def __str__(self):
        return f"{self.product.code} 第{self.cycle_year}年"

    @property
    def agreed_amount(self) -> Decimal:
        return (self.product.winning_price * self.agreed_volume).quantize(Decimal("0.01"))


class Agreement(models.Model):
    """An institution's agreed volume (约定采购量) under a yearly contract (R-VBP-2)."""

    contract = models.ForeignKey(Contract, verbose_name=_("年度合同"), on_delete=models.CASCADE,
                                 related_name="agreements")
    institution = models.ForeignKey("institutions.Institution", verbose_name=_("医疗机构"), on_delete=models.PROTECT,
                                    related_name="+")
    base_quantity = models.PositiveBigIntegerField(_("基期使用量"))
    agreed_volume = models.PositiveBigIntegerField(_("约定采购量"))

    class Meta:
        verbose_name = _("约定采购量")
        verbose_name_plural = _("约定采购量")
        ordering = ["contract", "institution"]
        constraints = [models.UniqueConstraint(fields=["contract", "institution"], name="uniq_agreement")]

    def __str__(self):
        return f"{self.contract} {self.institution.code} {self.agreed_volume}"


class Purchase(models.Model):
    """One line of the provincial platform's monthly purchase export = one invoice (R-VBP-3). A purchase from a
    winning firm counts towards completion and is repaid to the fund (R-VBP-5); another firm's product of the
    variety only counts in the institution's use of the variety."""

    institution = models.ForeignKey("institutions.Institution", verbose_name=_("医疗机构"), on_delete=models.PROTECT,
                                    related_name="+")
    product = models.ForeignKey(WinningProduct, verbose_name=_("品种"), on_delete=models.PROTECT,
                                related_name="purchases")
    firm = models.CharField(_("生产企业"), max_length=128)
    is_winning = models.BooleanField(_("中选药品"))
    quantity = models.PositiveIntegerField(_("数量"))
    amount = models.DecimalField(_("金额（元）"), max_digits=14, decimal_places=2)
    invoice_no = models.CharField(_("发票号"), max_length=64, unique=True)
    invoice_date = models.DateField(_("发票日期"), db_index=True)
    due_on = models.DateField(_("回款截止日"), db_index=True,
                              help_text=_("发票日期后第 30 天（当天回款仍为按时）"))
    imported_by = models.ForeignKey("ProcurementImport", verbose_name=_("导入记录"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("导入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("采购记录（发票）")
        verbose_name_plural = _("采购记录（发票）")
        ordering = ["-invoice_date", "invoice_no"]
        indexes = [models.Index(fields=["product", "institution", "invoice_date"])]

    def __str__(self):
        return f"{self.invoice_no} {self.amount}"



class Repayment(models.Model):
    """An institution's repayment (回款) of a winning-product invoice to the bureau (R-VBP-5). Append-only."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("经办机构登记")
        IMPORT = "import", _("导入")

    purchase = models.ForeignKey(Purchase, verbose_name=_("发票"), on_delete=models.PROTECT,
                                 related_name="repayments")
    paid_on = models.DateField(_("回款日期"))
    amount = models.DecimalField(_("回款金额（元）"), max_digits=14, decimal_places=2)
    reference = models.CharField(_("回款凭证号"), max_length=64, blank=True)
    source = models.CharField(_("来源"), max_length=8, choices=Source.choices, default=Source.MANUAL)
    imported_by = models.ForeignKey("ProcurementImport", verbose_name=_("导入记录"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("回款")
        verbose_name_plural = _("回款")
        ordering = ["-paid_on", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="repayment_amount_positive")]

    def __str__(self):
        return f"{self.purchase.invoice_no} {self.paid_on} {self.amount}"


class FundAccount(models.Model):
    """The revolving fund's special account (采购周转金专户) of a region for a round (R-VBP-4)."""

    round = models.OneToOneField(ProcurementRound, verbose_name=_("批次"), on_delete=models.PROTECT,
                                 related_name="fund_account")
    region = models.ForeignKey("core.Region", verbose_name=_("统筹区"), on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("开户时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("采购周转金账户")
        verbose_name_plural = _("采购周转金账户")

    def __str__(self):
        return f"{self.round} 周转金"


class FundEntry(models.Model):
    """One movement of the fund (R-VBP-4). Entries are never edited or deleted; the balance is their sum."""

    class Kind(models.TextChoices):
        ADVANCE = "advance", _("财政预付")
        SETTLEMENT = "settlement", _("与企业结算")
        REPAYMENT = "repayment", _("医疗机构回款")

    account = models.ForeignKey(FundAccount, verbose_name=_("账户"), on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    amount = models.DecimalField(_("金额（元）"), max_digits=14, decimal_places=2,
                                 help_text=_("正数；方向由类型决定（结算为支出）"))
    occurred_on = models.DateField(_("发生日期"))
    cycle_year = models.PositiveSmallIntegerField(_("周期年度"), null=True, blank=True)
    counterparty = models.CharField(_("对方"), max_length=128, blank=True)
    reference = models.CharField(_("凭证号"), max_length=64, blank=True)
    repayment = models.OneToOneField(Repayment, verbose_name=_("回款"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="fund_entry")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("周转金流水")
        verbose_name_plural = _("周转金流水")
        ordering = ["occurred_on", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="fund_entry_amount_positive")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} {self.occurred_on}"

    @property
    def signed_amount(self) -> Decimal:
        return -self.amount if self.kind == self.Kind.SETTLEMENT else self.amount


class ProcurementImport(models.Model):
    """One applied Excel import of section 10 (R-CAT-2): who, when, which file, what it wrote."""

    kind = models.CharField(_("导入类型"), max_length=32)
    file_name = models.CharField(_("文件名"), max_length=255)
    region = models.ForeignKey("core.Region", verbose_name=_("统筹区"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    round = models.ForeignKey(ProcurementRound, verbose_name=_("批次"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("导入时间"), auto_now_add=True)
    created_count = models.PositiveIntegerField(_("新增"), default=0)
    updated_count = models.PositiveIntegerField(_("变更"), default=0)
    unchanged_count = models.PositiveIntegerField(_("未变"), default=0)

    class Meta:
        verbose_name = _("带量采购导入记录")
        verbose_name_plural = _("带量采购导入记录")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind} {self.file_name}"


class CompletionSnapshot(models.Model):
    """Completion and pace of one agreement as at the end of a month, written by the monthly job (R-VBP-3)."""

    agreement = models.ForeignKey(Agreement, verbose_name=_("约定采购量"), on_delete=models.CASCADE,
                                  related_name="snapshots")
    period = models.DateField(_("月份"), help_text=_("该月第一天"))
    purchased = models.PositiveBigIntegerField(_("中选药品采购量"))
    other_use = models.PositiveBigIntegerField(_("非中选药品用量"))
    completion = models.DecimalField(_("完成率"), max_digits=9, decimal_places=4)
    expected = models.DecimalField(_("均衡进度"), max_digits=9, decimal_places=4)
    behind_pace = models.BooleanField(_("进度落后"))
    winning_share = models.DecimalField(_("中选药品使用比例"), max_digits=9, decimal_places=4, null=True, blank=True)
    low_use = models.BooleanField(_("使用量低"))
    computed_at = models.DateTimeField(_("计算时间"), auto_now=True)

    class Meta:
        verbose_name = _("月度完成情况")
        verbose_name_plural = _("月度完成情况")
        ordering = ["-period", "agreement"]
        constraints = [models.UniqueConstraint(fields=["agreement", "period"], name="uniq_completion_snapshot")]

    def __str__(self):
        return f"{self.agreement} {self.period:%Y-%m} {self.completion}"


class LinkedStandard(models.Model):
    """R-VBP-6: a catalogue product whose payment standard became the winning price (the version itself is the
    catalogue's ``PaymentStandard``)."""

    product = models.ForeignKey(WinningProduct, verbose_name=_("中选品种"), on_delete=models.PROTECT,
                                related_name="linked_standards")
    drug = models.ForeignKey("catalogue.Drug", verbose_name=_("药品"), on_delete=models.PROTECT, related_name="+")
    previous_amount = models.DecimalField(_("原支付标准（元）"), max_digits=14, decimal_places=2)
    amount = models.DecimalField(_("新支付标准（元）"), max_digits=14, decimal_places=2)
    effective_date = models.DateField(_("生效日期"))
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(_("执行时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("支付标准联动")
        verbose_name_plural = _("支付标准联动")
        ordering = ["product", "drug"]
        constraints = [models.UniqueConstraint(fields=["product", "drug"], name="uniq_linked_standard")]

    def __str__(self):
        return f"{self.product.code} → {self.drug.code} {self.amount}"
