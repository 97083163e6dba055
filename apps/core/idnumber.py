"""Resident identity numbers (GB 11643-1999): check digit, sex and birth date (R-APP-3)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from apps.core.exceptions import ApplicationError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PATTERN = re.compile(r"^\d{17}[\dX]$")


@dataclass(frozen=True)
class IdNumberInfo:
    number: str
    region_code: str
    birth_date: dt.date
    sex: str  # "male" | "female"

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def parse_id_number(value: str, *, today: dt.date, field: str = "id_number") -> IdNumberInfo:
    """Validate an 18-character ID number and extract birth date and sex; raises ``invalid_id_number``. A birth date
    after ``today`` (the caller's date) is invalid."""
    number = (value or "").strip().upper()
    if not _PATTERN.match(number):
        raise ApplicationError("invalid_id_number", "身份证号应为18位（前17位数字，末位数字或X）",
                               fields={field: ["身份证号格式错误"]})
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ApplicationError("invalid_id_number", "身份证号中的出生日期无效",
                               fields={field: ["出生日期无效"]}) from None
    if birth > today or birth.year < 1900:
        raise ApplicationError("invalid_id_number", "身份证号中的出生日期无效", fields={field: ["出生日期无效"]})
    if check_digit(number[:17]) != number[17]:
        raise ApplicationError("invalid_id_number", "身份证号校验位错误（GB 11643）", fields={field: ["校验位错误"]})
    sex = "male" if int(number[16]) % 2 == 1 else "female"
    return IdNumberInfo(number=number, region_code=number[:6], birth_date=birth, sex=sex)


def make_id_number(region_code: str, birth: dt.date, sequence: int, *, female: bool = False) -> str:
    """Build a valid ID number (demo data and tests): sequence 0–99, sex digit chosen by ``female``."""
    sex_digit = (sequence % 5) * 2 + (0 if female else 1)
    first17 = f"{region_code}{birth:%Y%m%d}{sequence % 100:02d}{sex_digit}"
    return first17 + check_digit(first17)
