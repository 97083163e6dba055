import pytest
from django.test import override_settings

from tests import factories as f

pytestmark = pytest.mark.django_db


def test_token_login_and_me_return_role_and_organisation(api, api_as):
    # given a hospital user
    user = f.hospital_user()
    # when they ask for a token with the right password
    resp = api.post("/api/v1/auth/token/", {"username": user.username, "password": f.PASSWORD}, format="json")
    # then they get a token that authenticates /auth/me/
    assert resp.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {resp.json()['token']}")
    me = api.get("/api/v1/auth/me/").json()
    assert me["username"] == user.username
    assert me["role"] == "hospital"
    assert me["organisation"] == {"kind": "institution", "code": user.institution.code, "name": user.institution.name}


def test_bad_password_is_401_in_error_format(api):
    user = f.reviewer()
    resp = api.post("/api/v1/auth/token/", {"username": user.username, "password": "wrong"}, format="json")
    assert resp.status_code == 401
    assert resp.json()["code"] == "not_authenticated"
    assert set(resp.json()) >= {"code", "detail", "fields"}


def test_missing_token_is_401_not_authenticated(api):
    resp = api.get("/api/v1/auth/me/")
    assert resp.status_code == 401
    assert resp.json() == {"code": "not_authenticated", "detail": "未登录或令牌无效", "fields": {}}


@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_MINUTES=15)
def test_lockout_after_repeated_failures_refuses_even_the_right_password(api):
    user = f.reviewer()
    for _ in range(3):
        api.post("/api/v1/auth/token/", {"username": user.username, "password": "wrong"}, format="json")
    resp = api.post("/api/v1/auth/token/", {"username": user.username, "password": f.PASSWORD}, format="json")
    assert resp.status_code == 403
    assert resp.json()["code"] == "account_locked"


def test_browser_login_page_signs_in_and_shows_home(client):
    user = f.reviewer()
    resp = client.post("/accounts/login/", {"username": user.username, "password": f.PASSWORD})
    assert resp.status_code == 302
    home = client.get("/", follow=True)  # bureau users land on their dashboard
    assert home.status_code == 200
    assert "工作台" in home.content.decode()


def test_browser_login_wrong_password_shows_message(client):
    user = f.reviewer()
    resp = client.post("/accounts/login/", {"username": user.username, "password": "nope"})
    assert resp.status_code == 200
    assert "用户名或密码错误" in resp.content.decode()
