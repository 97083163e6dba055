"""Reads of reports and exports from a replica (issue 16 "Beyond one machine").

With ``DATABASE_REPLICA_URL`` set, settings add a ``replica`` database (a PostgreSQL streaming replica). The reads
made inside ``replica_reads()`` go there — the monthly report, statement lists and Excel exports wrap their
selector calls in it; every other read, and every write, goes to the primary (``default``). Without the setting
the context changes nothing: everything reads the primary.

A context variable, not a thread-local: it follows the code that set it (threads, async views) and is reset when
the ``with`` block ends, so a write after a report in the same request still reads its own rows from the primary.
Writes never go to the replica (a read-only standby would refuse them anyway); migrations run on the primary only.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

REPLICA = "replica"
_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def replica_reads():
    """Reads inside this block may come from the replica (a few seconds behind the primary at most): for reports
    and exports, never for a read that decides a write."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def read_alias() -> str:
    """The alias a read made here goes to (for raw SQL: ``connections[read_alias()].cursor()``)."""
    return REPLICA if _replica_reads.get() and replica_configured() else DEFAULT_DB_ALIAS


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if not replica_configured():
            return None  # Django's own choice: the primary
        return read_alias()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA, None}

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
