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
    # R-SET-1 (a killed worker): the process executing the run writes ``heartbeat_at`` every few seconds and at
    # every step; a running run whose heartbeat is older than ``services.RUN_DEAD_AFTER`` has lost its worker and
    # is marked failed (``services.settlement_runs_fail_dead``, every 30 s by the schedule), so it never blocks a rerun.
    heartbeat_at = models.DateTimeField(_("心跳时间"), null=True, blank=True)
    worker = models.CharField(_("执行进程"), max_length=200, blank=True, help_text=_("主机:进程号:标记"))

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
    """R-SET-1: the monthly statement of one institution or pharmacy. ``payable = fund_payment − deposit −
    deductions``: the quality deposit withheld at the region's rate (000 附件2 第二条) and the money sanctions'
    deductions (R-SET-5, ``adjustments``). Exactly one per organisation and month."""

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
    deposit_rate = models.DecimalField(_("质量保证金比例"), max_digits=5, decimal_places=4, default=0,
                                       help_text=_("统筹区设置，计算时取定"))
    deposit = models.DecimalField(_("质量保证金"), max_digits=14, decimal_places=2, default=0)
    deductions = models.DecimalField(_("扣除/追回"), max_digits=14, decimal_places=2, default=0,
                                     help_text=_("本单协议处理扣款合计（见扣款明细）"))
    payable = models.DecimalField(_("应拨付金额"), max_digits=14, decimal_places=2, default=0)
    # Written with the lines by the run (``settlement_sql``): how many lines the statement has (lists show it
    # without counting a million lines) and the sum of their dispensing ids — with the figures above, the
    # fingerprint of the month's inputs that lets a rerun leave an unchanged organisation untouched.
    line_count = models.IntegerField(_("明细条数"), default=0)
    source_digest = models.BigIntegerField(_("明细指纹"), default=0, editable=False)
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

    @property
    def number(self) -> str:
        """The statement number printed on the payment list: JS-<yyyymm>-<organisation code>."""
        return f"JS-{self.period:%Y%m}-{self.organisation.code}"


