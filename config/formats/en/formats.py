"""English formats as Django ships them, except dates, which stay ISO (``2026-12-01``) as in the Chinese pages:
the same bureau reads both, and a date must not change shape with the language (issue 15)."""
from django.conf.locale.en.formats import *  # noqa: F401,F403

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
YEAR_MONTH_FORMAT = "Y-m"
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                          "%Y/%m/%d %H:%M"]
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
