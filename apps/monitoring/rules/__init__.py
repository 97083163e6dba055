"""The monitoring rules (DOMAIN section 9), one module per family. Each rule is

- ``find(rows, ...)``: a pure function over the rows it is given (no database), used on every dispensing for
  R-MON-1..5 (rows read by ``apps.monitoring.hot``) and on SQLite for the batch;
- ``rows_for_month(period=...)`` (or ``line_rows_for_month``, ``claim_rows_for_month``): the rows of a month for
  ``find`` (ORM, any database);
- for the monthly batch on PostgreSQL, the same rule set-based: a ``FindingQuery`` (``query``,
  ``physician_query``, ``application_query``, ``stock_query``: one SELECT building each alert's columns, which the
  batch inserts with ``INSERT … SELECT … ON CONFLICT``), or, for R-MON-9 whose evidence carries each pool's peer
  distribution, ``find_sql`` returning findings that are written 500 per statement.

``tests/monitoring/builders.findings`` runs both the pure and the set-based form on every hand-made data set of
``tests/monitoring/test_rules.py`` and asserts they agree (parity).
"""
