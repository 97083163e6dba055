"""Reads: the thresholds in force for a region (walking up the tree), the alerts a user may see (R-SEC-1), the
evidence an alert page lays out, and the monthly summary."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from apps.catalogue.models import Drug
from apps.core.models import Region
from apps.core.roles import BUREAU_ROLES, Role
from apps.core.scoping import scope_to_user
from apps.monitoring.models import Alert, MonitoringRun, MonitoringSettings, Rule
from apps.monitoring.rules.physicians import OutlierThresholds
from apps.monitoring.rules.volume import PoolThresholds
from apps.monitoring.rules.base import local_day
from apps.prescriptions.models import Dispensing, DispensingLine, PrescriptionItem, TraceCode

DEFAULTS = MonitoringSettings()  # the DOMAIN defaults (R-MON-5: 7 days; R-MON-9: p95 and 2× the median)


@dataclass(frozen=True)
class Thresholds:
    supply_margin_days: int
    high_cost: PoolThresholds
    outlier: OutlierThresholds


def _of(s: MonitoringSettings) -> Thresholds:
    return Thresholds(
        supply_margin_days=s.supply_margin_days,
        high_cost=PoolThresholds(top_n=s.high_cost_top_n, median_multiple=Decimal(s.high_cost_median_multiple)),
        outlier=OutlierThresholds(percentile=float(s.outlier_percentile),
                                  median_multiple=float(s.outlier_median_multiple), min_peers=s.outlier_min_peers))


DEFAULT_THRESHOLDS = _of(DEFAULTS)


def thresholds_by_region() -> dict[int, Thresholds]:
    """Every region id → the thresholds of the nearest region with its own settings (itself, its city, its
    province), the DOMAIN defaults where none has. Regions are few (hundreds): read once per batch."""
    own = {s.region_id: _of(s) for s in MonitoringSettings.objects.all()}
    regions = {r.pk: r for r in Region.objects.only("id", "parent_id")}
    resolved: dict[int, Thresholds] = {}
    for rid in regions:
        cur, found = rid, None
        while cur is not None and found is None:
            found = own.get(cur)
            cur = regions[cur].parent_id if cur in regions else None
        resolved[rid] = found or DEFAULT_THRESHOLDS
    return resolved


def thresholds_for(region) -> Thresholds:
    """The thresholds for one region (walking up the tree)."""
    cur = region
    while cur is not None:
        s = MonitoringSettings.objects.filter(region_id=cur.pk).first()
        if s is not None:
            return _of(s)
        cur = cur.parent
    return DEFAULT_THRESHOLDS


def settings_for_edit(region: Region) -> MonitoringSettings:
    return MonitoringSettings.objects.filter(region=region).first() or MonitoringSettings(region=region)


# --------------------------------------------------------------------------- who sees which alert (R-SEC-1)

def alerts_visible_to(user) -> QuerySet[Alert]:
    """Bureau users: the alerts of their region. Hospitals and pharmacies: the confirmed alerts about themselves."""
    qs = Alert.objects.select_related("region", "institution", "pharmacy", "person", "physician", "assignee",
                                      "sanction")
    if user is not None and user.is_authenticated and user.role in (Role.HOSPITAL, Role.PHARMACY):
        qs = qs.filter(status=Alert.Status.CONFIRMED)
    return scope_to_user(qs, user, region_fields=("region",))


def alert_get(*, user, pk: int) -> Alert:
    return get_object_or_404(alerts_visible_to(user), pk=pk)


def is_reviewer(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in BUREAU_ROLES))


def alert_queue(*, user, rule: str = "", status: str = "", region: str = "", organisation: str = "",
                min_amount: Decimal | None = None, max_age_days: int | None = None, min_age_days: int | None = None,
                period: dt.date | None = None, today: dt.date | None = None) -> QuerySet[Alert]:
    """The reviewer's queue filtered by rule, status, region (code prefix), organisation (code or name), amount
    and age (days since raised, as of ``today``)."""
    qs = alerts_visible_to(user)
    if rule:
        qs = qs.filter(rule=rule)
    if status:
        qs = qs.filter(status=status)
    if region:
        qs = qs.filter(region__code__startswith=region.rstrip("0") or region)
    if organisation:
        qs = qs.filter(Q(institution__code=organisation) | Q(pharmacy__code=organisation)
                       | Q(institution__name__contains=organisation) | Q(pharmacy__name__contains=organisation))
    if min_amount is not None:
        qs = qs.filter(amount_at_risk__gte=min_amount)
    if period is not None:
        qs = qs.filter(period=period)
    if today is not None and min_age_days is not None:
        qs = qs.filter(raised_at__date__lte=today - dt.timedelta(days=min_age_days))
    if today is not None and max_age_days is not None:
        qs = qs.filter(raised_at__date__gte=today - dt.timedelta(days=max_age_days))
    return qs.order_by("-amount_at_risk", "-raised_at", "-id")


# --------------------------------------------------------------------------- evidence

def evidence_dispensings(alert: Alert) -> list[Dispensing]:
    ids = alert.evidence.get("dispensings") or []
    return list(Dispensing.objects.filter(pk__in=ids).select_related("pharmacy", "institution", "prescription")
                .prefetch_related("lines__drug").order_by("dispensed_at", "id"))


def supply_timeline(alert: Alert) -> list[dict]:
    """R-MON-5: the patient's supplies of the variety across pharmacies — for each pharmacy, its dispensings
    with start day and days supplied (the page draws them as bars on one time axis)."""
    generic, _, form = (alert.evidence.get("variety") or "|").partition("|")
    if not alert.person_id:
        return []
    start = alert.period - dt.timedelta(days=90)
    lines = (DispensingLine.objects.filter(dispensing__person_id=alert.person_id, drug__generic_name=generic,
                                           drug__dosage_form=form, dispensing__kind=Dispensing.Kind.NORMAL,
                                           dispensing__period__gte=start.replace(day=1))
             .select_related("dispensing__pharmacy", "dispensing__prescription").order_by("dispensing__dispensed_at"))
    items = {(i.prescription_id, i.drug_id): i.days_supply for i in
             _items_for([l.dispensing.prescription_id for l in lines])}
    reversed_ids = set(Dispensing.objects.filter(reverses_id__in=[l.dispensing_id for l in lines])
                       .values_list("reverses_id", flat=True))
    rows = []
    for l in lines:
        d = l.dispensing
        rows.append({"dispensing": d, "pharmacy": d.pharmacy, "day": local_day(d.dispensed_at),
                     "days": items.get((d.prescription_id, l.drug_id), 0), "quantity": l.quantity,
                     "fund": l.fund_payment, "reversed": d.pk in reversed_ids,
                     "flagged": l.pk in (alert.evidence.get("flagged_lines") or [])})
    if rows:
        first = min(r["day"] for r in rows)
        last = max(r["day"] + dt.timedelta(days=r["days"]) for r in rows)
        span = max((last - first).days, 1)
        for r in rows:
            r["offset_pct"] = round(100 * (r["day"] - first).days / span, 2)
            r["width_pct"] = max(round(100 * r["days"] / span, 2), 0.5)
            r["end"] = r["day"] + dt.timedelta(days=r["days"])
    return rows


def _items_for(prescription_ids):
    return PrescriptionItem.objects.filter(prescription_id__in=set(prescription_ids))


def code_history(alert: Alert) -> list[TraceCode]:
    """R-MON-4: every appearance of the code(s), with the dispensing, pharmacy and release."""
    codes = alert.evidence.get("codes") or []
    return list(TraceCode.objects.filter(code__in=codes).select_related(
        "pharmacy", "line__dispensing__person", "line__dispensing__prescription", "released_by").order_by(
        "code", "dispensed_at", "id"))


def peer_distribution(alert: Alert) -> list[dict]:
    """R-MON-9: the peers' figures as stored with the finding, for the chart (one histogram per figure)."""
    out = []
    labels = {"rx_per_patient": "人均处方数", "fund_per_patient": "人均基金支付（元）"}
    mine = {"rx_per_patient": alert.evidence.get("rx_per_patient"),
            "fund_per_patient": alert.evidence.get("fund_per_patient")}
    for metric, figures in (alert.evidence.get("distribution") or {}).items():
        out.append({"metric": metric, "label": labels.get(metric, metric), "values": figures.get("values", []),
                    "percentile": figures.get("percentile"), "median": figures.get("median"),
                    "mine": mine.get(metric)})
    return out


