"""Browser screens of prescriptions: lists for hospitals and pharmacies, the detail with the hospital's and the
pharmacy's actions, the dispensing page with a quote before confirming, stock, and for bureau staff a patient's
year-to-date usage and manual claims. Thin: forms parse, services decide, selectors scope (404 / 403)."""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.applications.selectors import other_fund_paid
from apps.applications.services import other_fund_use_record
from apps.core.models import Region
from apps.core.roles import BUREAU, Role, require_role
from apps.core.events import events_for
from apps.core.exceptions import ApplicationError
from apps.core.formatting import money
from apps.policies.selectors import policy_for
from apps.prescriptions import forms, selectors
from apps.prescriptions.services import claims as rx_claims, dispensing as rx_dispensing, upload as rx_upload
from apps.prescriptions.models import Prescription


@login_required
def prescription_list(request):
    form = forms.PrescriptionFilterForm(request.GET or None)
    filters = selectors.PrescriptionFilters()
    if form.is_valid():
        d = form.cleaned_data
        filters = selectors.PrescriptionFilters(status=d["status"], date_from=d["date_from"], date_to=d["date_to"],
                                                patient=d["patient"])
    qs = selectors.prescription_list(user=request.user, filters=filters).prefetch_related("items__drug")
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    if request.user.is_pharmacy:
        rx_upload.prescriptions_mark_downloaded(user=request.user, prescription_ids=[p.pk for p in page],
                                               now=timezone.now())
    return render(request, "prescriptions/list.html", {"form": form, "page_obj": page, "rows": page.object_list,
                                                       "now": timezone.now()})


@login_required
def prescription_detail(request, pk):
    prescription = selectors.prescription_get_for(request.user, pk)
    if request.user.is_pharmacy:
        rx_upload.prescriptions_mark_downloaded(user=request.user, prescription_ids=[prescription.pk],
                                               now=timezone.now())
        prescription.refresh_from_db(fields=["downloaded_at"])
    dispensings = [(d, list(selectors.dispensing_lines(d)))
                   for d in prescription.dispensings.select_related("reverses").order_by("id")]
    reversed_ids = {d.reverses_id for d, _ in dispensings if d.reverses_id}
    return render(request, "prescriptions/detail.html", {
        "p": prescription, "items": selectors.prescription_items(prescription), "dispensings": dispensings,
        "reversed_ids": reversed_ids, "events": events_for(prescription)[:50],
        "expired_now": prescription.status == Prescription.Status.FLOWED and prescription.expires_at <= timezone.now(),
        "cancel_form": forms.CancelForm(), "decline_form": forms.DeclineForm(), "reverse_form": forms.ReverseForm(),
    })


@login_required
@require_POST
def prescription_cancel(request, pk):
    require_role(request.user, Role.HOSPITAL)
    prescription = selectors.prescription_get_for(request.user, pk)
    form = forms.CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写撤销原因"))
    else:
        try:
            rx_upload.prescription_cancel(prescription=prescription, user=request.user, reason=form.cleaned_data["reason"],
                                         now=timezone.now())
            messages.success(request, _("处方已撤销"))
        except ApplicationError as exc:
            messages.error(request, exc.message)
    return redirect("prescriptions:detail", pk=prescription.pk)


@login_required
@require_POST
def prescription_decline(request, pk):
    require_role(request.user, Role.PHARMACY)
    prescription = selectors.prescription_get_for(request.user, pk)
    form = forms.DeclineForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择拒配原因"))
    else:
        try:
            rx_dispensing.prescription_decline(prescription=prescription, user=request.user, now=timezone.now(),
                                          **form.cleaned_data)
            messages.success(request, _("已拒配，医院可看到拒配原因"))
        except ApplicationError as exc:
            messages.error(request, exc.message)
    return redirect("prescriptions:detail", pk=prescription.pk)


@login_required
@require_POST
def dispensing_reverse(request, pk):
    require_role(request.user, Role.PHARMACY)
    dispensing = selectors.dispensing_get_for(request.user, pk)
    form = forms.ReverseForm(request.POST)
    form.is_valid()
    try:
        rx_dispensing.dispensing_reverse(dispensing=dispensing, user=request.user,
                                    reason=form.cleaned_data.get("reason", ""), now=timezone.now())
        messages.success(request, _("已冲正，参保人的起付线和年度限额使用已恢复"))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("prescriptions:detail", pk=dispensing.prescription_id)