class StatementLine(models.Model):
    """R-SET-1: a dispensing covered by a statement. A dispensing is on one statement at most (no double count)."""

    # The dispensing is the key: a dispensing is on one statement at most, enforced by the primary key itself
    # (one index fewer to maintain when a month's million lines are written). No database foreign key to the
    # dispensing: lines are only ever written by INSERT … SELECT from the dispensing table in the same transaction,
    # dispensings are never deleted (PROTECT), and a per-row referential check on a million rows would double the
    # settlement time.
    dispensing = models.OneToOneField("prescriptions.Dispensing", verbose_name=_("配药结算"), primary_key=True,
                                      on_delete=models.PROTECT, related_name="statement_line", db_constraint=False)
    # No database constraint either (issue 16): the run writes a month's million lines in the transaction that
    # writes their statements, joined to them (``settlement_sql``), and deletes them before their statement; a
    # deferred per-row check would cost more than writing the lines. Django's ORM still cascades deletes.
    statement = models.ForeignKey(Statement, verbose_name=_("结算单"), on_delete=models.CASCADE, related_name="lines",
                                  db_constraint=False)
    # The statement's month (issue 16): on PostgreSQL the table is partitioned by it (declarative, one partition a
    # month, created ahead by the schedule: ``services.month_partitions_ensure``), so a month's lines are
    # written, read and deleted in its own partition whatever the years kept online. The database's primary key is
    # (dispensing, period); a dispensing has one period, so it is still on one statement at most.
    period = models.DateField(_("结算月份"), help_text=_("该月第一天（按月分区）"))

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
    # The database constraint is the composite ``(dispensing_id, period) REFERENCES prescriptions_dispensing (id,
    # period)`` on PostgreSQL (migration 0008, issue 16: dispensings are partitioned by month and keyed (id,
    # period)); a difference names a dispensing of its own month. The ORM still cascades deletes.
    dispensing = models.ForeignKey("prescriptions.Dispensing", verbose_name=_("配药结算"), null=True, blank=True,
                                   on_delete=models.CASCADE, related_name="+", db_constraint=False)
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
    """R-SET-3: the statistics of a month as compiled by the schedule (reported upward by the 5th): province-wide
    (``region`` empty) and for each city and county, so that a bureau user of any level reads its report instead of
    recomputing the month (issue 16)."""

    period = models.DateField(_("月份"))
    region = models.ForeignKey("core.Region", verbose_name=_("统筹区"), null=True, blank=True,
                               on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(_("统计数据"))
    compiled_at = models.DateTimeField(_("生成时间"))

    class Meta:
        verbose_name = _("月度统计快照")
        verbose_name_plural = _("月度统计快照")
        ordering = ["-period"]
        constraints = [
            models.UniqueConstraint(fields=["period"], condition=models.Q(region__isnull=True),
                                    name="uniq_snapshot_period_whole"),
            models.UniqueConstraint(fields=["period", "region"], condition=models.Q(region__isnull=False),
                                    name="uniq_snapshot_period_region"),
        ]

    def __str__(self):
        return f"{self.period:%Y-%m}"


# --------------------------------------------------------------------------- money consequences (R-SET-5, R-INS-3)

class StatementAdjustment(models.Model):
    """R-SET-5: a money sanction's effect on one statement, a line of its own. ``outstanding`` is what the
    sanction still asked for when this statement was computed, ``amount`` what this statement takes (deducted from
    the payable, deducted from the deposit account, or held), ``carried_forward`` the rest, which the
    organisation's next statement takes (a deduction larger than the month's payable). Lines of a draft are
    recomputed with it; those of a confirmed statement are locked with it."""

    class Kind(models.TextChoices):
        DEDUCTION = "deduction", _("扣除/追回费用")
        DEPOSIT_DEDUCTION = "deposit_deduction", _("扣除质量保证金")
        DEFERRAL = "deferral", _("暂缓拨付")

    statement = models.ForeignKey(Statement, verbose_name=_("结算单"), on_delete=models.CASCADE,
                                  related_name="adjustments")
    sanction = models.ForeignKey("core.Sanction", verbose_name=_("协议处理"), on_delete=models.PROTECT,
                                 related_name="statement_adjustments")
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    outstanding = models.DecimalField(_("本期前待执行"), max_digits=14, decimal_places=2)
    amount = models.DecimalField(_("本期执行金额"), max_digits=14, decimal_places=2)
    carried_forward = models.DecimalField(_("结转下期"), max_digits=14, decimal_places=2, default=0)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("决定人"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("结算单扣款/缓付明细")
        verbose_name_plural = _("结算单扣款/缓付明细")
        ordering = ["statement", "id"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "sanction"], name="uniq_adjustment_statement_sanction"),
            models.CheckConstraint(condition=models.Q(amount__gte=0) & models.Q(carried_forward__gte=0)
                                   & models.Q(outstanding__gte=0), name="adjustment_amounts_not_negative"),
        ]

    def __str__(self):
        return f"{self.statement} {self.get_kind_display()} {self.amount}"


class DeferralRelease(models.Model):
    """R-SET-5: the bureau releases a payment deferral (缓付); the payables it held become payable. Once only."""

    sanction = models.OneToOneField("core.Sanction", verbose_name=_("暂缓拨付处理"), on_delete=models.PROTECT,
                                    related_name="deferral_release")
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("解除人"), on_delete=models.PROTECT,
                                    related_name="+")
    released_at = models.DateTimeField(_("解除时间"))
    reason = models.TextField(_("解除理由"))

    class Meta:
        verbose_name = _("解除暂缓拨付")
        verbose_name_plural = _("解除暂缓拨付")

    def __str__(self):
        return f"{self.sanction_id} {self.released_at:%Y-%m-%d}"


class DepositAccount(models.Model):
    """R-SET-5: an organisation's quality-deposit account (质量保证金). Its balance is the sum of its entries."""

    organisation_kind = models.CharField(_("机构类型"), max_length=12, choices=OrganisationKind.choices)
    institution = models.OneToOneField("institutions.Institution", verbose_name=_("医疗机构"), null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="deposit_account")
    pharmacy = models.OneToOneField("pharmacies.Pharmacy", verbose_name=_("药店"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="deposit_account")
    created_at = models.DateTimeField(_("开户时间"))

    class Meta:
        verbose_name = _("质量保证金账户")
        verbose_name_plural = _("质量保证金账户")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(organisation_kind="institution", institution__isnull=False, pharmacy__isnull=True)
                           | models.Q(organisation_kind="pharmacy", pharmacy__isnull=False, institution__isnull=True)),
                name="deposit_account_exactly_one_organisation",
            ),
        ]

    def __str__(self):
        return f"{self.organisation} 质量保证金"

    @property
    def organisation(self):
        return self.institution if self.organisation_kind == OrganisationKind.INSTITUTION else self.pharmacy


