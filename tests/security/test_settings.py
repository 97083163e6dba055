"""Issue 14 §13: production settings — HTTPS only behind the proxy, HSTS, secure cookies, a content security
policy, sessions of a working day, no start without a real secret key, ``check --deploy`` clean."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories as f

ROOT = Path(__file__).resolve().parents[2]


def _run_production(*args, secret="k" * 10 + "Qw3rTy-uIoP_aSdFgHjKl-ZxCvBnM_0987654321-poIUytrEW-qaz",
                    field_key="Fx7-pQ2_wZ9rT4yU1iO8aS5dG3hJ6kL0zXcVbNm"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env = {k: v for k, v in env.items() if not k.startswith("FIELD_ENCRYPTION_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production", DJANGO_SECRET_KEY=secret,
               FIELD_ENCRYPTION_KEY=field_key,
               DATABASE_URL=os.environ.get("DATABASE_URL", f"sqlite:///{ROOT / 'db.sqlite3'}"))
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_r_sec_1_check_deploy_is_clean():
    result = _run_production("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("secret", ["change-me-in-production", "short", "dev-only-insecure-key-change-me" * 3,
                                    "a" * 60])
def test_r_sec_1_production_refuses_a_placeholder_secret_key(secret):
    result = _run_production("check", secret=secret)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be a real secret" in result.stderr


def test_r_sec_1_production_settings_are_https_only():
    code = ("from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER, "
            "s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_AGE)")
    result = _run_production("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["True", "('HTTP_X_FORWARDED_PROTO',", "'https')", "31536000", "True", "True",
                                     "28800"]


def test_r_sec_1_docker_compose_refuses_to_start_without_a_secret_key():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"DJANGO_SECRET_KEY: \$\{DJANGO_SECRET_KEY:\?", compose)
    assert "change-me" not in compose


@pytest.mark.django_db
def test_r_sec_1_pages_carry_a_content_security_policy_with_a_nonce(client):
    """No 'unsafe-inline' for scripts; the inline script of a page carries the response's nonce."""
    client.force_login(f.bureau_admin())
    resp = client.get("/accounts/login/")
    policy = resp.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1)
    assert "'unsafe-inline'" not in script_src and "'self'" in script_src
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_r_sec_1_inline_scripts_carry_the_nonce_and_no_inline_handlers_but_the_hashed_two():
    """Every inline <script> of every template has the response's nonce; inline event handlers are only the two
    whose hashes the policy lists."""
    allowed = {"this.form.submit()", "window.print()"}
    for path in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("apps/*/templates/**/*.html")]:
        source = path.read_text()
        for tag in re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", source):
            assert 'nonce="{{ request.csp_nonce }}"' in tag, (path, tag)
        for handler in re.findall(r"\son[a-z]+=\"([^\"]*)\"", source):
            assert handler in allowed, (path, handler)


def test_r_sec_1_sessions_end_after_a_working_day(settings):
    assert settings.SESSION_COOKIE_AGE <= 8 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