@login_required
def prescription_dispense(request, pk):
    """The dispensing page (R-RX-5): lines with quantity, price and trace codes; 「试算」 shows the R-PAY-3
    breakdown without writing anything, 「确认配药」 dispenses."""
    require_role(request.user, Role.PHARMACY)
    prescription = selectors.prescription_get_for(request.user, pk)
    items = list(selectors.prescription_items(prescription))
    form = forms.DispenseForm(request.POST or None, items=items)
    quote = None
    if request.method == "POST" and form.is_valid():
        confirm = request.POST.get("action") == "dispense"
        dispense_items = form.dispense_items(with_codes=confirm)
        now = timezone.now()
        try:
            if not dispense_items:
                raise ApplicationError("invalid", _("请至少填写一行配药数量"))
            if confirm:
                dispensing = rx_dispensing.prescription_dispense(prescription_id=prescription.pk, user=request.user,
                                                            dispensed_at=now, items=dispense_items, now=now)
                messages.success(request, _("配药完成：统筹基金支付 %(fund)s 元，个人支付 %(personal)s 元") % {
                    "fund": money(dispensing.fund_payment), "personal": money(dispensing.personal_payment)})
                return redirect("prescriptions:detail", pk=prescription.pk)
            quote = rx_dispensing.prescription_quote(prescription=prescription, dispensed_at=now,
                                                items=dispense_items, now=now)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
    return render(request, "prescriptions/dispense.html", {"p": prescription, "form": form, "quote": quote})


