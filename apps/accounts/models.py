"""Users and their organisation: a bureau region, an institution or a pharmacy (R-SEC-1)."""
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedCharField
from apps.core.roles import BUREAU_ROLES, Role


class User(AbstractUser):
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices, default=Role.BUREAU_REVIEWER)
    region = models.ForeignKey(
        "core.Region", verbose_name=_("所属统筹区"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="users", help_text=_("经办机构用户必填"),
    )
    institution = models.ForeignKey(
        "institutions.Institution", verbose_name=_("所属医疗机构"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="users",
    )
    pharmacy = models.ForeignKey(
        "pharmacies.Pharmacy", verbose_name=_("所属药店"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="users",
    )
    phone = EncryptedCharField(_("联系电话"), kind="phone", max_length=20, blank=True)  # PIPL: encrypted at rest
    failed_login_count = models.PositiveSmallIntegerField(_("连续登录失败次数"), default=0)
    locked_until = models.DateTimeField(_("锁定至"), null=True, blank=True)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self):
        return f"{self.get_full_name() or self.username}（{self.get_role_display()}）"

    def clean(self):
        super().clean()
        errors = {}
        if self.role in BUREAU_ROLES and not self.region_id and not self.is_superuser:
            errors["region"] = _("经办机构用户必须属于一个统筹区")
        if self.role == Role.HOSPITAL and not self.institution_id:
            errors["institution"] = _("医院用户必须属于一家定点医疗机构")
        if self.role == Role.PHARMACY and not self.pharmacy_id:
            errors["pharmacy"] = _("药店用户必须属于一家定点药店")
        if errors:
            raise ValidationError(errors)

    @property
    def is_bureau(self) -> bool:
        return self.role in BUREAU_ROLES

    @property
    def is_bureau_admin(self) -> bool:
        return self.role == Role.BUREAU_ADMIN or self.is_superuser

    @property
    def is_hospital(self) -> bool:
        return self.role == Role.HOSPITAL

    @property
    def is_pharmacy(self) -> bool:
        return self.role == Role.PHARMACY

    @property
    def scope_region(self):
        """The region a bureau user sees; ``None`` means every region (superusers)."""
        if self.is_superuser:
            return None
        return self.region

    @property
    def organisation(self) -> dict | None:
        """API.md ``/auth/me/``: kind, code, name."""
        if self.role == Role.HOSPITAL and self.institution_id:
            return {"kind": "institution", "code": self.institution.code, "name": self.institution.name}
        if self.role == Role.PHARMACY and self.pharmacy_id:
            return {"kind": "pharmacy", "code": self.pharmacy.code, "name": self.pharmacy.name}
        if self.region_id:
            return {"kind": "region", "code": self.region.code, "name": self.region.name}
        return None
