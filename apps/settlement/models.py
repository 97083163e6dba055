"""Monthly settlement (R-SET-1), reconciliation (R-SET-2), statistics (R-SET-3) and stocking (R-STK-1..4)."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class StockingReport(models.Model):
    """R-STK-1: an institution stocks a negotiated drug, formally listed or procured temporarily, from
    ``listed_on`` until ``ended_on`` (inclusive; empty = still stocked)."""

    class Kind(models.TextChoices):
        FORMAL = "formal", _("正式进院")
        TEMPORARY = "temporary", _("临时采购")

    institution = models.ForeignKey("institutions.Institution", verbose_name=_("医疗机构"), on_delete=models.CASCADE,
                                    related_name="stocking_reports")
    drug = models.ForeignKey("catalogue.Drug", verbose_name=_("药品"), on_delete=models.PROTECT,
                             related_name="stocking_reports")
    kind = models.CharField(_("配备方式"), max_length=10, choices=Kind.choices)
    listed_on = models.DateField(_("配备日期"))
    ended_on = models.DateField(_("停止配备日期"), null=True, blank=True)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("报告人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("报告时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("药品配备报告")
        verbose_name_plural = _("药品配备报告")
        ordering = ["institution", "drug", "-listed_on"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "drug", "listed_on"], name="uniq_stocking_report_start"),
            models.CheckConstraint(condition=models.Q(ended_on__isnull=True) | models.Q(ended_on__gte=models.F("listed_on")),
                                   name="stocking_report_end_after_start",
                                   violation_error_message=_("停止配备日期早于配备日期")),
        ]
        indexes = [models.Index(fields=["drug", "institution"])]

    def __str__(self):
        return f"{self.institution} {self.drug} {self.get_kind_display()}"


class CataloguePublication(models.Model):
    """R-STK-4: a new national catalogue was published; institutions must hold a pharmacy committee meeting
    within their region's deadline (``RegionSettings.pharmacy_committee_deadline_months``)."""

    version = models.CharField(_("目录版本"), max_length=32, unique=True)
    published_on = models.DateField(_("公布日期"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("医保目录发布")
        verbose_name_plural = _("医保目录发布")
        ordering = ["-published_on"]

    def __str__(self):
        return f"{self.version}（{self.published_on}）"


class OrganisationKind(models.TextChoices):
    INSTITUTION = "institution", _("定点医疗机构")
    PHARMACY = "pharmacy", _("定点零售药店")


class SettlementRun(models.Model):
    """R-SET-1/R-SET-4: one execution of the monthly settlement, started by the schedule or an administrator."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("运行中")
        SUCCEEDED = "succeeded", _("已完成")
        FAILED = "failed", _("失败")

    period = models.DateField(_("结算月份"), help_text=_("该月第一天"), db_index=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0)
    steps_done = models.PositiveIntegerField(_("已完成步骤"), default=0)
    steps_total = models.PositiveIntegerField(_("总步骤"), default=0)
    statements_written = models.PositiveIntegerField(_("生成结算单数"), default=0)
    lines_written = models.PositiveIntegerField(_("结算明细数"), default=0)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("发起人"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+", help_text=_("空 = 定时任务"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    error = models.TextField(_("错误信息"), blank=True)

    class Meta:
        verbose_name = _("结算任务")
        verbose_name_plural = _("结算任务")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.period:%Y-%m} {self.get_status_display()}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class Statement(models.Model):
    """R-SET-1: the monthly statement of one institution or pharmacy. ``payable = fund_payment − deposit``,
    the 5 % quality deposit withheld (000 附件2 第二条). Exactly one per organisation and month."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        CONFIRMED = "confirmed", _("已确认")

    organisation_kind = models.CharField(_("机构类型"), max_length=12, choices=OrganisationKind.choices)
    institution = models.ForeignKey("institutions.Institution", verbose_name=_("医疗机构"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="statements")
    pharmacy = models.ForeignKey("pharmacies.Pharmacy", verbose_name=_("药店"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="statements")
    period = models.DateField(_("结算月份"), help_text=_("该月第一天"))
    visits = models.IntegerField(_("人次"), default=0)
    total = models.DecimalField(_("医疗费用总额"), max_digits=14, decimal_places=2, default=0)
    fund_payment = models.DecimalField(_("统筹基金支付"), max_digits=14, decimal_places=2, default=0)
    personal_payment = models.DecimalField(_("个人支付"), max_digits=14, decimal_places=2, default=0)
    deposit = models.DecimalField(_("质量保证金（5%）"), max_digits=14, decimal_places=2, default=0)
    payable = models.DecimalField(_("应拨付金额"), max_digits=14, decimal_places=2, default=0)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    run = models.ForeignKey(SettlementRun, verbose_name=_("生成任务"), null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="statements")
    computed_at = models.DateTimeField(_("计算时间"))
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("确认人"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("月度结算单")
        verbose_name_plural = _("月度结算单")
        ordering = ["-period", "organisation_kind", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(organisation_kind="institution", institution__isnull=False, pharmacy__isnull=True)
                           | models.Q(organisation_kind="pharmacy", pharmacy__isnull=False, institution__isnull=True)),
                name="statement_exactly_one_organisation",
            ),
            models.UniqueConstraint(fields=["institution", "period"], condition=models.Q(institution__isnull=False),
                                    name="uniq_statement_institution_period",
                                    violation_error_message=_("该机构本月已有结算单")),
            models.UniqueConstraint(fields=["pharmacy", "period"], condition=models.Q(pharmacy__isnull=False),
                                    name="uniq_statement_pharmacy_period",
                                    violation_error_message=_("该药店本月已有结算单")),
        ]
        indexes = [models.Index(fields=["period", "status"])]

    def __str__(self):
        return f"{self.organisation} {self.period:%Y-%m}"

    @property
    def organisation(self):
        return self.institution if self.organisation_kind == OrganisationKind.INSTITUTION else self.pharmacy

    @property
    def is_locked(self) -> bool:
        return self.status == self.Status.CONFIRMED


class StatementLine(models.Model):
    """R-SET-1: a dispensing covered by a statement. A dispensing is on one statement at most (no double count)."""

    # The dispensing is the key: a dispensing is on one statement at most, enforced by the primary key itself
    # (one index fewer to maintain when a month's million lines are written). No database foreign key to the
    # dispensing: lines are only ever written by INSERT … SELECT from the dispensing table in the same transaction,
    # dispensings are never deleted (PROTECT), and a per-row referential check on a million rows would double the
    # settlement time.
    dispensing = models.OneToOneField("prescriptions.Dispensing", verbose_name=_("配药结算"), primary_key=True,
                                      on_delete=models.PROTECT, related_name="statement_line", db_constraint=False)
    statement = models.ForeignKey(Statement, verbose_name=_("结算单"), on_delete=models.CASCADE, related_name="lines")

    class Meta:
        verbose_name = _("结算单明细")
        verbose_name_plural = _("结算单明细")

    def __str__(self):
        return f"{self.statement_id} ← {self.dispensing_id}"


class ReportedTotal(models.Model):
    """R-SET-2: an organisation's own monthly totals for one drug (uploaded as Excel or through the API),
    compared line by line with what the system recorded."""

    organisation_kind = models.CharField(_("机构类型"), max_length=12, choices=OrganisationKind.choices)
    institution = models.ForeignKey("institutions.Institution", verbose_name=_("医疗机构"), null=True, blank=True,
                                    on_delete=models.CASCADE, related_name="+")
    pharmacy = models.ForeignKey("pharmacies.Pharmacy", verbose_name=_("药店"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+")
    period = models.DateField(_("月份"))
    drug = models.ForeignKey("catalogue.Drug", verbose_name=_("药品"), on_delete=models.PROTECT, related_name="+")
    quantity = models.IntegerField(_("数量（盒）"))
    total = models.DecimalField(_("金额"), max_digits=14, decimal_places=2)
    fund_payment = models.DecimalField(_("统筹基金支付"), max_digits=14, decimal_places=2)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("上报人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("上报时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("机构上报月度汇总")
        verbose_name_plural = _("机构上报月度汇总")
        ordering = ["period", "drug"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(organisation_kind="institution", institution__isnull=False, pharmacy__isnull=True)
                           | models.Q(organisation_kind="pharmacy", pharmacy__isnull=False, institution__isnull=True)),
                name="reported_total_exactly_one_organisation",
            ),
            models.UniqueConstraint(fields=["institution", "period", "drug"], condition=models.Q(institution__isnull=False),
                                    name="uniq_reported_total_institution"),
            models.UniqueConstraint(fields=["pharmacy", "period", "drug"], condition=models.Q(pharmacy__isnull=False),
                                    name="uniq_reported_total_pharmacy"),
        ]


class ReconciliationDifference(models.Model):
    """R-SET-2: one mismatch found by the monthly reconciliation. Open ones are recomputed on every run;
    resolved ones are kept (and not raised again for the same ``key``)."""

    class Kind(models.TextChoices):
        NO_FLOWED_PRESCRIPTION = "no_flowed_prescription", _("配药无有效流转处方")
        QUANTITY_MISMATCH = "quantity_mismatch", _("配药数量与处方不符")
        PRICE_MISMATCH = "price_mismatch", _("配药价格与支付标准/金额不符")
        NEVER_DISPENSED = "never_dispensed", _("处方已流转未配药")
        SALES_EXCEED_PURCHASES = "sales_exceed_purchases", _("销售量超过进货量")
        REPORTED_TOTAL_MISMATCH = "reported_total_mismatch", _("机构上报汇总与系统不符")

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        RESOLVED = "resolved", _("已处理")

    period = models.DateField(_("月份"), db_index=True)
    kind = models.CharField(_("差异类型"), max_length=32, choices=Kind.choices)
    key = models.CharField(_("差异标识"), max_length=96)
    institution = models.ForeignKey("institutions.Institution", verbose_name=_("医疗机构"), null=True, blank=True,
                                    on_delete=models.CASCADE, related_name="+")
    pharmacy = models.ForeignKey("pharmacies.Pharmacy", verbose_name=_("药店"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+")
    drug = models.ForeignKey("catalogue.Drug", verbose_name=_("药品"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    prescription = models.ForeignKey("prescriptions.Prescription", verbose_name=_("处方"), null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="+")
    dispensing = models.ForeignKey("prescriptions.Dispensing", verbose_name=_("配药结算"), null=True, blank=True,
                                   on_delete=models.CASCADE, related_name="+")
    expected = models.DecimalField(_("应为"), max_digits=14, decimal_places=2, null=True, blank=True)
    actual = models.DecimalField(_("实为"), max_digits=14, decimal_places=2, null=True, blank=True)
    detail = models.CharField(_("说明"), max_length=255)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)
    found_at = models.DateTimeField(_("发现时间"))
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("处理人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolution = models.TextField(_("处理说明"), blank=True)

    class Meta:
        verbose_name = _("对账差异")
        verbose_name_plural = _("对账差异")
        ordering = ["period", "kind", "id"]
        constraints = [models.UniqueConstraint(fields=["period", "kind", "key"], name="uniq_reconciliation_difference")]

    def __str__(self):
        return f"{self.period:%Y-%m} {self.get_kind_display()} {self.key}"


class MonthlyReportSnapshot(models.Model):
    """R-SET-3: the statistics of a month as compiled by the schedule (reported upward by the 5th)."""

    period = models.DateField(_("月份"), unique=True)
    data = models.JSONField(_("统计数据"))
    compiled_at = models.DateTimeField(_("生成时间"))

    class Meta:
        verbose_name = _("月度统计快照")
        verbose_name_plural = _("月度统计快照")
        ordering = ["-period"]

    def __str__(self):
        return f"{self.period:%Y-%m}"
