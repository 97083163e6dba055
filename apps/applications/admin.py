"""Read-only admin views of applications: every change goes through the services (the review workspace and
the REST API), so the admin only lets staff look things up, scoped like everything else (R-SEC-1)."""
from django.contrib import admin
from django.utils import timezone

from apps.applications.models import (
    Application, ApplicationDocument, ApplicationReview, InsuredPerson, InsuredPersonChange,
)
from apps.applications.selectors import applications_visible_to
from apps.applications.services import insured_person_change_approve, insured_person_change_reject
from apps.core.admin_actions import (
    BureauAdminAccess, OptionalReasonForm, ReadOnlyAdminMixin, ReasonForm, transition_action,
)
from apps.core.masking import mask_id_number, mask_person_facts, mask_phone


class ReadOnlyAdmin(ReadOnlyAdminMixin, BureauAdminAccess, admin.ModelAdmin):
    admin_roles = ("bureau_admin", "bureau_reviewer")


class ReviewInline(admin.TabularInline):
    model = ApplicationReview
    extra = 0
    fields = ["stage", "decision", "opinion", "reviewer", "decided_at", "due_date", "overdue", "valid_until"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class DocumentInline(admin.TabularInline):
    model = ApplicationDocument
    extra = 0
    fields = ["kind", "original_name", "content_type", "size", "uploaded_by", "uploaded_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ["number", "person_name", "generic_name", "institution", "status", "current_stage",
                    "stage_due_date", "valid_until"]
    list_filter = ["status", "current_stage", "therapeutic_area"]
    search_fields = ["number", "person__name", "generic_name"]
    exclude = ["person"]
    readonly_fields = ["number", "person_name", "insured_region", "institution", "pharmacy", "physician",
                       "generic_name", "therapeutic_area", "diagnosis_code", "diagnosis_name", "usage", "course_days",
                       "first_use_on", "status", "review_stages", "current_stage", "stage_received_on",
                       "stage_due_date", "submitted_at", "applied_on", "decided_at", "valid_from", "valid_until",
                       "terminated_on", "termination_reason", "created_by"]
    inlines = [ReviewInline, DocumentInline]
    scope = staticmethod(applications_visible_to)

    @admin.display(description="参保人")
    def person_name(self, obj):
        return obj.person.name


@admin.register(InsuredPerson)
class InsuredPersonAdmin(ReadOnlyAdmin):
    list_display = ["name", "masked_id", "sex", "insurance_type", "insured_region", "masked_phone"]
    search_fields = ["name"]
    fields = ["name", "masked_id", "sex", "birth_date", "insurance_type", "insured_region", "masked_phone",
              "employer"]
    readonly_fields = fields
    scope_fields = {"region_fields": ("insured_region",), "institution_field": None, "pharmacy_field": None}

    @admin.display(description="身份证号")
    def masked_id(self, obj):
        return mask_id_number(obj.id_number)

    @admin.display(description="联系电话")
    def masked_phone(self, obj):
        return mask_phone(obj.phone)


def _approve_change(change, actor, **data):
    insured_person_change_approve(change=change, actor=actor, now=timezone.now(), **data)


def _reject_change(change, actor, **data):
    insured_person_change_reject(change=change, actor=actor, now=timezone.now(), **data)


@admin.register(InsuredPersonChange)
class InsuredPersonChangeAdmin(ReadOnlyAdmin):
    """Hospitals' proposed changes to an insured person's facts, decided by the insured region's bureau (R-SEC-1,
    R-SEC-3). Approving writes the facts through the service, with the event row."""

    scope_fields = {"region_fields": ("person__insured_region",), "institution_field": None, "pharmacy_field": None}
    list_display = ["person", "institution", "changed_fields", "status", "requested_by", "requested_at",
                    "decided_by", "decided_at"]
    list_filter = ["status"]
    fields = ["person", "institution", "masked_before", "masked_after", "status", "requested_by", "requested_at",
              "decided_by", "decided_at", "reason"]
    readonly_fields = fields
    actions = [
        transition_action("通过变更", OptionalReasonForm, _approve_change, name="approve_change"),
        transition_action("驳回变更", ReasonForm, _reject_change, name="reject_change"),
    ]

    @admin.display(description="变更字段")
    def changed_fields(self, obj):
        return "、".join(sorted(obj.after))

    @admin.display(description="修改前")
    def masked_before(self, obj):
        return mask_person_facts(obj.before)

    @admin.display(description="修改后")
    def masked_after(self, obj):
        return mask_person_facts(obj.after)