@login_required
def stock(request):
    require_role(request.user, Role.PHARMACY)
    form = forms.StockMovementForm(request.POST or None, initial={"occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
    if request.method == "POST" and form.is_valid():
        try:
            rx_dispensing.stock_movement_record(user=request.user, pharmacy=request.user.pharmacy, now=timezone.now(),
                                           **form.cleaned_data)
            messages.success(request, _("已登记"))
            return redirect("prescriptions:stock")
        except ApplicationError as exc:
            form.add_error(None, exc.message)
    movements = selectors.stock_movements_visible_to(request.user)[:30]
    return render(request, "prescriptions/stock.html", {
        "form": form, "rows": selectors.stock_for(pharmacy=request.user.pharmacy), "movements": movements})


@login_required
@require_http_methods(["GET", "POST"])
def usage_search(request):
    """Search by ID number or name: a POST, so that an ID number never sits in a URL (R-SEC-2)."""
    require_role(request.user, BUREAU)
    form = forms.UsageSearchForm(request.POST or None)
    persons = []
    if form.is_valid() and form.cleaned_data["q"]:
        term = form.cleaned_data["q"].strip()
        qs = selectors.persons_visible_to(request.user)
        # the ID number is encrypted at rest (PIPL): a whole one or its last four characters through keyed digests
        if len(term) == 18:
            qs = qs.filter(id_number=term)
        elif len(term) == 4:
            qs = qs.filter(Q(name__icontains=term) | Q(id_number__endswith=term))
        else:
            qs = qs.filter(name__icontains=term)
        persons = list(qs[:50])
    return render(request, "prescriptions/usage_search.html", {"form": form, "persons": persons})


@login_required
def usage_detail(request, person_id):
    """A patient's year-to-date use of the deductible and the fund cap, with the dispensings and claims."""
    require_role(request.user, BUREAU)
    person = get_object_or_404(selectors.persons_visible_to(request.user), pk=person_id)
    try:
        year = int(request.GET.get("year") or timezone.localdate().year)
    except ValueError:
        year = timezone.localdate().year
    summary = selectors.person_year_summary(person=person, year=year)
    policy = None
    try:
        policy = policy_for(region=person.insured_region, on=min(timezone.localdate(), dt.date(year, 12, 31)))
    except ApplicationError:
        policy = None
    figures = None
    if policy is not None:
        deductible = policy.deductible(care_setting="outpatient", insurance_type=person.insurance_type)
        cap = policy.annual_cap(insurance_type=person.insurance_type)
        usage = summary["usage"]
        met = usage.deductible_met if usage else 0
        paid = usage.fund_paid if usage else 0
        other = other_fund_paid(person_id=person.pk, year=year)  # R-PAY-3 step 4: the cap is shared
        figures = {"deductible": deductible, "deductible_met": met, "deductible_left": max(deductible - met, 0),
                   "cap": cap, "fund_paid": paid, "other_fund_paid": other,
                   "cap_left": (max(cap - paid - other, 0) if cap is not None else None)}
    return render(request, "prescriptions/usage_detail.html", {
        "person": person, "year": year, "summary": summary, "policy": policy, "figures": figures,
        "other_fund_uses": person.other_fund_uses.filter(year=year).order_by("month"),
        "years": range(timezone.localdate().year, timezone.localdate().year - 4, -1)})


def _line_errors(lines, exc: ApplicationError) -> None:
    """Put the service's ``lines.<n>[.field]`` errors on the n-th filled row of the formset."""
    filled = lines.filled_forms()
    for key, messages_ in (exc.fields or {}).items():
        parts = key.split(".")
        if parts[0] != "lines" or len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) >= len(filled):
            continue
        row = filled[int(parts[1])]
        field = parts[2] if len(parts) > 2 and parts[2] in row.fields else None
        for message in messages_:
            row.add_error(field, message)


@login_required
def manual_claim_create(request):
    """R-PAY-5: the bureau records a manual claim (手工报销) from the invoice; the same engine computes it."""
    require_role(request.user, BUREAU)
    form = forms.ManualClaimForm(request.POST or None)
    lines = forms.ClaimLineFormSet(request.POST or None, prefix="lines")
    if request.method == "POST" and all([form.is_valid(), lines.is_valid()]):  # both validated: all errors shown
        d = form.cleaned_data
        person = selectors.persons_visible_to(request.user).filter(id_number=d["id_number"].strip().upper()).first()
        if person is None:
            form.add_error("id_number", _("本统筹区没有该参保人"))
        else:
            try:
                claim = rx_claims.manual_claim_record(
                    user=request.user, person=person, invoice_no=d["invoice_no"], invoice_date=d["invoice_date"],
                    provider_name=d["provider_name"], care_setting=d["care_setting"], lines=lines.claim_lines(),
                    now=timezone.now())
                messages.success(request, _("已登记手工报销：统筹基金支付 %(fund)s 元") % {"fund": money(claim.fund_payment)})
                return redirect("prescriptions:usage_detail", person_id=person.pk)
            except ApplicationError as exc:
                _line_errors(lines, exc)
                form.add_error(None, exc.message)
    return render(request, "prescriptions/manual_claim.html", {
        "form": form, "lines": lines, "claims": selectors.manual_claims_visible_to(request.user)[:30]})


@login_required
def cross_region_filings(request):
    """R-PAY-5: the bureau of the patient's insured region grants a cross-region filing (异地就医备案) naming the
    treatment region; with direct settlement, dispensings there are paid under the insured region's policy."""
    require_role(request.user, BUREAU)

    form = forms.CrossRegionFilingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        person = selectors.persons_visible_to(request.user).select_related("insured_region").filter(
            id_number=d["id_number"].strip().upper()).first()
        region = Region.objects.filter(code=d["treatment_region"].strip()).first()
        if person is None:
            form.add_error("id_number", _("本统筹区没有该参保人：异地就医备案由参保地经办机构办理"))
        elif region is None:
            form.add_error("treatment_region", _("就医地区划代码不存在"))
        else:
            try:
                rx_claims.cross_region_filing_create(
                    user=request.user, person=person, treatment_region=region, filing_no=d["filing_no"],
                    valid_from=d["valid_from"], valid_until=d["valid_until"],
                    direct_settlement=d["direct_settlement"])
                messages.success(request, _("异地就医备案已登记"))
                return redirect("prescriptions:filings")
            except ApplicationError as exc:
                form.add_error(None, exc.message)
    return render(request, "prescriptions/filings.html", {
        "form": form, "filings": selectors.cross_region_filings_visible_to(request.user)[:50]})


@login_required
@require_POST
def other_fund_use_entry(request, person_id):
    """R-PAY-3 step 4: the insured region's bureau enters a month of the patient's other fund use."""
    require_role(request.user, BUREAU)
    person = get_object_or_404(selectors.persons_visible_to(request.user), pk=person_id)
    try:
        year, month = (int(x) for x in (request.POST.get("period") or "").split("-"))
    except ValueError:
        messages.error(request, "年月格式应为 YYYY-MM")
        return redirect("prescriptions:usage_detail", person_id=person.pk)
    try:
        other_fund_use_record(actor=request.user, person=person, year=year, month=month,
                              amount=request.POST.get("amount", ""), note=request.POST.get("note", ""),
                              now=timezone.now())
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已登记 {year}-{month:02d} 其他基金支付")
    return redirect(f"{reverse('prescriptions:usage_detail', args=[person.pk])}?year={year}")


@login_required
def beyond_cap(request):
    """R-PAY-6: per patient of the bureau's region, what the fund did not pay in the year because the annual limit
    was reached — the hand-over list to serious-illness insurance and medical assistance."""
    require_role(request.user, BUREAU)
    this_year = timezone.localdate().year
    try:
        year = int(request.GET.get("year") or this_year)
    except ValueError:
        year = this_year
    return render(request, "prescriptions/beyond_cap.html", {
        "year": year, "rows": selectors.beyond_cap_by_patient(user=request.user, year=year),
        "years": range(this_year, this_year - 4, -1)})