def drug_names(ids) -> dict[int, str]:
    return dict(Drug.objects.filter(pk__in=ids).values_list("pk", "generic_name"))


# --------------------------------------------------------------------------- summary

def monitoring_summary(*, user, period: dt.date) -> dict:
    """The month's alerts by rule and outcome, with the amounts at risk and the amounts recovered (the money of
    the sanctions proposed on confirmed alerts)."""
    qs = alerts_visible_to(user).filter(period=period)
    rows = {r: {"rule": r, "label": label, "total": 0, "open": 0, "assigned": 0, "confirmed": 0, "dismissed": 0,
                "amount_at_risk": Decimal("0.00"), "amount_confirmed": Decimal("0.00"),
                "amount_recovered": Decimal("0.00")} for r, label in Rule.choices}
    for r in qs.values("rule", "status").annotate(n=Count("id"), amount=Sum("amount_at_risk")):
        row = rows[r["rule"]]
        row[r["status"]] += r["n"]
        row["total"] += r["n"]
        row["amount_at_risk"] += r["amount"] or 0
        if r["status"] == Alert.Status.CONFIRMED:
            row["amount_confirmed"] += r["amount"] or 0
    for r in qs.filter(status=Alert.Status.CONFIRMED, sanction__isnull=False).values("rule").annotate(
            recovered=Sum("sanction__amount")):
        rows[r["rule"]]["amount_recovered"] += r["recovered"] or 0
    lines = list(rows.values())
    totals = {k: sum(l[k] for l in lines) for k in ("total", "open", "assigned", "confirmed", "dismissed",
                                                   "amount_at_risk", "amount_confirmed", "amount_recovered")}
    return {"period": period, "rows": lines, "totals": totals}


def runs_visible_to(user) -> QuerySet[MonitoringRun]:
    return scope_to_user(MonitoringRun.objects.select_related("region", "started_by"), user,
                         region_fields=("region",), institution_field=None, pharmacy_field=None)
