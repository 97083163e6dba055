"""Issue 14 §3, §7, §11, §12 (R-SEC-1: only the account's holder gets in): one login service behind the token
endpoint, the browser login and the Django admin login; failures counted under a row lock before the password is
checked; unknown and known usernames answer alike; API tokens hashed, expiring and revoked by a password change
or a lockout."""
import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from knox.models import AuthToken

from apps.accounts.models import User
from apps.accounts.services import user_authenticate, user_password_set
from apps.core.exceptions import ApplicationError
from tests import factories as f

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def _token(api, username, password):
    return api.post(TOKEN_URL, {"username": username, "password": password}, format="json")


# --- §3 the Django admin login goes through the lockout ---------------------------------------------------

@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_MINUTES=15)
def test_r_sec_1_admin_login_counts_failures_and_refuses_a_locked_account(client):
    """3 wrong passwords on /admin/login/ lock the account (the old admin counted nothing); the right password is
    then refused on the admin, on the browser login and on the token endpoint, with the lock message."""
    admin = f.bureau_admin(is_staff=True)
    for _ in range(3):
        resp = client.post("/admin/login/", {"username": admin.username, "password": "wrong"})
        assert resp.status_code == 200  # the form again, not signed in
    admin.refresh_from_db()
    assert admin.locked_until is not None and admin.locked_until > timezone.now()
    resp = client.post("/admin/login/?next=/admin/", {"username": admin.username, "password": f.PASSWORD})
    assert resp.status_code == 200
    assert "账号已锁定" in resp.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_r_sec_1_admin_login_with_the_right_password_signs_in_and_clears_failures(client):
    admin = f.bureau_admin(is_staff=True)
    client.post("/admin/login/", {"username": admin.username, "password": "wrong"})
    admin.refresh_from_db()
    assert admin.failed_login_count == 1
    resp = client.post("/admin/login/?next=/admin/", {"username": admin.username, "password": f.PASSWORD,
                                                      "next": "/admin/"})
    assert resp.status_code == 302
    assert client.get("/admin/").status_code == 200
    admin.refresh_from_db()
    assert admin.failed_login_count == 0


@override_settings(LOGIN_MAX_FAILURES=2)
def test_r_sec_1_failures_on_different_doors_add_up(client, api):
    """One wrong password on the browser login + one on the admin = 2 = the limit: the token endpoint refuses."""
    user = f.bureau_admin(is_staff=True)
    client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    client.post("/admin/login/", {"username": user.username, "password": "wrong"})
    resp = _token(api, user.username, f.PASSWORD)
    assert resp.status_code == 403
    assert resp.json()["code"] == "account_locked"


@override_settings(LOGIN_MAX_FAILURES=2)
def test_r_sec_1_django_authenticate_goes_through_the_lockout(client):
    """Any authenticate() call (here the test client's login()) is checked by the same service."""
    user = f.reviewer()
    assert not client.login(username=user.username, password="wrong")
    assert not client.login(username=user.username, password="wrong")
    assert not client.login(username=user.username, password=f.PASSWORD)  # locked now


# --- §7 lockout races (PostgreSQL) --------------------------------------------------------------------------

def _burst(username, passwords):
    barrier = threading.Barrier(len(passwords))
    outcomes: list = [None] * len(passwords)

    def run(i, password):
        try:
            barrier.wait()
            outcomes[i] = user_authenticate(username=username, password=password, now=timezone.now())
        except ApplicationError as exc:
            outcomes[i] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(passwords)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_MINUTES=15)
def test_r_sec_1_sixteen_parallel_wrong_passwords_check_only_three(monkeypatch):
    """16 wrong passwords at once with a limit of 3: exactly 3 passwords are checked (3 "wrong password"
    answers), the other 13 are refused as locked without a check, and one lock event is written."""
    from apps.core.models import Event

    user = f.reviewer()
    checked = []
    original = User.check_password

    def counting(self, raw):
        checked.append(raw)
        return original(self, raw)

    monkeypatch.setattr(User, "check_password", counting)
    outcomes = _burst(user.username, ["wrong"] * 16)
    assert len(checked) == 3
    assert outcomes.count("not_authenticated") == 2
    assert outcomes.count("account_locked") == 14  # the 3rd failure answers "locked", then 13 refusals
    user.refresh_from_db()
    assert user.locked_until is not None
    assert Event.objects.filter(action="account_locked", object_id=str(user.pk)).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_MINUTES=15)
