"""E-prescriptions, dispensing with traceability codes, the per-patient-year accumulator, stock movements,
cross-region filings and manual claims (R-RX-1..7, R-PAY-3..5, R-PHA-3).

Amounts of a dispensing are computed once by ``apps.prescriptions.engine`` and stored with the payment standard
and ratios they were computed with (snapshots): later catalogue or policy changes never alter past amounts.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.policies.models import CareSetting, InsuranceType


def _money(verbose, **kw):
    return models.DecimalField(verbose, max_digits=14, decimal_places=2, **kw)


def _ratio(verbose, **kw):
    return models.DecimalField(verbose, max_digits=5, decimal_places=4, **kw)


class SettlementFigures(models.Model):
    """The R-PAY-3 figures of one settlement (a dispensing, or a manual claim computed by the same engine), with the
    year-to-date usage the engine started from (audit of steps 3–4)."""

    total = _money(_("费用总额"))
    first_self_pay = _money(_("先行自付"))
    in_scope = _money(_("政策范围内费用"))
    deductible = _money(_("起付线"))
    fund_payment = _money(_("统筹基金支付"))
    personal_payment = _money(_("个人支付"))
    deductible_met_before = _money(_("此前已累计起付线"), default=0)
    fund_paid_before = _money(_("此前已累计基金支付"), default=0)

    class Meta:
        abstract = True


class Delivery(models.TextChoices):
    """R-RX-7: where the pharmacy hands over the drug."""

    PICKUP = "pickup", _("到店自取")
    HOSPITAL = "hospital", _("配送至就诊医院（注射剂）")
    WARD = "ward", _("配送至病区（住院）")


class Prescription(models.Model):
    class Status(models.TextChoices):
        FLOWED = "flowed", _("已流转")
        DISPENSED = "dispensed", _("已配药")
        DECLINED = "declined", _("药店拒配")
        CANCELLED = "cancelled", _("医院撤销")
        EXPIRED = "expired", _("已过期")

    class DeclineReason(models.TextChoices):
        """R-RX-6: the fixed list a pharmacy chooses from."""

        OUT_OF_STOCK = "out_of_stock", _("药品缺货")
        PATIENT_ABSENT = "patient_absent", _("患者未到店")
        PRESCRIPTION_ERROR = "prescription_error", _("处方有误")
        PATIENT_REFUSED = "patient_refused", _("患者放弃购药")
        COLD_CHAIN_UNAVAILABLE = "cold_chain_unavailable", _("无法满足冷链/配送要求")

    institution = models.ForeignKey("institutions.Institution", verbose_name=_("开方机构"), on_delete=models.PROTECT,
                                    related_name="prescriptions")
    serial_no = models.CharField(_("处方流水号"), max_length=64)
    application = models.ForeignKey("applications.Application", verbose_name=_("待遇申请"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="prescriptions")
    person = models.ForeignKey("applications.InsuredPerson", verbose_name=_("参保人"), on_delete=models.PROTECT,
                               related_name="prescriptions")
    physician = models.ForeignKey("physicians.Physician", verbose_name=_("开方医师"), on_delete=models.PROTECT,
                                  related_name="prescriptions")
    pharmacy = models.ForeignKey("pharmacies.Pharmacy", verbose_name=_("流转药店"), on_delete=models.PROTECT,
                                 related_name="prescriptions")
    issued_at = models.DateTimeField(_("开具时间"))
    long_term = models.BooleanField(_("长期处方"), default=False)
    care_setting = models.CharField(_("就医类型"), max_length=12, choices=CareSetting.choices,
                                    default=CareSetting.OUTPATIENT)
    delivery = models.CharField(_("配送方式"), max_length=10, choices=Delivery.choices, default=Delivery.PICKUP)
    signature = models.TextField(_("医师电子签名"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.FLOWED)
    expires_at = models.DateTimeField(_("失效时间"))
    downloaded_at = models.DateTimeField(_("药店下载时间"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("状态变更时间"), null=True, blank=True)
    content_hash = models.CharField(_("内容摘要"), max_length=64, help_text=_("重复上传比对"))
    cancel_reason = models.TextField(_("撤销原因"), blank=True)
    decline_reason = models.CharField(_("拒配原因"), max_length=24, choices=DeclineReason.choices, blank=True)
    decline_note = models.CharField(_("拒配说明"), max_length=255, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("上传人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("电子处方")
        verbose_name_plural = _("电子处方")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "serial_no"], name="uniq_prescription_serial"),
        ]
        indexes = [
            models.Index(fields=["pharmacy", "status", "issued_at"], name="rx_pharmacy_status"),
            models.Index(fields=["institution", "issued_at"], name="rx_institution_issued"),
            models.Index(fields=["status", "expires_at"], name="rx_status_expires"),
            # the lists' sort (issue 16): the newest 30 read from an index instead of sorting every row
            models.Index(fields=["-issued_at", "-id"], name="rx_issued_desc"),
            models.Index(fields=["pharmacy", "-issued_at", "-id"], name="rx_pharmacy_issued_desc"),
        ]

    def __str__(self):
        return f"{self.serial_no}（{self.get_status_display()}）"


class PrescriptionItem(models.Model):
    prescription = models.ForeignKey(Prescription, verbose_name=_("处方"), on_delete=models.CASCADE,
                                     related_name="items")
    drug = models.ForeignKey("catalogue.Drug", verbose_name=_("药品"), on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("数量（盒）"))
    days_supply = models.PositiveSmallIntegerField(_("用药天数"))

    class Meta:
        verbose_name = _("处方明细")
        verbose_name_plural = _("处方明细")
        ordering = ["prescription", "id"]
        constraints = [
            models.UniqueConstraint(fields=["prescription", "drug"], name="uniq_prescription_item_drug"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="rx_item_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.drug_id} × {self.quantity}"


class Dispensing(SettlementFigures):
    """One dispensing (配药结算) or its reversal (冲正: same figures negated, ``reverses`` the original)."""

    class Kind(models.TextChoices):
        NORMAL = "normal", _("配药")
        REVERSAL = "reversal", _("冲正")

    class Settlement(models.TextChoices):
        """R-PAY-5: settled directly with the fund, or paid in full by the patient who claims later."""

        DIRECT = "direct", _("直接结算")
        SELF_PAID = "self_paid", _("全额自付（待手工报销）")

    prescription = models.ForeignKey(Prescription, verbose_name=_("处方"), on_delete=models.PROTECT,
                                     related_name="dispensings")
    pharmacy = models.ForeignKey("pharmacies.Pharmacy", verbose_name=_("药店"), on_delete=models.PROTECT,
                                 related_name="dispensings")
    institution = models.ForeignKey("institutions.Institution", verbose_name=_("开方机构"), on_delete=models.PROTECT,
                                    related_name="dispensings")
    person = models.ForeignKey("applications.InsuredPerson", verbose_name=_("参保人"), on_delete=models.PROTECT,
                               related_name="dispensings")
    insurance_type = models.CharField(_("险种"), max_length=10, choices=InsuranceType.choices)
    insured_region = models.ForeignKey("core.Region", verbose_name=_("参保地"), on_delete=models.PROTECT,
                                       related_name="+")
    policy = models.ForeignKey("policies.PaymentPolicy", verbose_name=_("支付政策"), on_delete=models.PROTECT,
                               related_name="dispensings")
    care_setting = models.CharField(_("就医类型"), max_length=12, choices=CareSetting.choices)
    settlement = models.CharField(_("结算方式"), max_length=10, choices=Settlement.choices, default=Settlement.DIRECT)
    dispensed_at = models.DateTimeField(_("配药时间"))
    period = models.DateField(_("结算月份"), db_index=True,
                              help_text=_("所计入结算月的第一天；冲正计入原月份，原月份已确认时计入下月"))
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices, default=Kind.NORMAL)
    # No database constraint (issue 16): on PostgreSQL the table is partitioned by ``period`` and its key is
    # (id, period), and a reversal may count in the month after its original's. ``dispensing_reverse`` writes the
    # reversal from the original it holds locked, dispensings are never deleted (PROTECT in the ORM).
    reverses = models.ForeignKey("self", verbose_name=_("被冲正的配药"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="reversals", db_constraint=False)
    delivery = models.CharField(_("配送方式"), max_length=10, choices=Delivery.choices, default=Delivery.PICKUP)
    dispensed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    # Issue 16: on PostgreSQL the table is ``PARTITION BY RANGE (period)`` — one partition a month plus a default
    # one, created ahead by the schedule (``apps.core.partitions``, migration 0004) — with the database key
    # (id, period); Django keeps ``id`` as the primary key (one sequence: ids stay unique across the months).

    class Meta:
        verbose_name = _("配药结算")
        verbose_name_plural = _("配药结算")
        ordering = ["-dispensed_at", "-id"]
        constraints = [
            # R-RX-6: a dispensing is reversed at most once (NULLs are distinct, so normal rows are free). A
            # partitioned table's unique keys include the partition key, so the database holds it within a month;
            # across months (a reversal counted in the next month) ``dispensing_reverse`` holds it: it locks the
            # original row and looks for a reversal before writing one (issue 16).
            models.UniqueConstraint(fields=["reverses", "period"], name="uniq_dispensing_reversed_once"),
            models.CheckConstraint(
                condition=(Q(kind="normal", reverses__isnull=True) | Q(kind="reversal", reverses__isnull=False)),
                name="dispensing_reversal_has_original",
            ),
        ]
        indexes = [
            models.Index(fields=["pharmacy", "period"], name="disp_pharmacy_period"),
            models.Index(fields=["institution", "period"], name="disp_institution_period"),
            models.Index(fields=["person", "dispensed_at"], name="disp_person_dispensed"),
            # the dispensing lists sort newest first (issue 16 pages): a page reads its rows from the index, on
            # PostgreSQL merged over the month partitions' indexes
            models.Index(fields=["-dispensed_at", "-id"], name="disp_dispensed_desc"),
            models.Index(fields=["pharmacy", "-dispensed_at", "-id"], name="disp_pharmacy_dispensed_desc"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} {self.total}"

    @property
    def is_reversal(self) -> bool:
        return self.kind == self.Kind.REVERSAL


class DispensingLine(models.Model):
    """A line with the figures it was settled with. ``fund_payment`` is the dispensing's fund allocated to the
    lines pro rata to ``in_scope`` (the last line takes the rounding remainder) so that the lines sum exactly to
    the dispensing (statistics by drug, R-SET-3)."""

    # The database constraint is the composite ``(dispensing_id, period) REFERENCES prescriptions_dispensing (id,
    # period)`` on PostgreSQL (migration 0004, issue 16: both tables are partitioned by month and keyed (id,
    # period)); Django's own single-column constraint cannot point at that key. The ORM still cascades deletes.
    dispensing = models.ForeignKey(Dispensing, verbose_name=_("配药结算"), on_delete=models.CASCADE,
                                   related_name="lines", db_constraint=False)
    drug = models.ForeignKey("catalogue.Drug", verbose_name=_("药品"), on_delete=models.PROTECT, related_name="+")
    quantity = models.IntegerField(_("数量（盒）"), help_text=_("冲正行为负数"))
    unit_price = _money(_("单价"))
    line_total = _money(_("金额"))
    payment_standard = _money(_("支付标准（快照）"))
    first_self_pay_ratio = _ratio(_("先行自付比例（快照）"))
    reimbursement_ratio = _ratio(_("报销比例（快照）"))
    first_self_pay = _money(_("先行自付"))
    in_scope = _money(_("政策范围内费用"))
    fund_payment = _money(_("统筹基金支付（分摊）"))
    personal_payment = _money(_("个人支付（分摊）"))
    # The dispensing's month, copied by every writer (issue 16): the partition key of the lines on PostgreSQL
    # and half of their composite foreign key to the dispensing.
    period = models.DateField(_("结算月份"), help_text=_("所属配药结算的结算月份（按月分区）"))

    class Meta:
        verbose_name = _("配药明细")
        verbose_name_plural = _("配药明细")
        ordering = ["dispensing", "id"]

    def __str__(self):
        return f"{self.drug_id} × {self.quantity} @ {self.unit_price}"


class TraceCode(models.Model):
    """One drug traceability code (药品追溯码, 20 digits) per dispensed pack (R-RX-5).

    A code can be live in one dispensing only, in the whole system: a partial unique index on ``code`` where
    ``released_at`` is empty, enforced by the database (no check-then-insert). A reversal (冲正) releases the
    codes of the dispensing it reverses (the pack is back on the pharmacy's shelf and may be dispensed again
    after the correction); the released row stays as history for monitoring (R-MON-4)."""

    code = models.CharField(_("追溯码"), max_length=20)
    # ``line`` and ``released_by`` have no database constraint (issue 16): the lines and dispensings are keyed
    # (id, period) on PostgreSQL. A code is written with its line in the dispensing's transaction and released by
    # the reversal written in the same transaction; lines and dispensings are never deleted while a code refers to
    # them (PROTECT in the ORM; ``tests/prescriptions/test_partitions.py``).
    line = models.ForeignKey(DispensingLine, verbose_name=_("配药明细"), on_delete=models.PROTECT,
                             related_name="trace_codes", db_constraint=False)
    drug = models.ForeignKey("catalogue.Drug", verbose_name=_("药品"), on_delete=models.PROTECT, related_name="+")
    pharmacy = models.ForeignKey("pharmacies.Pharmacy", verbose_name=_("药店"), on_delete=models.PROTECT,
                                 related_name="+")
    dispensed_at = models.DateTimeField(_("配药时间"))
    released_at = models.DateTimeField(_("冲正释放时间"), null=True, blank=True)
    released_by = models.ForeignKey(Dispensing, verbose_name=_("释放它的冲正"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="released_codes", db_constraint=False)

    class Meta:
        verbose_name = _("药品追溯码")
        verbose_name_plural = _("药品追溯码")
        ordering = ["code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=Q(released_at__isnull=True),
                                    name="uniq_live_trace_code"),
            models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{20}$"), name="trace_code_20_digits"),
        ]
        indexes = [models.Index(fields=["code"], name="trace_code_idx")]

    def __str__(self):
        return self.code


class PatientYearUsage(models.Model):
    """R-PAY-3 steps 3-4: what a patient has used of the deductible and the fund cap in a calendar year.
    Updated only under ``select_for_update`` in the dispensing's transaction."""

    person = models.ForeignKey("applications.InsuredPerson", verbose_name=_("参保人"), on_delete=models.PROTECT,
                               related_name="year_usages")
    year = models.PositiveSmallIntegerField(_("年度"))
    deductible_met = _money(_("已累计起付线"), default=0)
    fund_paid = _money(_("已累计基金支付"), default=0)
    dispensing_count = models.IntegerField(_("结算次数"), default=0)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("年度累计")
        verbose_name_plural = _("年度累计")
        ordering = ["-year", "person"]
        constraints = [
            models.UniqueConstraint(fields=["person", "year"], name="uniq_patient_year_usage"),
            models.CheckConstraint(condition=Q(deductible_met__gte=0) & Q(fund_paid__gte=0),
                                   name="patient_year_usage_not_negative"),
        ]

    def __str__(self):
        return f"{self.person_id} {self.year}"


