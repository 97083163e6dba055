from django import template

from apps.core.masking import mask_id_number

register = template.Library()


@register.filter
def rx_masked_id(value):
    """R-SEC-2: ID numbers masked in lists."""
    return mask_id_number(value)


STATUS_TONES = {"flowed": "info", "dispensed": "ok", "declined": "warn", "cancelled": "", "expired": "danger"}


@register.filter
def rx_status_tone(status):
    return STATUS_TONES.get(status, "")