def test_r_sec_1_right_password_in_a_burst_does_not_clear_the_lock():
    """8 wrong + 1 right at once, limit 3. Wherever the right one falls in the serialised order, at least 3 wrong
    ones follow or precede it without a success in between (8 − 2 = 6 ≥ 3), so the account ends locked."""
    user = f.reviewer()
    for _ in range(3):
        outcomes = _burst(user.username, ["wrong"] * 4 + [f.PASSWORD] + ["wrong"] * 4)
        user.refresh_from_db()
        assert user.locked_until is not None and user.locked_until > timezone.now()
        User.objects.filter(pk=user.pk).update(locked_until=None, failed_login_count=0)
        assert outcomes.count("account_locked") >= 1


# --- §12 unknown and known usernames answer alike -------------------------------------------------------------

@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_MINUTES=15)
def test_r_sec_1_unknown_and_known_usernames_answer_the_same(api):
    """Same status, code and wording for each attempt (the lock time aside, both are "now + 15 min")."""
    known = f.reviewer()
    answers = {}
    for name in (known.username, "nobody-such"):
        answers[name] = []
        for _ in range(4):
            resp = _token(api, name, "wrong")
            body = resp.json()
            answers[name].append((resp.status_code, body["code"], body["detail"][:10], sorted(body)))
    assert answers[known.username] == answers["nobody-such"]
    assert [a[0] for a in answers["nobody-such"]] == [401, 401, 403, 403]


# --- §11 tokens: hashed, expiring, revocable ------------------------------------------------------------------

def test_r_sec_1_token_is_stored_hashed_and_expires(api):
    user = f.hospital_user()
    key = _token(api, user.username, f.PASSWORD).json()["token"]
    stored = AuthToken.objects.get(user=user)
    assert key not in (stored.digest, stored.token_key) and len(stored.token_key) < len(key)
    assert stored.expiry is not None and stored.expiry <= timezone.now() + dt.timedelta(hours=12, minutes=1)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/auth/me/").status_code == 200
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    resp = api.get("/api/v1/auth/me/")
    assert resp.status_code == 401 and resp.json()["code"] == "not_authenticated"


def test_r_sec_1_password_change_revokes_tokens(api):
    user = f.hospital_user()
    key = _token(api, user.username, f.PASSWORD).json()["token"]
    user_password_set(user=user, password="An0ther-pass-2026", actor=None)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/auth/me/").status_code == 401


def test_r_sec_1_password_change_by_an_administrator_through_the_api_revokes_tokens(api, api_as):
    admin = f.bureau_admin()
    user = f.reviewer()
    key = _token(api, user.username, f.PASSWORD).json()["token"]
    resp = api_as(admin).patch(f"/api/v1/users/{user.pk}/", {"password": "An0ther-pass-2026"}, format="json")
    assert resp.status_code == 200, resp.content
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/auth/me/").status_code == 401


def test_r_sec_1_password_change_in_the_admin_revokes_tokens(client, api):
    superuser = f.UserFactory(is_superuser=True, is_staff=True, role="bureau_admin")
    user = f.reviewer()
    key = _token(api, user.username, f.PASSWORD).json()["token"]
    client.force_login(superuser)
    resp = client.post(f"/admin/accounts/user/{user.pk}/password/",
                       {"password1": "An0ther-pass-2026", "password2": "An0ther-pass-2026", "usable_password": "true"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/auth/me/").status_code == 401


@override_settings(LOGIN_MAX_FAILURES=2)
def test_r_sec_1_lockout_revokes_tokens(api):
    user = f.hospital_user()
    key = _token(api, user.username, f.PASSWORD).json()["token"]
    _token(api, user.username, "wrong")
    _token(api, user.username, "wrong")
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/auth/me/").status_code == 401


def test_r_sec_1_garbage_token_is_401_not_500(api):
    for header in ("Token zz\u00e9\u00e9", "Token " + "g" * 64, "Token a b", "Token"):
        api.credentials(HTTP_AUTHORIZATION=header)
        resp = api.get("/api/v1/auth/me/")
        assert resp.status_code == 401, header
