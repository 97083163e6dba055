"""Issue 15 item 2: dates in ``<input type=date>`` are ISO (a browser drops ``2026/12/01``, so prefilled dates
arrived blank), dates in text are ``YYYY-MM-DD`` in both languages."""
import datetime as dt
import re

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from apps.applications.forms import DecisionForm, FilingDecisionForm
from apps.core.forms import AgreementForm, SanctionForm
from apps.physicians.forms import DatedReasonForm, FileForm
from apps.prescriptions.forms import CrossRegionFilingForm, StockMovementForm

DAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("form_class, field", [
    (AgreementForm, "agreement_start"), (AgreementForm, "agreement_end"), (SanctionForm, "decided_on"),
    (DecisionForm, "valid_until"), (FilingDecisionForm, "valid_until"), (FileForm, "filed_on"),
    (DatedReasonForm, "on"), (CrossRegionFilingForm, "valid_from"),
])
def test_prefilled_date_inputs_are_iso(language, form_class, field):
    with translation.override(language):
        html = str(form_class(initial={field: DAY})[field])
    assert 'type="date"' in html
    assert 'value="2026-12-01"' in html, html


def test_datetime_local_input_is_iso():
    with translation.override("zh-hans"):
        moment = timezone.make_aware(dt.datetime(2026, 12, 1, 9, 30))
        html = str(StockMovementForm(initial={"occurred_at": moment})["occurred_at"])
    assert 'value="2026-12-01T09:30"' in html, html


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_dates_in_text_are_yyyy_mm_dd(language):
    moment = timezone.make_aware(dt.datetime(2026, 12, 1, 9, 30))
    with translation.override(language):
        text = Template("{{ d }}|{{ d|date }}|{{ m|date:'SHORT_DATETIME_FORMAT' }}|{{ m }}").render(
            Context({"d": DAY, "m": moment}))
    assert text.split("|")[:3] == ["2026-12-01", "2026-12-01", "2026-12-01 09:30"]
    assert re.match(r"2026-12-01 09:30", text.split("|")[3])


@pytest.mark.parametrize("typed", ["2026-12-01", "2026/12/01"])
def test_date_inputs_accept_iso_and_slashes(typed):
    with translation.override("zh-hans"):
        form = SanctionForm(data={"kind": "warning", "decided_on": typed, "reason": "x"})
        form.is_valid()
    assert form.cleaned_data.get("decided_on") == DAY
