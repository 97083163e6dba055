"""R-SET-1 / R-SET-5 on PostgreSQL: two administrators confirm the same month (one the whole month, one the
statement) while a deduction is recorded on the same pharmacy. One confirmation wins, the other is refused; one
withheld entry; the deduction is on the statement or waits for the next one — never both, never lost."""
import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from apps.core.exceptions import ApplicationError
from apps.core.models import Sanction
from apps.settlement import money_selectors, money_services, services
from apps.settlement.models import DepositEntry, Statement, StatementAdjustment
from tests import factories as f
from tests.settlement import factories as sf

NOV = dt.date(2026, 11, 1)
D = Decimal


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rounds", range(3))
def test_r_set_5_two_confirmations_and_a_sanction_race_on_one_pharmacy(zhongwei, rounds):
    """fund 1,984.50, deposit 99.23, payable 1,885.27; deduction 500.00 → 1,385.27 if it lands on November."""
    pharmacy = f.PharmacyFactory()
    sf.dispensing(pharmacy=pharmacy, quantity=3)
    services.settlement_run_now(period=NOV, clock=sf.clock)
    statement = Statement.objects.get(pharmacy=pharmacy, period=NOV)
    admin1, admin2 = f.bureau_admin(), f.bureau_admin()
    barrier = threading.Barrier(3)
    outcomes, unexpected = [], []

    def run(name, action):
        try:
            barrier.wait(timeout=10)
            action()
            outcomes.append((name, "ok"))
        except ApplicationError as exc:
            outcomes.append((name, exc.code))
        except Exception as exc:  # pragma: no cover - reported below
            unexpected.append(exc)
        finally:
            connection.close()

    actions = {
        "month": lambda: money_services.statements_confirm_month(period=NOV, region=admin1.region, actor=admin1,
                                                                 today=dt.date(2026, 12, 3), now=sf.AT),
        "statement": lambda: services.statement_confirm(statement=statement, actor=admin2, today=dt.date(2026, 12, 3),
                                                        now=sf.AT),
        "sanction": lambda: money_services.sanction_money_record(
            organisation=pharmacy, kind=Sanction.Kind.DEDUCTION, amount=D("500.00"), decided_on=dt.date(2026, 12, 2),
            reason="违规结算", actor=admin1, now=sf.AT),
    }
    threads = [threading.Thread(target=run, args=(name, action)) for name, action in actions.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not unexpected, unexpected
    result = dict(outcomes)
    assert result["sanction"] == "ok"
    confirmations = [result["month"], result["statement"]]
    assert confirmations.count("ok") == 1
    assert {c for c in confirmations if c != "ok"} <= {"nothing_to_confirm", "statement_locked"}
    statement.refresh_from_db()
    assert Statement.objects.filter(pharmacy=pharmacy, period=NOV).count() == 1
    assert statement.status == "confirmed"
    assert list(DepositEntry.objects.values_list("kind", "amount")) == [("withheld", D("99.23"))]
    assert money_selectors.deposit_account_summary(pharmacy)["balance"] == D("99.23")
    lines = list(StatementAdjustment.objects.filter(statement=statement))
    if lines:  # the sanction committed before the confirmation recomputed the statement
        assert [(x.amount, x.carried_forward) for x in lines] == [(D("500.00"), D("0.00"))]
        assert (statement.deductions, statement.payable) == (D("500.00"), D("1385.27"))
    else:  # it waits, whole, for the next statement
        assert (statement.deductions, statement.payable) == (D("0.00"), D("1885.27"))
