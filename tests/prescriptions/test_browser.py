"""End to end in Chromium: a pharmacist quotes then dispenses; the hospital sees the outcome."""
import pytest
from django.utils import timezone

from apps.prescriptions.services import upload as rx_upload
from apps.prescriptions.models import Dispensing
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.today("2026-12-01")]


def test_r_rx_5_pharmacist_quotes_then_dispenses_in_the_browser(login_page, live_server):
    s = rx.setup()
    prescription, _ = rx_upload.prescription_upload(user=s.hospital, data=rx_upload.UploadData(
        serial_no="WEB001", application=s.application.pk, physician_code=s.physician.code,
        pharmacy_code=s.pharmacy.code, issued_at=timezone.now(), signature="sig",
        items=[rx_upload.UploadItem(s.drug.code, 3, 30)]), now=timezone.now())
    page = login_page(s.pharmacist.username)
    page.goto(f"{live_server.url}/prescriptions/")
    page.click("text=WEB001")
    page.click("a:has-text('配药')")
    item = prescription.items.get()
    page.fill(f"input[name=price_{item.pk}]", "980.00")
    page.click("button[value=quote]")
    quote = page.locator("#quote")
    assert "1,609.50" in quote.inner_text() and "1,330.50" in quote.inner_text()
    assert not Dispensing.objects.exists()
    page.fill(f"textarea[name=codes_{item.pk}]", "\n".join(rx.trace_codes(3)))
    page.click("button[value=dispense]")
    page.wait_for_selector(".dispensing")
    assert "1,609.50" in page.locator(".dispensing").inner_text()
    assert Dispensing.objects.get().fund_payment == 1609.5
    assert page.locator("#status").inner_text() == "已配药"
