"""The monitoring rules (DOMAIN section 9), one module per family. Each rule is

- ``find(rows, ...)``: a pure function over the rows it is given (no database), used on every dispensing for
  R-MON-1..5 (rows read by ``apps.monitoring.hot``) and on SQLite for the batch;
- ``rows_for_month(period=...)``: the rows of a month for ``find`` (ORM, any database);
- ``find_sql(period=..., thresholds=...)``: the same rule set-based in PostgreSQL for the monthly batch.

``tests/monitoring/test_parity.py`` runs ``find(rows_for_month(...))`` and ``find_sql(...)`` on the same data.
"""
