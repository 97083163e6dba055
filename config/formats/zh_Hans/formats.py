"""Simplified Chinese formats as Django ships them, except money grouping: accounting screens and reports
show amounts as 1,609.50 (groups of three, comma), which is what bureau finance staff read. Grouping applies only
where a template asks for it (``floatformat:"2g"``, ``intcomma``), never to codes or years."""
from django.conf.locale.zh_Hans.formats import *  # noqa: F401,F403

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
