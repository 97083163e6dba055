import pytest
from django.conf import settings

from tests import factories as f

pytestmark = pytest.mark.django_db


def test_login_page_in_chinese_by_default_and_english_on_request(client):
    assert "登录" in client.get("/accounts/login/").content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    text = client.get("/accounts/login/").content.decode()
    assert "Sign in" in text and "Username" in text and "Dual-channel Drug Management" in text


def test_navigation_and_logout_in_english(client):
    client.force_login(f.reviewer())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    text = client.get("/", follow=True).content.decode()
    assert "Designated institutions" in text and "Responsible physicians" in text
    assert "Log out" in text and "Dashboard" in text


def test_chinese_by_default_even_when_the_browser_asks_for_english(client):
    text = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "登录" in text and "Sign in" not in text