class DepositEntry(models.Model):
    """R-SET-5: one append-only movement of a deposit account: withheld from a confirmed statement (+), deducted
    by a sanction (−), returned after the annual assessment (−, or 0 when the bureau returns nothing).
    ``balance_after`` is the running balance, never below zero."""

    class Kind(models.TextChoices):
        WITHHELD = "withheld", _("按月预留")
        DEDUCTED = "deducted", _("处理扣除")
        RETURNED = "returned", _("考核返还")

    class Decision(models.TextChoices):
        ALL = "all", _("全额返还")
        PART = "part", _("部分返还")
        NONE = "none", _("不予返还")

    account = models.ForeignKey(DepositAccount, verbose_name=_("保证金账户"), on_delete=models.PROTECT,
                                related_name="entries")
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2, help_text=_("存入为正，扣除/返还为负"))
    balance_after = models.DecimalField(_("余额"), max_digits=14, decimal_places=2)
    statement = models.ForeignKey(Statement, verbose_name=_("结算单"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="deposit_entries")
    sanction = models.ForeignKey("core.Sanction", verbose_name=_("协议处理"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="deposit_entries")
    year = models.PositiveSmallIntegerField(_("考核年度"), null=True, blank=True)
    decision = models.CharField(_("考核决定"), max_length=4, choices=Decision.choices, blank=True)
    reason = models.TextField(_("说明"), blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("决定人"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("记账时间"))

    class Meta:
        verbose_name = _("质量保证金明细")
        verbose_name_plural = _("质量保证金明细")
        ordering = ["account", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(balance_after__gte=0), name="deposit_balance_not_negative",
                                   violation_error_message=_("保证金余额不能为负")),
            models.UniqueConstraint(fields=["statement"], condition=models.Q(kind="withheld"),
                                    name="uniq_deposit_withheld_per_statement"),
            models.UniqueConstraint(fields=["statement", "sanction"], condition=models.Q(kind="deducted"),
                                    name="uniq_deposit_deducted_per_statement_sanction"),
            models.UniqueConstraint(fields=["account", "year"], condition=models.Q(kind="returned"),
                                    name="uniq_deposit_returned_per_year"),
        ]

    def __str__(self):
        return f"{self.account_id} {self.get_kind_display()} {self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("保证金明细只能追加，不能修改")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("保证金明细只能追加，不能删除")


class WardPayment(models.Model):
    """R-SET-2 / 000 五(三): the hospital's payment to a pharmacy for the ward deliveries of a confirmed month,
    recorded by the hospital (or as received by the pharmacy). Part payments add up; a payment recorded wrongly is
    reversed with a reason (it stays, marked reversed)."""

    statement = models.ForeignKey(Statement, verbose_name=_("结算单"), on_delete=models.PROTECT,
                                  related_name="ward_payments")
    pharmacy = models.ForeignKey("pharmacies.Pharmacy", verbose_name=_("收款药店"), on_delete=models.PROTECT,
                                 related_name="+")
    paid_on = models.DateField(_("支付日期"))
    amount = models.DecimalField(_("支付金额"), max_digits=14, decimal_places=2)
    reference = models.CharField(_("支付凭证号"), max_length=64)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), on_delete=models.PROTECT,
                                    related_name="+")
    recorded_at = models.DateTimeField(_("登记时间"))
    reversed_at = models.DateTimeField(_("冲销时间"), null=True, blank=True)
    reversed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("冲销人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    reversal_reason = models.TextField(_("冲销原因"), blank=True)

    class Meta:
        verbose_name = _("病区配送付款")
        verbose_name_plural = _("病区配送付款")
        ordering = ["statement", "paid_on", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="ward_payment_amount_positive")]

    def __str__(self):
        return f"{self.statement_id} → {self.pharmacy_id} {self.amount}"


