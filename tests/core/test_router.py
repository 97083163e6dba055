"""Issue 16 "Beyond one machine": reports and exports read from a replica when ``DATABASE_REPLICA_URL`` adds one
(config/db_router.py); every write, and every other read, goes to the primary; without a replica everything
reads the primary.

On PostgreSQL the replica alias points at the same test database through a second connection, so the test sees
which connection each query went through."""
import datetime as dt

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, router
from django.test.utils import CaptureQueriesContext

from apps.core.models import Region
from apps.prescriptions.models import Dispensing
from apps.settlement.models import SettlementRun, Statement
from config.db_router import REPLICA, ReplicaRouter, read_alias, replica_reads
from tests import factories as f
from tests.settlement import factories as sf


def test_without_a_replica_every_read_and_write_goes_to_the_primary():
    assert REPLICA not in settings.DATABASES
    routing = ReplicaRouter()
    for model in (Region, Dispensing, Statement):
        assert routing.db_for_read(model) is None and routing.db_for_write(model) == DEFAULT_DB_ALIAS
        with replica_reads():
            assert routing.db_for_read(model) is None  # nothing to read from: Django's choice, the primary
            assert router.db_for_read(model) == DEFAULT_DB_ALIAS
            assert read_alias() == DEFAULT_DB_ALIAS
    assert routing.allow_migrate(DEFAULT_DB_ALIAS, "settlement") and not routing.allow_migrate(REPLICA, "settlement")


@pytest.fixture
def replica_alias():
    """A ``replica`` database: the test database again, through its own connection (as a mirror)."""
    config = {**connection.settings_dict, "TEST": {"MIRROR": DEFAULT_DB_ALIAS}}
    settings.DATABASES[REPLICA] = config
    connections.settings[REPLICA] = config
    # connected here: the test case only lets through the connections it declared or one already open
    connections[REPLICA].connect()
    try:
        yield connections[REPLICA]
    finally:
        connections[REPLICA].close()
        del connections[REPLICA]
        connections.settings.pop(REPLICA, None)
        settings.DATABASES.pop(REPLICA, None)


def _touches(queries, table: str) -> list[str]:
    return [q["sql"] for q in queries if table in q["sql"]]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_a_replica_reports_and_exports_read_it_and_writes_never_go_there(replica_alias, zhongwei, api_as):
    """The monthly report API (R-SET-3) reads the month's dispensings through the replica connection only; inside
    the same context a write goes to the primary; outside it every read is the primary's."""
    pharmacy = f.PharmacyFactory()
    sf.dispensing(pharmacy=pharmacy, period=dt.date(2026, 11, 1))
    replica, primary = replica_alias, connections[DEFAULT_DB_ALIAS]
    assert replica is not primary
    routing = ReplicaRouter()

    # the router's choices
    assert routing.db_for_read(Dispensing) == DEFAULT_DB_ALIAS
    with replica_reads():
        assert routing.db_for_read(Dispensing) == REPLICA and read_alias() == REPLICA
        for model in (Region, Dispensing, Statement, SettlementRun):
            assert routing.db_for_write(model) == DEFAULT_DB_ALIAS
    assert routing.db_for_read(Dispensing) == DEFAULT_DB_ALIAS  # the context ended

    # a report through the API: its reads on the replica connection, none of them on the primary's
    client = api_as(f.bureau_admin())
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(primary) as on_primary:
        response = client.get("/api/v1/reports/monthly/?period=2026-11")
    assert response.status_code == 200 and response.json()["totals"]["visits"] == 1
    assert _touches(on_replica.captured_queries, Dispensing._meta.db_table)
    assert not _touches(on_primary.captured_queries, Dispensing._meta.db_table)

    # writes made inside the context go to the primary, the replica sees only reads
    with replica_reads():
        with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(primary) as on_primary:
            region = Region.objects.get(code="640500")  # read: replica
            region.name = "中卫市（改）"
            region.save(update_fields=["name"])  # write: primary, even for a row read from the replica
            Region.objects.filter(code="640500").update(name="中卫市")
            SettlementRun.objects.create(period=dt.date(2026, 11, 1))
    writes = ("INSERT", "UPDATE", "DELETE")
    assert [q for q in on_replica.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert not [q for q in on_replica.captured_queries if q["sql"].lstrip().upper().startswith(writes)]
    written = [q["sql"] for q in on_primary.captured_queries if q["sql"].lstrip().upper().startswith(writes)]
    assert len(_touches([{"sql": w} for w in written if w.startswith("UPDATE")], Region._meta.db_table)) == 2
    assert _touches([{"sql": w} for w in written if w.startswith("INSERT")], SettlementRun._meta.db_table)

    # outside the context: the primary only
    with CaptureQueriesContext(replica) as on_replica:
        assert Region.objects.filter(code="640500").exists()
    assert not on_replica.captured_queries
