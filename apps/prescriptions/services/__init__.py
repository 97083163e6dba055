"""Writes of e-prescriptions, dispensing, claims and stock, one module per duty (issue 9): ``upload`` (the hospital
side, R-RX-1..4), ``dispensing`` (the pharmacy side, R-RX-5..7, R-PAY-3..5, R-PHA-3) and ``claims`` (R-PAY-5 manual
claims and cross-region filings); ``common`` holds what they share. Each service is one transaction that also writes
its event row. Import the module you need (``from apps.prescriptions.services import dispensing``): nothing is
re-exported here."""
