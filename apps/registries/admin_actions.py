"""Admin of designated institutions and pharmacies (R-INS-3, R-PHA-2): saves and lifecycle actions go through the
services a ``LifecycleServices`` names."""
from __future__ import annotations

from apps.core.admin_actions import LifecycleAdmin, service_action
from apps.core.forms import AgreementForm, ReasonForm
from apps.registries.designation import LifecycleServices


def designation_actions(lifecycle: LifecycleServices) -> list:
    """The lifecycle actions of a designated institution or pharmacy: admit, suspend, resume and exit."""
    steps = [("纳入（签订补充协议）", AgreementForm, lifecycle.admit, "admit"), ("暂停", ReasonForm, lifecycle.suspend, "suspend"),
             ("恢复", ReasonForm, lifecycle.resume, "resume"), ("退出", ReasonForm, lifecycle.exit, "exit")]
    return [service_action(label, form_class, service, name=name, subject=lifecycle.subject)
            for label, form_class, service, name in steps]


class DesignationAdmin(LifecycleAdmin):
    """Designated institutions and pharmacies: saves go through ``lifecycle.create`` / ``lifecycle.update``; the
    status and the supplementary agreement only through ``designation_actions``."""

    status_fields = ("status", "status_changed_at", "agreement_no", "agreement_start", "agreement_end")
    lifecycle: LifecycleServices

    def create_via(self, request, data):
        return self.lifecycle.create(actor=request.user, **data)

    def update_via(self, request, current, data):
        return self.lifecycle.update(**{self.lifecycle.subject: current}, actor=request.user, data=data)
