"""Settlement demo: stocking reports (R-STK-1), the catalogue publication and committee meetings (R-STK-4),
last month's statements computed by the settlement service (R-SET-1) and its reconciliation (R-SET-2), so the
dashboard has something to show. Re-runnable: existing rows are kept, the settlement rerun is idempotent."""
import datetime as dt

from apps.catalogue.models import Drug
from apps.institutions.models import Institution, PharmacyCommitteeMeeting
from apps.settlement import services
from apps.settlement.models import CataloguePublication, StockingReport
from apps.settlement.periods import label, period_of, previous_period

# institution code → (how many negotiated drugs it stocks, kind)
STOCKING = {
    "H640500001": (14, "formal"),
    "H640500002": (4, "temporary"),
    "H430100001": (16, "formal"),
    "H430100002": (6, "formal"),
    "H430100003": (3, "temporary"),
}
CATALOGUE_VERSION = "2025年版国家医保药品目录"


def load(*, today: dt.date, now: dt.datetime, stdout=None):
    def say(message):
        if stdout is not None:
            stdout.write(message)

    institutions = {i.code: i for i in Institution.objects.filter(code__in=STOCKING)}
    negotiated = list(Drug.objects.filter(category=Drug.Category.NEGOTIATED).order_by("id"))
    listed_on = dt.date(today.year, 1, 15)
    created = 0
    for code, (count, kind) in STOCKING.items():
        institution = institutions.get(code)
        if institution is None:
            continue
        drugs = negotiated
        if institution.hospital_type == Institution.HospitalType.SPECIALIST and institution.specialty_id:
            drugs = [d for d in negotiated if d.therapeutic_area_id == institution.specialty_id]
        for drug in drugs[:count]:
            if StockingReport.objects.filter(institution=institution, drug=drug).exists():
                continue
            services.stocking_report_create(institution=institution, drug=drug, kind=kind, listed_on=listed_on)
            created += 1
    say(f"  配备报告 {created} 条")

    published_on = dt.date(today.year - 1, 12, 7)
    publication = CataloguePublication.objects.filter(version=CATALOGUE_VERSION).first()
    if publication is None:
        publication = services.catalogue_publication_create(version=CATALOGUE_VERSION, published_on=published_on)
    for code, held_on in (("H640500001", published_on + dt.timedelta(days=40)),
                          ("H430100001", published_on + dt.timedelta(days=130))):
        institution = institutions.get(code)
        if institution is not None:
            PharmacyCommitteeMeeting.objects.get_or_create(
                institution=institution, catalogue_version=publication.version,
                defaults={"catalogue_published_on": publication.published_on, "held_on": held_on,
                          "notes": "审议新增谈判药品进院"})

    # last month is closed (statements and reconciliation); this month gets draft statements to look at
    for period in (previous_period(period_of(today)), period_of(today)):
        run = services.settlement_run_now(period=period, clock=lambda: now)
        counts = services.reconciliation_run(period=period, now=now)
        say(f"  {label(period)} 结算：{run.get_status_display()}，结算单 {run.statements_written} 张；"
            f"对账差异 {sum(counts.values())} 项")