class InstitutionMonthlyReport(models.Model):
    """R-SET-3 / 000 四(三): a designated institution's or pharmacy's own monthly statistics, due by the 5th of the
    next month. ``submitted_at`` is the first submission (lateness); a correction replaces the figures."""

    class Source(models.TextChoices):
        API = "api", _("接口上报")
        EXCEL = "excel", _("Excel 上传")
        BROWSER = "browser", _("网页填报")

    organisation_kind = models.CharField(_("机构类型"), max_length=12, choices=OrganisationKind.choices)
    institution = models.ForeignKey("institutions.Institution", verbose_name=_("医疗机构"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    pharmacy = models.ForeignKey("pharmacies.Pharmacy", verbose_name=_("药店"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    period = models.DateField(_("月份"))
    visits = models.IntegerField(_("人次"))
    total = models.DecimalField(_("医疗费用总额"), max_digits=14, decimal_places=2)
    fund_payment = models.DecimalField(_("统筹基金支付"), max_digits=14, decimal_places=2)
    source = models.CharField(_("上报方式"), max_length=8, choices=Source.choices)
    submitted_at = models.DateTimeField(_("首次上报时间"))
    updated_at = models.DateTimeField(_("最近更新时间"))
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("上报人"), on_delete=models.PROTECT,
                                     related_name="+")

    class Meta:
        verbose_name = _("机构月度统计报表")
        verbose_name_plural = _("机构月度统计报表")
        ordering = ["-period", "organisation_kind", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(organisation_kind="institution", institution__isnull=False, pharmacy__isnull=True)
                           | models.Q(organisation_kind="pharmacy", pharmacy__isnull=False, institution__isnull=True)),
                name="monthly_report_exactly_one_organisation",
            ),
            models.UniqueConstraint(fields=["institution", "period"], condition=models.Q(institution__isnull=False),
                                    name="uniq_monthly_report_institution"),
            models.UniqueConstraint(fields=["pharmacy", "period"], condition=models.Q(pharmacy__isnull=False),
                                    name="uniq_monthly_report_pharmacy"),
        ]

    def __str__(self):
        return f"{self.institution or self.pharmacy} {self.period:%Y-%m}"

    @property
    def organisation(self):
        return self.institution if self.organisation_kind == OrganisationKind.INSTITUTION else self.pharmacy


class InstitutionMonthlyReportLine(models.Model):
    """R-SET-3: the report's figures for one drug, compared line by line with the system's."""

    report = models.ForeignKey(InstitutionMonthlyReport, verbose_name=_("月度报表"), on_delete=models.CASCADE,
                               related_name="lines")
    drug = models.ForeignKey("catalogue.Drug", verbose_name=_("药品"), on_delete=models.PROTECT, related_name="+")
    visits = models.IntegerField(_("人次"))
    total = models.DecimalField(_("医疗费用总额"), max_digits=14, decimal_places=2)
    fund_payment = models.DecimalField(_("统筹基金支付"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("机构月度统计报表明细")
        verbose_name_plural = _("机构月度统计报表明细")
        constraints = [models.UniqueConstraint(fields=["report", "drug"], name="uniq_monthly_report_line_drug")]


class RectificationFollowUp(models.Model):
    """R-SET-5 / 000 附件2 第五条: a deadline rectification (限时整改) followed up daily. Unresolved at its deadline,
    or the same problem found again within six months of an earlier rectification, it escalates to the bureau's
    queue."""

    class Status(models.TextChoices):
        OPEN = "open", _("整改中")
        RESOLVED = "resolved", _("已整改")
        ESCALATED = "escalated", _("已上报")

    class Escalation(models.TextChoices):
        DEADLINE = "deadline", _("逾期未整改")
        RECURRED = "recurred", _("六个月内再次发现同一问题")

    sanction = models.OneToOneField("core.Sanction", verbose_name=_("限时整改"), on_delete=models.PROTECT,
                                    related_name="rectification_follow_up")
    problem = models.CharField(_("问题"), max_length=255, db_index=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)
    escalation = models.CharField(_("上报原因"), max_length=10, choices=Escalation.choices, blank=True)
    escalated_at = models.DateTimeField(_("上报时间"), null=True, blank=True)
    earlier = models.ForeignKey("self", verbose_name=_("此前同一问题"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(_("整改完成时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("确认人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("建档时间"))

    class Meta:
        verbose_name = _("限时整改跟踪")
        verbose_name_plural = _("限时整改跟踪")
        ordering = ["status", "-created_at"]

    def __str__(self):
        return f"{self.sanction_id} {self.get_status_display()}"
