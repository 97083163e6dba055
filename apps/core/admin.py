"""Admin for shared reference data. Writes go through ``apps.core.services``."""
from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from apps.core.admin_actions import BureauAdminAccess, ReadOnlyAdminMixin
from apps.core.admin_figures import FiguresAdminMixin
from apps.core.exceptions import ApplicationError
from apps.core.models import CalendarDay, Event, Region, RegionSettings, Sanction
from apps.core.services import (
    calendar_day_delete, calendar_day_set, calendar_import, calendar_template_workbook, region_create, region_update,
)


class RegionForm(forms.ModelForm):
    class Meta:
        model = Region
        fields = ["code", "name"]


@admin.register(Region)
class RegionAdmin(BureauAdminAccess, admin.ModelAdmin):
    reference_data = True  # every administrator reads the region tree; a system-wide role writes it (§5)
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    form = RegionForm

    def get_readonly_fields(self, request, obj=None):
        return ["code", "level", "parent"] if obj else []

    def get_fields(self, request, obj=None):
        return ["code", "name", "level", "parent"] if obj else ["code", "name"]

    def save_model(self, request, obj, form, change):
        # level and parent follow from the code (apps.core.services.region_create)
        if change:
            region_update(region=obj, actor=request.user, name=form.cleaned_data["name"])
        else:
            created = region_create(actor=request.user, code=form.cleaned_data["code"], name=form.cleaned_data["name"])
            obj.pk, obj.level, obj.parent = created.pk, created.level, created.parent

    def has_delete_permission(self, request, obj=None):
        return False


class CalendarImportForm(forms.Form):
    file = forms.FileField(label="Excel 文件（.xlsx，列：日期 / 类型 / 名称）")
    dry_run = forms.BooleanField(label="仅预览，不写入", required=False)


@admin.register(CalendarDay)
class CalendarDayAdmin(BureauAdminAccess, admin.ModelAdmin):
    reference_data = True  # the holiday calendar is shared (R-APP-5); written by a system-wide role (§5)
    list_display = ["date", "kind", "name"]
    list_filter = ["kind"]
    date_hierarchy = "date"
    search_fields = ["name"]
    change_list_template = "admin/core/calendarday/change_list.html"

    def has_delete_permission(self, request, obj=None):
        return self._writable(request)

    def save_model(self, request, obj, form, change):
        saved = calendar_day_set(actor=request.user, date=obj.date, kind=obj.kind, name=obj.name)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        calendar_day_delete(actor=request.user, day=obj)

    def delete_queryset(self, request, queryset):
        for day in queryset:
            calendar_day_delete(actor=request.user, day=day)

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="core_calendarday_import"),
            path("import/template/", self.admin_site.admin_view(self.template_view),
                 name="core_calendarday_import_template"),
            *super().get_urls(),
        ]

    def template_view(self, request):
        response = HttpResponse(calendar_template_workbook(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="calendar-template.xlsx"'
        return response

    def import_view(self, request):
        """R-APP-5: import holidays and make-up working days; every bad row is listed and nothing is written."""
        if not self.has_add_permission(request):
            return redirect("admin:index")
        form = CalendarImportForm(request.POST or None, request.FILES or None)
        result, errors = None, []
        if request.method == "POST" and form.is_valid():
            try:
                result = calendar_import(actor=request.user, now=timezone.now(), file=form.cleaned_data["file"],
                                         dry_run=form.cleaned_data["dry_run"])
            except ApplicationError as exc:
                errors = exc.data.get("errors", [])
                form.add_error(None, exc.message)
            else:
                verb = "预览" if result.dry_run else "导入完成"
                self.message_user(request, f"{verb}：新增 {result.created}，更新 {result.updated}，"
                                           f"未变 {result.unchanged}", messages.SUCCESS)
                if not result.dry_run:
                    return redirect("admin:core_calendarday_changelist")
        context = {**self.admin_site.each_context(request), "title": "导入节假日安排", "form": form,
                   "errors": errors, "result": result, "opts": self.model._meta}
        return TemplateResponse(request, "admin/core/calendarday/import.html", context)


@admin.register(RegionSettings)
class RegionSettingsAdmin(BureauAdminAccess, admin.ModelAdmin):
    scope_fields = {"region_fields": ("region",), "institution_field": None, "pharmacy_field": None}
    list_display = ["region", "attending_physician_allowed", "filing_after_first_use", "prescription_validity_days",
                    "bureau_review_days"]
    search_fields = ["region__code", "region__name"]
    autocomplete_fields = ["region"]


class ReadOnlyAdmin(ReadOnlyAdminMixin, FiguresAdminMixin, BureauAdminAccess, admin.ModelAdmin):
    pass


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    scope_subject = ("content_type", "object_id")  # events about rows the administrator may see (R-SEC-1)
    list_display = ["at", "action", "content_type", "object_id", "actor", "from_status", "to_status", "reason"]
    list_filter = ["action", "content_type"]
    search_fields = ["object_id", "reason", "actor__username"]
    date_hierarchy = "at"


@admin.register(Sanction)
class SanctionAdmin(ReadOnlyAdmin):
    """Sanctions are recorded from the institution/pharmacy pages (services keep status and event in step)."""

    scope_subject = ("content_type", "object_id")  # sanctions of the region's institutions and pharmacies

    list_display = ["decided_on", "kind", "organisation", "reason", "amount", "deadline", "created_by"]
    list_filter = ["kind", "content_type"]
    search_fields = ["reason"]
    date_hierarchy = "decided_on"
