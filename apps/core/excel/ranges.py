"""R-SEC-4: every value of an import is held to the range of the model field it is written to, before the write.

A cell can pass its column's parser (a number with two decimals) and still not fit the column of the table it goes
to: ``12345678901234.56`` is a fine number but a ``DecimalField(max_digits=14, decimal_places=2)`` holds at most
``999999999999.99``; a negative count does not fit a ``PositiveIntegerField``; a count of ``1e12`` overflows a
PostgreSQL ``integer``. Found at the write, such a value aborted the whole transaction with a 500. Found here, it is
one more located row error of the preview (row, column, a Chinese reason that says what to change) and nothing is
written.

The range is derived from the field, never written twice: ``max_digits``/``decimal_places`` of a ``DecimalField``,
the ``MinValueValidator``/``MaxValueValidator`` of any field (Django adds the database's own integer range to every
``IntegerField`` this way), and ``max_length`` of a ``CharField``. ``check_for(model, name)`` gives ``None`` for a
column that is no such field (a foreign key, a computed column), so every import kind gets it without declaring
anything.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from django.core import validators as dj_validators
from django.core.exceptions import FieldDoesNotExist
from django.db import models

Check = Callable[[Any], "str | None"]


def _plain(number) -> str:
    """A number as a person writes it (no exponent, no trailing zeros beyond the ones given)."""
    if isinstance(number, Decimal):
        return f"{number:f}"
    return str(number)


def _limit(validator):
    value = validator.limit_value
    return value() if callable(value) else value


def check_for(model, name: str | None, *, parsed_max_length: int | None = None,
              parsed_places: int | None = None) -> Check | None:
    """The range check of ``model``'s field ``name``: a function returning ``None`` when a parsed value fits and a
    Chinese reason otherwise; ``None`` when the field has no range to hold (or is not a field of ``model``).
    ``parsed_max_length``: the column's parser already caps text at that length (no second length check when it is
    within the field's). ``parsed_places``: the parser already rounds to at most that many decimals (only the
    magnitude is checked when it is within the field's)."""
    if model is None or not name:
        return None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if field.is_relation or not getattr(field, "concrete", False):
        return None
    parts: list[Check] = []
    if isinstance(field, models.DecimalField):
        parts.append(_decimal_check(field.max_digits, field.decimal_places, parsed_places))
    if isinstance(field, (models.DecimalField, models.IntegerField, models.FloatField)):
        minimum = maximum = None
        for validator in field.validators:  # the field's own and, for integers, the database's range
            if isinstance(validator, dj_validators.MinValueValidator):
                limit = _limit(validator)
                minimum = limit if minimum is None else max(minimum, limit)
            elif isinstance(validator, dj_validators.MaxValueValidator):
                limit = _limit(validator)
                maximum = limit if maximum is None else min(maximum, limit)
        if minimum is not None or maximum is not None:
            parts.append(_bounds_check(minimum, maximum))
    if isinstance(field, models.CharField) and field.max_length and not (
            parsed_max_length is not None and parsed_max_length <= field.max_length):
        parts.append(_length_check(field.max_length))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]

    def check(value):
        for part in parts:
            problem = part(value)
            if problem:
                return problem
        return None
    return check


def _is_number(value) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _decimal_check(max_digits: int, places: int, parsed_places: int | None = None) -> Check:
    whole_digits = max_digits - places
    largest = Decimal(10) ** whole_digits - Decimal(1).scaleb(-places)

    def check(value):
        if not _is_number(value):
            return None
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            return "不是有效的数字，请只填数字"
        if abs(number) > largest:
            return (f"“{_plain(value)}”超出本列允许的范围：最大 {largest:f}（整数部分最多 {whole_digits} 位），"
                    f"请核对是否多填了位数或把分当作元填写")
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            return f"“{_plain(value)}”的小数超过 {places} 位，请四舍五入到 {places} 位小数"
        return None
    if parsed_places is None or parsed_places > places:
        return check

    def check_magnitude(value):
        """The parser already rounds to at most ``places`` decimals: only the magnitude is left to check."""
        if value.__class__ is Decimal and -largest <= value <= largest:
            return None
        return check(value)
    return check_magnitude


def _bounds_check(minimum, maximum) -> Check:
    def check(value):
        if not _is_number(value):
            return None
        if minimum is not None and value < minimum:
            if minimum == 0:
                return f"“{_plain(value)}”不能为负数，请改填 0 或正数"
            return f"“{_plain(value)}”小于本列允许的最小值 {_plain(minimum)}，请改填不小于 {_plain(minimum)} 的数"
        if maximum is not None and value > maximum:
            return f"“{_plain(value)}”超出本列允许的最大值 {_plain(maximum)}，请核对是否多填了位数"
        return None
    return check


def _length_check(max_length: int) -> Check:
    def check(value):
        if isinstance(value, str) and len(value) > max_length:
            return f"长度 {len(value)} 超过本列上限 {max_length} 个字符，请删减到 {max_length} 个字符以内"
        return None
    return check
