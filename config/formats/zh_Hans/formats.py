"""Simplified Chinese formats as Django ships them, except two things bureau staff rely on:

- dates are ISO everywhere: ``2026-12-01`` in text and in inputs. Django's zh_Hans puts ``%Y/%m/%d`` first in
  ``DATE_INPUT_FORMATS``, which is the format a ``<input type=date>`` receives its value in, and a browser drops
  ``2026/12/01`` silently, so prefilled dates arrived blank (issue 15);
- money grouping: accounting screens and reports show amounts as 1,609.50 (groups of three, comma), which is what
  bureau finance staff read. Grouping applies only where a template asks for it (the ``money`` filter of
  ``apps/core/templatetags/formatting.py``), never to codes or years."""
from django.conf.locale.zh_Hans.formats import *  # noqa: F401,F403

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
YEAR_MONTH_FORMAT = "Y-m"
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%dT%H:%M",  # <input type=datetime-local>
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
]

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