class StockMovement(models.Model):
    """R-PHA-3: a pharmacy's purchase (进货) or return to supplier (退货). Stock = purchases − returns −
    dispensed (reversals add back)."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("采购入库")
        RETURN = "return", _("退货出库")

    pharmacy = models.ForeignKey("pharmacies.Pharmacy", verbose_name=_("药店"), on_delete=models.PROTECT,
                                 related_name="stock_movements")
    drug = models.ForeignKey("catalogue.Drug", verbose_name=_("药品"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    quantity = models.PositiveIntegerField(_("数量（盒）"))
    unit_price = _money(_("单价"))
    occurred_at = models.DateTimeField(_("发生时间"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("进销存记录")
        verbose_name_plural = _("进销存记录")
        ordering = ["-occurred_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="stock_quantity_positive")]
        indexes = [models.Index(fields=["pharmacy", "drug", "occurred_at"], name="stock_pharmacy_drug")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.drug_id} × {self.quantity}"


class CrossRegionFiling(models.Model):
    """R-PAY-5: a patient insured elsewhere filed for treatment in this region (异地就医备案). With direct
    settlement the dispensing is paid under the insured region's policy; without it the patient pays in full
    and claims manually."""

    person = models.ForeignKey("applications.InsuredPerson", verbose_name=_("参保人"), on_delete=models.PROTECT,
                               related_name="cross_region_filings")
    insured_region = models.ForeignKey("core.Region", verbose_name=_("参保地"), on_delete=models.PROTECT,
                                       related_name="+")
    treatment_region = models.ForeignKey("core.Region", verbose_name=_("就医地"), on_delete=models.PROTECT,
                                         related_name="+")
    filing_no = models.CharField(_("备案号"), max_length=64, unique=True)
    valid_from = models.DateField(_("有效期起"))
    valid_until = models.DateField(_("有效期止"), null=True, blank=True)
    direct_settlement = models.BooleanField(_("直接结算"), default=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("异地就医备案")
        verbose_name_plural = _("异地就医备案")
        ordering = ["-valid_from", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                                   name="cross_region_filing_until_after_from"),
        ]

    def __str__(self):
        return self.filing_no

    def covers(self, day) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


class ManualClaim(SettlementFigures):
    """R-PAY-5: 手工报销 recorded by the bureau from the patient's invoice and computed by the same engine
    (R-PAY-3), counting toward the patient's year (deductible and cap)."""

    person = models.ForeignKey("applications.InsuredPerson", verbose_name=_("参保人"), on_delete=models.PROTECT,
                               related_name="manual_claims")
    region = models.ForeignKey("core.Region", verbose_name=_("受理统筹区"), on_delete=models.PROTECT,
                               related_name="+")
    insured_region = models.ForeignKey("core.Region", verbose_name=_("参保地"), on_delete=models.PROTECT,
                                       related_name="+")
    insurance_type = models.CharField(_("险种"), max_length=10, choices=InsuranceType.choices)
    care_setting = models.CharField(_("就医类型"), max_length=12, choices=CareSetting.choices,
                                    default=CareSetting.OUTPATIENT)
    policy = models.ForeignKey("policies.PaymentPolicy", verbose_name=_("支付政策"), on_delete=models.PROTECT,
                               related_name="manual_claims")
    # No database constraint (issue 16: dispensings are keyed (id, period) on PostgreSQL): ``manual_claim_record``
    # is given a dispensing read from the database and checks it (the patient's own, self-paid, not reversed);
    # dispensings are never deleted (PROTECT).
    dispensing = models.OneToOneField(Dispensing, verbose_name=_("对应配药记录"), null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="manual_claim", db_constraint=False,
                                      help_text=_("本系统内全额自付的配药，可为空（外地发票）"))
    invoice_no = models.CharField(_("发票号"), max_length=64)
    invoice_date = models.DateField(_("发票日期"))
    provider_name = models.CharField(_("开票机构"), max_length=128)
    lines = models.JSONField(_("发票明细"), default=list,
                             help_text=_("每行：drug_code, quantity, unit_price, payment_standard, first_self_pay_ratio"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("手工报销")
        verbose_name_plural = _("手工报销")
        ordering = ["-invoice_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider_name", "invoice_no"], name="uniq_manual_claim_invoice"),
        ]

    def __str__(self):
        return f"{self.invoice_no} {self.total}"
