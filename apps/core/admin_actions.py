"""Admin actions that call services (status never edited directly in the admin).

``transition_action(label, form_class, call)`` builds an admin action: it first shows a page asking for the
action's inputs (reason, agreement dates…), then calls ``call(obj, actor, **cleaned_data)`` per selected object;
an ``ApplicationError`` becomes an error message for that object and changes nothing for it."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils import timezone

from apps.core.admin_scoping import ScopedAdmin
from apps.core.exceptions import ApplicationError
from apps.core.forms import AgreementForm, OptionalReasonForm, ReasonForm  # noqa: F401  (re-exported for admins)


def transition_action(label: str, form_class: type[forms.Form], call, *, name: str):
    def action(modeladmin, request, queryset):
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = 0
            for obj in queryset:
                try:
                    call(obj, request.user, **form.cleaned_data)
                    done += 1
                except ApplicationError as exc:
                    modeladmin.message_user(request, f"{obj}：{exc.message}", messages.ERROR)
            if done:
                modeladmin.message_user(request, f"{label}：已处理 {done} 条", messages.SUCCESS)
            return None
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": label, "form": form, "queryset": queryset, "opts": modeladmin.model._meta,
            "action_name": name, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/core/transition_action.html", context)

    action.__name__ = name
    return admin.action(description=label)(action)


class ServiceModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose saves call services: ``create_via(request, cleaned_data)`` and
    ``update_via(request, current, changed_data)``. A refusal (``ApplicationError``) is shown as an error
    message and the whole save is rolled back."""

    def create_via(self, request, data: dict):
        raise ApplicationError("not_supported", "请使用列表页的操作")

    def update_via(self, request, current, data: dict):
        raise ApplicationError("not_supported", "请使用列表页的操作")

    def save_model(self, request, obj, form, change):
        editable = {name: form.cleaned_data[name] for name in form.cleaned_data if name not in self.get_readonly_fields(request, obj)}
        if change:
            current = type(obj).objects.get(pk=obj.pk)
            changed = {k: v for k, v in editable.items() if k in form.changed_data}
            saved = self.update_via(request, current, changed)
        else:
            saved = self.create_via(request, editable)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        # many-to-many fields are written by the services
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        from django.http import HttpResponseRedirect

        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            detail = "；".join(f"{k}: {'、'.join(map(str, v))}" for k, v in exc.fields.items())
            self.message_user(request, f"{exc.message}{'（' + detail + '）' if detail else ''}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def has_delete_permission(self, request, obj=None):
        return False  # registries are exited, not deleted (R-INS-3)


class ReadOnlyAdminMixin:
    """Admin pages that only look things up: records change through the services (and their event rows), never
    through the admin. Put it first in the bases so it wins over access mixins."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Admin access by role, scoped like the API (R-SEC-1): one mixin for every admin class (apps/core/admin_scoping.py)
BureauAdminAccess = ScopedAdmin


def service_action(label: str, form_class: type[forms.Form], service, *, name: str, subject: str):
    """``transition_action`` calling ``service(<subject>=obj, actor=user, **cleaned_data)``."""
    return transition_action(label, form_class, name=name,
                             call=lambda obj, actor, **data: service(**{subject: obj}, actor=actor, now=timezone.now(),
                                                                           **data))


class LifecycleAdmin(BureauAdminAccess, ServiceModelAdmin):
    """A registry whose ``status_fields`` change only through actions and whose ``fixed_after_create`` fields
    (the code…) cannot change once saved."""

    status_fields: tuple[str, ...] = ()
    fixed_after_create: tuple[str, ...] = ("code",)

    def get_readonly_fields(self, request, obj=None):
        return [*self.status_fields, *self.fixed_after_create] if obj else [*self.status_fields]
