"""Designated medical institutions (定点医疗机构): R-INS-1..5."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import DesignatedOrganisation


class Institution(DesignatedOrganisation):
    class Level(models.IntegerChoices):
        LEVEL_1 = 1, _("一级")
        LEVEL_2 = 2, _("二级")
        LEVEL_3 = 3, _("三级")

    class HospitalType(models.TextChoices):
        GENERAL = "general", _("综合医院")
        SPECIALIST = "specialist", _("专科医院")

    class Kind(models.TextChoices):
        CERTIFYING = "certifying", _("认定类（兼治疗）")
        TREATING = "treating", _("治疗类")

    level = models.PositiveSmallIntegerField(_("医院等级"), choices=Level.choices)
    hospital_type = models.CharField(_("医院类型"), max_length=12, choices=HospitalType.choices,
                                     default=HospitalType.GENERAL)
    specialty = models.ForeignKey(
        "catalogue.TherapeuticArea", verbose_name=_("专科领域"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", help_text=_("专科医院填写；配备率按专科计算"),
    )
    kind = models.CharField(_("机构类别"), max_length=12, choices=Kind.choices, default=Kind.TREATING)
    # R-INS-1 admission criteria (level two or above is read from ``level``)
    has_clinical_department = models.BooleanField(_("具备相应临床科室"), default=False)
    sells_at_negotiated_price = models.BooleanField(_("按谈判价格销售"), default=False)
    info_system_capable = models.BooleanField(_("信息系统可审核、流转、追溯处方"), default=False)
    # R-STK-3 targets
    is_public = models.BooleanField(_("公立医院"), default=True)
    grade_a = models.BooleanField(_("甲等"), default=False, help_text=_("三甲公立综合医院目标 30%"))
    is_key_hospital = models.BooleanField(_("统筹区指定医院"), default=False,
                                          help_text=_("统筹区指定的重点医院目标 50%（昆明做法）"))
    # R-INS-6 annual re-check
    last_rechecked_on = models.DateField(_("最近复查日期"), null=True, blank=True,
                                         help_text=_("经办机构每年至少复查一次备案结果"))

    class Meta(DesignatedOrganisation.Meta):
        verbose_name = _("定点医疗机构")
        verbose_name_plural = _("定点医疗机构")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(hospital_type="specialist") | models.Q(specialty__isnull=False),
                name="institution_specialist_has_specialty",
                violation_error_message=_("专科医院须填写专科领域"),
            )
        ]

    @property
    def is_certifying(self) -> bool:
        return self.kind == self.Kind.CERTIFYING

    @property
    def is_tertiary(self) -> bool:
        return self.level == self.Level.LEVEL_3


class HospitalDuty(models.Model):
    """R-APP-4: a hospital user's review duty in the institution. The physician stage belongs to the responsible
    physician's own account (``Physician.user``); the pharmacy-department and insurance-office stages to users
    holding these duties."""

    class Duty(models.TextChoices):
        PHARMACY_DEPT = "pharmacy_dept", _("药学部门复审")
        INSURANCE_OFFICE = "insurance_office", _("院内医保部门终审")

    user = models.ForeignKey("accounts.User", verbose_name=_("用户"), on_delete=models.CASCADE,
                             related_name="hospital_duties")
    institution = models.ForeignKey(Institution, verbose_name=_("医疗机构"), on_delete=models.CASCADE,
                                    related_name="duties")
    duty = models.CharField(_("审核职责"), max_length=20, choices=Duty.choices)
    granted_at = models.DateTimeField(_("授予时间"))

    class Meta:
        verbose_name = _("院内审核职责")
        verbose_name_plural = _("院内审核职责")
        ordering = ["institution", "duty", "user"]
        constraints = [models.UniqueConstraint(fields=["user", "institution", "duty"], name="uniq_hospital_duty")]

    def __str__(self):
        return f"{self.institution} {self.get_duty_display()} {self.user}"


class PharmacyCommitteeMeeting(models.Model):
    """R-STK-4: an institution's pharmacy committee (药事会) meeting after a catalogue is published."""

    institution = models.ForeignKey(Institution, verbose_name=_("医疗机构"), on_delete=models.CASCADE,
                                    related_name="committee_meetings")
    catalogue_version = models.CharField(_("目录版本"), max_length=32, help_text=_("例如 2025 年版国家医保目录"))
    catalogue_published_on = models.DateField(_("目录公布日期"))
    held_on = models.DateField(_("召开日期"))
    notes = models.TextField(_("备注"), blank=True)

    class Meta:
        verbose_name = _("药事会记录")
        verbose_name_plural = _("药事会记录")
        ordering = ["-held_on"]
        constraints = [models.UniqueConstraint(fields=["institution", "catalogue_version"],
                                               name="uniq_committee_meeting_per_catalogue")]

    def __str__(self):
        return f"{self.institution} {self.catalogue_version} {self.held_on}"
