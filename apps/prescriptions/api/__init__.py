"""REST API of prescriptions, dispensing and stock (API.md "Prescriptions", "Stock"), and for bureau users the R-PAY-5
manual claims and cross-region filings: ``serializers`` (request and response shapes), ``prescriptions``,
``dispensings``, ``stock``, ``claims`` (the views). Thin: serializers check shapes, services decide; objects come
through the scoped selectors (404 outside the user's organisation). URLs: ``apps/prescriptions/api_urls.py``."""
