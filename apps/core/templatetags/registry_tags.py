"""Display labels for event rows (status history pages)."""
from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

ACTION_LABELS = {
    "institution_applied": _("登记申请"), "institution_admitted": _("纳入定点"), "institution_updated": _("修改资料"),
    "institution_suspended": _("暂停"), "institution_resumed": _("恢复"), "institution_exited": _("退出"),
    "pharmacy_applied": _("登记申请"), "pharmacy_admitted": _("纳入定点"), "pharmacy_updated": _("修改资料"),
    "pharmacy_suspended": _("暂停"), "pharmacy_resumed": _("恢复"), "pharmacy_exited": _("退出"),
    "pharmacy_licence_revoked": _("药品经营许可吊销"), "sanctioned": _("协议处理"),
    "physician_proposed": _("提名"), "physician_filed": _("备案"), "physician_filing_rejected": _("不予备案"),
    "physician_suspended": _("暂停"), "physician_resumed": _("恢复"), "physician_revoked": _("撤销备案"),
    "physician_expired": _("备案过期"), "physician_updated": _("修改资料"),
}


def _status_labels():
    from apps.core.models import DesignationStatus
    from apps.physicians.models import Physician

    return {**dict(DesignationStatus.choices), **dict(Physician.Status.choices)}


@register.filter
def action_label(code: str):
    return ACTION_LABELS.get(code, code)


@register.filter
def status_label(code: str):
    return _status_labels().get(code, code) if code else "—"
