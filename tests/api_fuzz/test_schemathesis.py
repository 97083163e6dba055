"""R-SEC-4 (issue 14, "Done when"): Schemathesis fuzzes every operation of the served OpenAPI schema
(``/api/schema/``) through the project's WSGI application, as a bureau administrator and as a hospital, and fails on
any 5xx. Bounded: a few examples per operation, no deadline (the whole run takes a few minutes on CI's machine).

The requests go through Django's real WSGI handler (middleware, DRF, the exception handler) in the test's
transaction: like Django's own test client, the fixture keeps the handler from closing the test's connection at the
end of each request. Every write the fuzzer makes is rolled back with the test."""
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from tests import factories as f

pytestmark = [pytest.mark.schemathesis, pytest.mark.django_db]

#: examples per operation and role: ~160 operations × 2 roles × this bounds the run
MAX_EXAMPLES = 6


@pytest.fixture
def served_app():
    """The WSGI application, with the per-request connection clean-up off (as ``django.test.Client`` does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(served_app):
    return schemathesis.openapi.from_wsgi("/api/schema/", served_app)


def _token_header(user) -> dict:
    from knox.models import AuthToken

    _, key = AuthToken.objects.create(user=user)
    return {"Authorization": f"Token {key}"}


@pytest.fixture
def hospital(zhongwei):
    """A hospital of the region with a physician, and a pharmacy: list and detail views have rows."""
    institution = f.InstitutionFactory()
    f.PharmacyFactory()
    f.PhysicianFactory(institution=institution)
    return institution


@pytest.fixture
def bureau_token(hospital):
    return _token_header(f.bureau_admin())


@pytest.fixture
def hospital_token(hospital):
    return _token_header(f.hospital_user(hospital))


FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: every failing operation is reported as found
                suppress_health_check=list(HealthCheck))


def _server_errors(schema, headers: dict) -> list[str]:
    """Fuzz every operation (data that fits the schema and data that does not) and return one line per operation
    that answered 5xx, with a command that reproduces it. (Schemathesis' own lazy ``from_fixture`` runner needs a
    pytest internal that pytest 9 removed, so the operations are driven here, one Hypothesis test each.)"""
    found: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            found.append(f"schema error: {result.err()}")
            continue
        operation = result.ok()
        strategy = (operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE))

        @FUZZ
        @given(case=strategy)
        def fuzz(case):
            response = case.call(headers=headers)
            if response.status_code >= 500:
                raise AssertionError(f"{operation.label} answered {response.status_code}: "
                                     f"{response.text[:300]}\n    {case.as_curl_command(headers=headers)}")

        try:
            fuzz()
        except AssertionError as exc:
            found.append(str(exc))
    return found


def test_r_sec_4_no_operation_answers_5xx_to_a_bureau_administrator(api_schema, bureau_token):
    errors = _server_errors(api_schema, bureau_token)
    assert not errors, "\n".join(errors)


def test_r_sec_4_no_operation_answers_5xx_to_a_hospital(api_schema, hospital_token):
    errors = _server_errors(api_schema, hospital_token)
    assert not errors, "\n".join(errors)
