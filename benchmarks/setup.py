"""Shared set-up for benchmarks: a fresh PostgreSQL database of their own, migrated, Django ready.

    from benchmarks.setup import django_on_fresh_database, peak_rss_mib
    django_on_fresh_database("bench_catalogue")   # before importing models
"""
from __future__ import annotations

import os
import resource
import sys
from urllib.parse import urlparse, urlunparse

DEFAULT_URL = "postgres://app:app@localhost:5432/app"


def django_on_fresh_database(name: str, *, keep: bool = False) -> str:
    """Create (or recreate) database ``name`` on the server of ``DATABASE_URL``, point Django at it, migrate."""
    import psycopg2

    base = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not base.startswith("postgres"):
        sys.exit("benchmarks need PostgreSQL: set DATABASE_URL=postgres://…")
    parsed = urlparse(base)
    admin = psycopg2.connect(dbname="postgres", user=parsed.username, password=parsed.password,
                             host=parsed.hostname, port=parsed.port or 5432)
    admin.autocommit = True
    with admin.cursor() as cur:
        if not keep:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    url = urlunparse(parsed._replace(path=f"/{name}"))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DJANGO_DEBUG", "false")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return url


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
