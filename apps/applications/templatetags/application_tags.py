"""Masking filters for application templates (R-SEC-2)."""
from django import template

from apps.core.masking import mask_id_number, mask_phone

register = template.Library()


@register.filter
def masked_id(value):
    return mask_id_number(value)


@register.filter
def masked_phone(value):
    return mask_phone(value)


EVENT_LABELS = {
    "application_submitted": "提交申请",
    "application_approve": "同意",
    "application_reject": "不同意",
    "application_return": "退回补充材料",
    "application_resubmitted": "重新提交",
    "application_expired": "到期",
    "application_terminated": "终止",
    "application_document_added": "上传材料",
    "personal_number_revealed": "查看完整号码",
    "public_lookup_failed": "公众查询失败",
}


@register.filter
def event_label(action):
    return EVENT_LABELS.get(action, action)
