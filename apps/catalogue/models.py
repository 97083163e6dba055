"""The drug catalogue (药品目录): R-CAT-1..7."""
import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel

DRUG_CODE_VALIDATOR = RegexValidator(
    r"^[XZ][A-Z0-9]{22}$", _("国家医保药品代码应为23位，以 X（西药）或 Z（中成药）开头，其余为大写字母或数字")
)


class TherapeuticArea(models.Model):
    """A therapeutic area (治疗领域) grouped as in the stocking reports (R-STK-2)."""

    class Group(models.TextChoices):
        CHRONIC = "chronic", _("慢性非传染性疾病")
        ONCOLOGY = "oncology", _("肿瘤")
        RARE_DISEASE = "rare_disease", _("罕见病")
        CHRONIC_INFECTIOUS = "chronic_infectious", _("慢性传染性疾病")

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64, unique=True)
    group = models.CharField(_("类别"), max_length=24, choices=Group.choices)

    class Meta:
        verbose_name = _("治疗领域")
        verbose_name_plural = _("治疗领域")
        ordering = ["group", "code"]

    def __str__(self):
        return self.name

    @property
    def is_rare_disease(self) -> bool:
        return self.group == self.Group.RARE_DISEASE


class Drug(TimeStampedModel):
    class Category(models.TextChoices):
        NEGOTIATED = "negotiated", _("协议期内谈判药品")
        REGULAR_B = "regular_b", _("常规乙类")

    class Route(models.TextChoices):
        ORAL = "oral", _("口服")
        INJECTION = "injection", _("注射")
        EXTERNAL = "external", _("外用")

    class WithdrawalReason(models.TextChoices):
        """001 第十七条 (direct removal) and 第十八条 (removal after expert review)."""

        APPROVAL_REVOKED = "17.1", _("第十七条（一）批准证明文件被撤销、吊销或注销，或因质量问题被通报")
        NEGATIVE_LIST = "17.2", _("第十七条（二）被有关部门列入负面清单")
        FRAUD = "17.3", _("第十七条（三）通过弄虚作假等违规手段纳入")
        COMMITMENT_BREACH = "17.4", _("第十七条（四）未履行承诺约定或国家规定应直接调出的其他情形")
        PRICE_TOO_HIGH = "18.1", _("第十八条（一）同治疗领域中价格或费用明显偏高且无合理理由")
        UNCERTAIN_VALUE = "18.2", _("第十八条（二）临床价值不确切，有更好的替代药品")
        OTHER_COVERAGE = "18.3", _("第十八条（三）可在普通门诊、两病门诊和慢特病门诊保障")
        ZERO_USE = "18.4", _("第十八条（四）上年度使用量为零（罕见病除外）")
        SHORT_COURSE = "18.5", _("第十八条（五）适应症不明确、疗程短、术前用药等")
        OTHER = "18.6", _("第十八条（六）其他不符合安全性、有效性、经济性条件")

    code = models.CharField(_("医保药品代码"), max_length=23, unique=True, validators=[DRUG_CODE_VALIDATOR])
    generic_name = models.CharField(_("通用名"), max_length=128)  # indexed with the code: the list's order
    dosage_form = models.CharField(_("剂型"), max_length=32)
    specification = models.CharField(_("规格"), max_length=128)
    manufacturer = models.CharField(_("生产企业"), max_length=128)  # searched by icontains: a btree cannot help
    category = models.CharField(_("类别"), max_length=12, choices=Category.choices, default=Category.NEGOTIATED)
    therapeutic_area = models.ForeignKey(TherapeuticArea, verbose_name=_("治疗领域"), on_delete=models.PROTECT,
                                         related_name="drugs")
    route = models.CharField(_("给药途径"), max_length=12, choices=Route.choices, default=Route.ORAL)
    cold_chain = models.BooleanField(_("冷链"), default=False)
    payment_standard = models.DecimalField(
        _("支付标准（元）"), max_digits=14, decimal_places=2,
        help_text=_("当前有效值；历史见支付标准版本，结算用 payment_standard_on()"),
    )
    first_self_pay_ratio = models.DecimalField(
        _("先行自付比例"), max_digits=5, decimal_places=4, default=0,
        validators=[MinValueValidator(0), MaxValueValidator(1)], help_text=_("小数，如 0.1000 表示 10%"),
    )
    restricted_scope = models.TextField(_("限定支付范围"), blank=True)
    agreement_start = models.DateField(_("协议期开始"))
    agreement_end = models.DateField(_("协议期结束"), null=True, blank=True)
    withdrawn_on = models.DateField(_("调出日期"), null=True, blank=True)
    withdrawal_reason = models.CharField(_("调出原因"), max_length=8, choices=WithdrawalReason.choices, blank=True)
    withdrawal_note = models.TextField(_("调出说明"), blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("调出操作人"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    withdrawal_recorded_at = models.DateTimeField(_("调出登记时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("药品")
        verbose_name_plural = _("药品目录")
        ordering = ["generic_name", "code"]
        # the list sorts on (generic_name, code) (issue 16: every list sorts on an index); it also serves lookups by
        # generic name. The single-column and varchar_pattern_ops indexes it replaces served no query (searches are
        # icontains) and cost every catalogue import four more index writes per drug.
        indexes = [models.Index(fields=["generic_name", "code"], name="drug_generic_name_code_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(agreement_end__isnull=True) | models.Q(agreement_end__gte=models.F("agreement_start")),
                name="drug_agreement_end_after_start",
                violation_error_message=_("协议期结束早于开始"),
            ),
            models.CheckConstraint(
                condition=models.Q(first_self_pay_ratio__gte=0) & models.Q(first_self_pay_ratio__lte=1),
                name="drug_first_self_pay_ratio_0_1",
                violation_error_message=_("先行自付比例应在 0–100% 之间"),
            ),
        ]

    def __str__(self):
        return f"{self.generic_name} {self.specification}（{self.manufacturer}）"

    @property
    def listing_end(self) -> dt.date | None:
        """R-CAT-4: a negotiated drug's listing ends with its agreement; a regular drug's runs one year."""
        if self.category == self.Category.REGULAR_B:
            one_year = _add_years(self.agreement_start, 1) - dt.timedelta(days=1)
            return min(one_year, self.agreement_end) if self.agreement_end else one_year
        return self.agreement_end

    def is_listed_on(self, day: dt.date) -> bool:
        """R-CAT-4/R-CAT-5: within its listing period and not withdrawn on ``day``."""
        if day < self.agreement_start:
            return False
        end = self.listing_end
        if end is not None and day > end:
            return False
        return self.withdrawn_on is None or day < self.withdrawn_on


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class PaymentStandard(models.Model):
    """A version of a drug's payment standard (R-CAT-3): in force from ``valid_from`` to ``valid_until``
    (inclusive; empty = open)."""

    drug = models.ForeignKey(Drug, verbose_name=_("药品"), on_delete=models.CASCADE, related_name="payment_standards")
    amount = models.DecimalField(_("支付标准（元）"), max_digits=14, decimal_places=2)
    valid_from = models.DateField(_("生效日期"))
    valid_until = models.DateField(_("失效日期"), null=True, blank=True)
    source = models.CharField(_("来源"), max_length=128, blank=True, help_text=_("导入批次或手工修改"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("支付标准版本")
        verbose_name_plural = _("支付标准版本")
        ordering = ["drug", "-valid_from"]
        constraints = [models.UniqueConstraint(fields=["drug", "valid_from"], name="uniq_payment_standard_from")]

    def __str__(self):
        return f"{self.drug.code} {self.amount} {self.valid_from}–{self.valid_until or ''}"


def import_upload_to(instance, filename: str) -> str:
    return f"imports/{instance.kind}/{dt.date.today():%Y/%m}/{filename}"


class ImportRun(models.Model):
    """One Excel import (R-CAT-2, R-SEC-3): who, when, which file (kept), the preview and the result.

    Lifecycle: pending → running → previewed (dry run; can be confirmed) | succeeded | failed. Confirming a
    previewed run applies the same kept file and refuses if the plan no longer matches the preview.
    """

    class Kind(models.TextChoices):
        DRUGS = "drugs", _("药品目录")
        INSTITUTIONS = "institutions", _("定点医疗机构")
        PHYSICIANS = "physicians", _("责任医师")
        PHARMACIES = "pharmacies", _("定点零售药店")

    class Status(models.TextChoices):
        PENDING = "pending", _("排队中")
        RUNNING = "running", _("处理中")
        PREVIEWED = "previewed", _("已预览，待确认")
        SUCCEEDED = "succeeded", _("已导入")
        FAILED = "failed", _("失败")

    kind = models.CharField(_("导入类型"), max_length=16, choices=Kind.choices, default=Kind.DRUGS)
    file = models.FileField(_("导入文件"), upload_to=import_upload_to, max_length=255)
    file_name = models.CharField(_("文件名"), max_length=255)
    file_sha256 = models.CharField(_("文件摘要"), max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True,
                                   on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey("core.Region", verbose_name=_("统筹区"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    applied_at = models.DateTimeField(_("写入时间"), null=True, blank=True)
    dry_run = models.BooleanField(_("仅预览"), default=True)
    asynchronous = models.BooleanField(_("后台执行"), default=False)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    phase = models.CharField(_("阶段"), max_length=32, blank=True)
    effective_date = models.DateField(_("支付标准生效日期"), help_text=_("本次导入变更的支付标准自该日起执行"))
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已处理行数"), default=0)
    created_count = models.PositiveIntegerField(_("新增"), default=0)
    updated_count = models.PositiveIntegerField(_("变更"), default=0)
    unchanged_count = models.PositiveIntegerField(_("未变"), default=0)
    error_count = models.PositiveIntegerField(_("错误数"), default=0)
    errors = models.JSONField(_("错误明细（前200条）"), default=list, blank=True)
    changes = models.JSONField(_("变更明细（前200条）"), default=list, blank=True)
    plan_digest = models.CharField(_("预览摘要"), max_length=64, blank=True)
    message = models.TextField(_("说明"), blank=True)
    heartbeat_at = models.DateTimeField(
        _("最近心跳"), null=True, blank=True,
        help_text=_("处理中的导入定期更新；长时间没有心跳的视为已中断并标记为失败"))
    file_purged_at = models.DateTimeField(
        _("原文件删除时间"), null=True, blank=True,
        help_text=_("失败的导入文件保留期满后删除，导入记录保留"))

    class Meta:
        verbose_name = _("导入记录")
        verbose_name_plural = _("导入记录")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.file_name} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.PREVIEWED, self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def progress_percent(self) -> int:
        if self.is_finished:
            return 100
        if not self.total_rows:
            return 0
        return min(99, int(self.processed_rows * 100 / self.total_rows))

    @property
    def more_errors(self) -> int:
        return max(0, self.error_count - len(self.errors))


class ImportAudit(models.Model):
    """The audit record of one applied import (R-SEC-3, R-CAT-2; issue 16): who, when, which file (its SHA-256) and
    what every row changed — one record per run instead of one audit row per drug. ``change_log`` is gzip'd JSON
    lines (``apps.core.excel.engine.ChangeLog``): a header line, then one line per created or changed row
    (unchanged rows changed nothing). ``apps.catalogue.selectors.import_changes_for`` answers "what did the
    imports change for drug X" from it."""

    run = models.OneToOneField(ImportRun, verbose_name=_("导入记录"), on_delete=models.PROTECT, related_name="audit")
    kind = models.CharField(_("导入类型"), max_length=16, choices=ImportRun.Kind.choices)
    file_name = models.CharField(_("文件名"), max_length=255)
    file_sha256 = models.CharField(_("文件摘要（SHA-256）"), max_length=64)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, on_delete=models.PROTECT,
                              related_name="+")
    applied_at = models.DateTimeField(_("写入时间"), db_index=True)
    created_count = models.PositiveIntegerField(_("新增"), default=0)
    updated_count = models.PositiveIntegerField(_("变更"), default=0)
    change_log = models.BinaryField(_("逐行变更（gzip JSON lines）"))

    class Meta:
        verbose_name = _("导入审计记录")
        verbose_name_plural = _("导入审计记录")
        ordering = ["-applied_at", "-id"]

    def __str__(self):
        return f"{self.file_name} {self.file_sha256[:12]} {self.applied_at:%Y-%m-%d %H:%M}"
