"""Insured persons and treatment applications (待遇申请) with their review chain: R-APP-1..10."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.fields import DigestField, EncryptedCharField, EncryptedJSONField
from apps.core.models import TimeStampedModel
from apps.policies.models import InsuranceType


class Sex(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")


class Stage(models.TextChoices):
    """Review stages in their default order (R-APP-4); regions enable a subset (RegionSettings.review_stages)."""

    PHYSICIAN = "physician", _("责任医师初审")
    PHARMACY_DEPT = "pharmacy_dept", _("药学部门复审")
    INSURANCE_OFFICE = "insurance_office", _("院内医保部门终审")
    BUREAU = "bureau", _("经办机构审核")


HOSPITAL_STAGES = frozenset({Stage.PHYSICIAN, Stage.PHARMACY_DEPT, Stage.INSURANCE_OFFICE})


class InsuredPerson(TimeStampedModel):
    """An insured person (参保人), one per resident ID number (R-APP-2, R-APP-3). The ID number and phone are stored
    encrypted (PIPL, ``apps.core.fields``); the ID number is found and kept unique through its keyed digest."""

    id_number = EncryptedCharField(_("身份证号"), max_length=18, kind="id_number", digest_field="id_number_digest",
                                   tail_digest_field="id_number_tail_digest")
    id_number_digest = DigestField(_("身份证号摘要"), source="id_number", unique=True)
    id_number_tail_digest = DigestField(_("身份证号后四位摘要"), source="id_number", tail=4, db_index=True,
                                        help_text=_("按身份证号后四位查找"))
    name = models.CharField(_("姓名"), max_length=64)
    sex = models.CharField(_("性别"), max_length=6, choices=Sex.choices)
    birth_date = models.DateField(_("出生日期"))
    insurance_type = models.CharField(_("参保类型"), max_length=10, choices=InsuranceType.choices)
    insured_region = models.ForeignKey("core.Region", verbose_name=_("参保地"), on_delete=models.PROTECT,
                                       related_name="insured_persons")
    phone = EncryptedCharField(_("联系电话"), max_length=20, blank=True, kind="phone")
    card_number = models.CharField(_("医保卡号"), max_length=32, blank=True)
    employer = models.CharField(_("工作单位"), max_length=128, blank=True)

    class Meta:
        verbose_name = _("参保人")
        verbose_name_plural = _("参保人")
        ordering = ["name", "id"]  # the ID number column is ciphertext: no meaningful order

    def __str__(self):
        return f"{self.name}（{self.id_number[-4:]}）"

    def age_on(self, day) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


class Application(TimeStampedModel):
    """A treatment application for one generic drug (R-APP-7) going through the review chain (R-APP-4)."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("已提交")
        IN_REVIEW = "in_review", _("审核中")
        RETURNED = "returned", _("已退回补充材料")
        APPROVED = "approved", _("已通过")
        REJECTED = "rejected", _("未通过")
        TERMINATED = "terminated", _("已终止")
        EXPIRED = "expired", _("已到期")

    number = models.CharField(_("申请编号"), max_length=24, unique=True)
    person = models.ForeignKey(InsuredPerson, verbose_name=_("参保人"), on_delete=models.PROTECT,
                               related_name="applications")
    insured_region = models.ForeignKey(
        "core.Region", verbose_name=_("参保地"), on_delete=models.PROTECT, related_name="+",
        help_text=_("提交时参保人的参保地；经办机构审核由该地审核员负责"),
    )
    institution = models.ForeignKey("institutions.Institution", verbose_name=_("选择的医疗机构"),
                                    on_delete=models.PROTECT, related_name="applications")
    pharmacy = models.ForeignKey("pharmacies.Pharmacy", verbose_name=_("选择的定点药店"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="applications")
    physician = models.ForeignKey("physicians.Physician", verbose_name=_("责任医师"), on_delete=models.PROTECT,
                                  related_name="applications")
    generic_name = models.CharField(_("药品通用名"), max_length=128, db_index=True)
    dosage_form = models.CharField(_("剂型"), max_length=32, blank=True,
                                   help_text=_("一个申请覆盖一个通用名的一个剂型"))
    manufacturer = models.CharField(_("生产企业"), max_length=128, blank=True,
                                    help_text=_("当前使用的生产企业；更换须责任医师确定、医疗机构确认"))
    kind = models.CharField(_("申请类别"), max_length=10, choices=[("initial", _("首次申请")), ("extension", _("延期申请"))],
                            default="initial", help_text=_("延期申请按简化程序办理"))
    extends = models.ForeignKey("self", verbose_name=_("延期的原申请"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="extensions")
    therapeutic_area = models.ForeignKey("catalogue.TherapeuticArea", verbose_name=_("治疗领域"),
                                         on_delete=models.PROTECT, related_name="applications",
                                         help_text=_("处方医师须属于同一治疗领域"))
    diagnosis_code = models.CharField(_("诊断编码（ICD-10）"), max_length=16)
    diagnosis_name = models.CharField(_("诊断名称"), max_length=128)
    usage = models.CharField(_("用法用量"), max_length=128)
    course_days = models.PositiveIntegerField(_("疗程（天）"))
    first_use_on = models.DateField(_("首次用药日期"), null=True, blank=True,
                                    help_text=_("允许先用药后备案的地区，备案前已用药的日期"))
    # insured person's details as entered on the form (the person record holds the current ones)
    patient_phone = EncryptedCharField(_("申请时联系电话"), max_length=20, blank=True, kind="phone")
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.SUBMITTED,
                              db_index=True)
    review_stages = models.JSONField(_("审核环节"), default=list,
                                     help_text=_("提交时参保地设置的审核环节"))
    current_stage = models.CharField(_("当前环节"), max_length=20, choices=Stage.choices, blank=True,
                                     db_index=True)
    stage_received_on = models.DateField(_("本环节收件日期"), null=True, blank=True)
    stage_due_date = models.DateField(_("本环节办结时限"), null=True, blank=True, db_index=True,
                                      help_text=_("按工作日计算"))
    stage_due_provisional = models.BooleanField(
        _("时限为暂定"), default=False,
        help_text=_("计算时该年度正式节假日安排尚未导入，导入后自动重算"))
    submitted_at = models.DateTimeField(_("提交时间"))
    applied_on = models.DateField(_("申请日期"))
    decided_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    valid_from = models.DateField(_("有效期起"), null=True, blank=True)
    valid_until = models.DateField(_("有效期止"), null=True, blank=True)
    terminated_on = models.DateField(_("终止日期"), null=True, blank=True)
    termination_reason = models.TextField(_("终止原因"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("提交人"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("待遇申请")
        verbose_name_plural = _("待遇申请")
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["person", "generic_name", "status"]),
            models.Index(fields=["status", "current_stage", "stage_due_date"]),
            # the lists' order (newest first), alone and under a status filter (issue 16: every list sorts on an
            # index — a page of 50 reads 50 index entries, not a sort of every visible application)
            models.Index(fields=["-submitted_at", "-id"], name="application_newest_first"),
            models.Index(fields=["status", "-submitted_at", "-id"], name="application_status_newest"),
            # a bureau user's scope is "insured in my region or filed at my region's institutions" (R-SEC-1): the
            # lists' count reads this narrow index alone, not the wide rows
            models.Index(fields=["insured_region", "institution"], name="application_scope"),
        ]

    def __str__(self):
        return f"{self.number} {self.generic_name}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.SUBMITTED, self.Status.IN_REVIEW, self.Status.RETURNED)

    def covers(self, day) -> bool:
        """R-APP-6: approved (or terminated/expired later than ``day``) and ``day`` within validity."""
        if self.valid_from is None or self.valid_until is None:
            return False
        if self.status not in (self.Status.APPROVED, self.Status.TERMINATED, self.Status.EXPIRED):
            return False
        if day < self.valid_from or day > self.valid_until:
            return False
        return self.terminated_on is None or day < self.terminated_on


class ManufacturerSwitch(models.Model):
    """R-CAT-6: a switch to another manufacturer's product of the application's generic name and dosage form. It
    takes effect once the responsible physician has determined it and the institution has confirmed it."""

    application = models.ForeignKey(Application, verbose_name=_("申请"), on_delete=models.PROTECT,
                                    related_name="manufacturer_switches")
    from_manufacturer = models.CharField(_("原生产企业"), max_length=128, blank=True)
    to_manufacturer = models.CharField(_("新生产企业"), max_length=128)
    reason = models.TextField(_("理由"), blank=True)
    determined_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("确定医师"), on_delete=models.PROTECT,
                                      related_name="+")
    determined_at = models.DateTimeField(_("确定时间"))
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("确认人"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("更换生产企业")
        verbose_name_plural = _("更换生产企业")
        ordering = ["determined_at", "id"]

    def __str__(self):
        return f"{self.application} {self.from_manufacturer} → {self.to_manufacturer}"


class OtherFundUse(models.Model):
    """R-PAY-3 step 4: the patient's other use of the fund in a month, as the core insurance system reports it
    (imported monthly from its export, or entered by the bureau). Counts toward the annual limit."""

    class Source(models.TextChoices):
        IMPORT = "import", _("核心系统导入")
        MANUAL = "manual", _("经办机构录入")

    person = models.ForeignKey(InsuredPerson, verbose_name=_("参保人"), on_delete=models.PROTECT,
                               related_name="other_fund_uses")
    year = models.PositiveSmallIntegerField(_("年度"))
    month = models.PositiveSmallIntegerField(_("月份"))
    amount = models.DecimalField(_("基金支付（元）"), max_digits=14, decimal_places=2)
    source = models.CharField(_("来源"), max_length=8, choices=Source.choices)
    note = models.CharField(_("说明"), max_length=255, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("登记时间"))

    class Meta:
        verbose_name = _("其他基金支付")
        verbose_name_plural = _("其他基金支付")
        ordering = ["person", "year", "month"]
        constraints = [models.UniqueConstraint(fields=["person", "year", "month"], name="uniq_other_fund_use_month")]
        indexes = [models.Index(fields=["person", "year"])]

    def __str__(self):
        return f"{self.person} {self.year}-{self.month:02d} {self.amount}"


class ApplicationReview(models.Model):
    """One decision of the review chain: who, when, which stage, the opinion (R-APP-4). Append-only."""

    class Decision(models.TextChoices):
        APPROVE = "approve", _("同意")
        REJECT = "reject", _("不同意")
        RETURN = "return", _("退回补充材料")
        RESUBMIT = "resubmit", _("补充后重新提交")

    application = models.ForeignKey(Application, verbose_name=_("申请"), on_delete=models.PROTECT,
                                    related_name="reviews")
    stage = models.CharField(_("环节"), max_length=20, choices=Stage.choices)
    decision = models.CharField(_("意见"), max_length=10, choices=Decision.choices)
    opinion = models.TextField(_("审核意见"), blank=True)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审核人"), on_delete=models.PROTECT,
                                 related_name="+")
    decided_at = models.DateTimeField(_("审核时间"))
    due_date = models.DateField(_("时限"), null=True, blank=True)
    overdue = models.BooleanField(_("超时办结"), default=False)
    valid_until = models.DateField(_("核定有效期止"), null=True, blank=True)

    class Meta:
        verbose_name = _("审核记录")
        verbose_name_plural = _("审核记录")
        ordering = ["decided_at", "id"]

    def __str__(self):
        return f"{self.get_stage_display()} {self.get_decision_display()}"

    def save(self, *args, **kwargs):
        # R-APP-4: a recorded decision cannot be edited afterwards.
        if self.pk is not None:
            raise ValueError("ApplicationReview is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("ApplicationReview is append-only")


def document_upload_to(instance, filename):
    return f"applications/{instance.application_id}/{instance.sha256[:16]}_{filename[-80:]}"


class ApplicationDocument(models.Model):
    """A supporting document (R-APP-2): ID copy, insurance card or e-voucher, medical records."""

    class Kind(models.TextChoices):
        ID_COPY = "id_copy", _("身份证复印件")
        INSURANCE_CARD = "insurance_card", _("医保卡或电子凭证")
        MEDICAL_RECORD = "medical_record", _("病历资料")
        OTHER = "other", _("其他")

    application = models.ForeignKey(Application, verbose_name=_("申请"), on_delete=models.CASCADE,
                                    related_name="documents")
    kind = models.CharField(_("材料类型"), max_length=20, choices=Kind.choices, default=Kind.MEDICAL_RECORD)
    file = models.FileField(_("文件"), upload_to=document_upload_to)
    original_name = models.CharField(_("原文件名"), max_length=255)
    content_type = models.CharField(_("文件类型"), max_length=32)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("上传人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("申请材料")
        verbose_name_plural = _("申请材料")
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.original_name}"

    @property
    def is_pdf(self) -> bool:
        return self.content_type == "application/pdf"

    @property
    def is_image(self) -> bool:
        return self.content_type in ("image/jpeg", "image/png")


class InsuredPersonChange(models.Model):
    """A hospital's proposed change to an insured person's identity or insurance facts (R-SEC-1, R-SEC-3): never a
    silent overwrite. A hospital of the person's own pooling region proposes it and the insured region's bureau
    approves or rejects it; a hospital of another region cannot change the facts at all (its upload or
    application keeps the stored ones)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("已通过")
        REJECTED = "rejected", _("已驳回")

    person = models.ForeignKey(InsuredPerson, verbose_name=_("参保人"), on_delete=models.CASCADE,
                               related_name="changes")
    institution = models.ForeignKey("institutions.Institution", verbose_name=_("提出机构"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    # the facts (the phone among them) encrypted at rest like the person's own (PIPL)
    before = EncryptedJSONField(_("修改前"), default=dict, kind="person_facts")
    after = EncryptedJSONField(_("修改后"), default=dict, kind="person_facts")
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("提出人"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("提出时间"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审核人"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    reason = models.TextField(_("审核意见"), blank=True)

    class Meta:
        verbose_name = _("参保人信息变更")
        verbose_name_plural = _("参保人信息变更")
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"{self.person} {self.get_status_display()}"
