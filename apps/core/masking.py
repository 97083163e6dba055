"""Masking of personal numbers in lists and exports (R-SEC-2)."""


def mask_id_number(value: str | None) -> str:
    """``110105199001011234`` → ``110105********123X``-style: first 6 and last 4 shown."""
    if not value:
        return ""
    if len(value) <= 10:
        return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str:
    """``13912345678`` → ``139****5678``."""
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str | None) -> str:
    """``张三丰`` → ``张**`` (for the public lookup page)."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)


def mask_card_number(value: str | None) -> str:
    """An insurance card number, masked like an ID number (R-SEC-2): ``A12345678901`` → ``A123****8901``."""
    if not value:
        return ""
    if len(value) <= 8:
        return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:] if len(value) > 4 else "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_person_facts(facts: dict) -> dict:
    """An insured person's facts (name, phone, card number…) with the personal numbers masked (R-SEC-2)."""
    masks = {"phone": mask_phone, "card_number": mask_card_number, "id_number": mask_id_number}
    return {k: masks[k](v) if k in masks else v for k, v in (facts or {}).items()}
