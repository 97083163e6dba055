"""Issue 9 §1 (STYLE "Layers"): services and selectors take ``now=``/``today=`` from their caller; only the edge that
starts the work reads the clock. This walks the AST of every module under ``apps/`` and fails on a clock read
(``timezone.now()``, ``timezone.localdate()``/``localtime()`` without an argument, ``date.today()``,
``datetime.now()``/``today()``/``utcnow()``, ``time.time()``) outside the edge modules below."""
import ast
from pathlib import Path

APPS = Path(__file__).resolve().parents[2] / "apps"

#: edge modules by file name: they receive a request, a task message or a command line and start the work
EDGE_FILES = {
    "views.py": "browser views",
    "api.py": "DRF views",
    "tasks.py": "Celery tasks (the schedule's moment is 'now')",
    "admin.py": "Django admin pages and actions",
    "home.py": "home-page tiles, built only by the home view for the signed-in user",
    "context_processors.py": "template context of the page being rendered",
}
#: edge modules by name pattern (a package ``api/``, ``*_views.py``, ``*_api.py``, management commands)
EDGE_PARTS = ("api", "commands", "migrations")
EDGE_SUFFIXES = ("_views.py", "_api.py")

#: other modules allowed to read the clock, each with its reason
ALLOWED = {
    "core/admin_actions.py": "admin action plumbing: runs inside the admin request that triggers the action",
    "accounts/authentication.py": "DRF authentication class: checks a token's expiry for the request being served",
    "accounts/backends.py": "Django authentication backend: django.contrib.auth.authenticate() calls it for the "
                            "request being served (admin, test client); it gives the login service the attempt's time",
    "accounts/forms.py": "the admin's login form: Django's LoginView calls its clean() for the request being served",
    "catalogue/models.py": "``upload_to`` path of an uploaded file: Django calls it while saving, no caller to pass a date",
}

_NO_ARG = {("timezone", "now"), ("timezone", "localdate"), ("timezone", "localtime"), ("date", "today"),
           ("datetime", "now"), ("datetime", "today"), ("datetime", "utcnow"), ("time", "time")}


def _is_edge(relative: Path) -> bool:
    name = relative.name
    return (name in EDGE_FILES or name.endswith(EDGE_SUFFIXES) or any(p in EDGE_PARTS for p in relative.parts[:-1])
            or relative.as_posix() in ALLOWED)


def clock_reads(source: str) -> list[int]:
    """Line numbers of clock reads in ``source``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
        if (owner_name, node.func.attr) in _NO_ARG and not node.args and not node.keywords:
            lines.append(node.lineno)
    return lines


def test_clock_reads_are_found():
    """The detector itself: the forms the codebase uses are caught, a given moment is not."""
    assert clock_reads("from django.utils import timezone\nx = timezone.now()\ny = timezone.localdate()") == [2, 3]
    assert clock_reads("import datetime as dt\na = dt.date.today()\nb = dt.datetime.now()") == [2, 3]
    assert clock_reads("z = timezone.localdate(now)\nw = timezone.localtime(moment)") == []


def test_issue9_only_edges_read_the_clock():
    offenders = []
    for path in sorted(APPS.rglob("*.py")):
        relative = path.relative_to(APPS)
        if _is_edge(relative):
            continue
        offenders += [f"apps/{relative.as_posix()}:{line}" for line in clock_reads(path.read_text(encoding="utf-8"))]
    assert offenders == [], ("services, selectors and models take now=/today= from their caller; move these clock "
                             "reads to the view, task or command:\n" + "\n".join(offenders))


def test_allow_list_has_no_stale_entries():
    """An allowed module that no longer reads the clock leaves the list."""
    stale = [name for name in ALLOWED if not (APPS / name).exists()
             or not clock_reads((APPS / name).read_text(encoding="utf-8"))]
    assert stale == []
