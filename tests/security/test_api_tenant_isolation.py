"""R-SEC-1 over REST, generated from the URL configuration (issue 14 "Done when"): two regions (Zhongwei, Changsha)
each with an institution, a pharmacy, a physician, a patient with an approved application, region
settings, a policy, a sanction and an event, and the four roles. For EVERY API list route
with a detail route beside it: the ids a Zhongwei user sees in the list, opened (GET, PATCH, DELETE) by each
Changsha user who does not see them in their own list, answer 404 (or 403 for a role that may not act) — never 2xx.
A new route that forgets its scoping fails here."""
import re

import pytest

from tests import factories as f
from tests.security.api_routes import api_routes
from tests.security.test_admin_scoping import _world

pytestmark = pytest.mark.django_db


def _users(city: str, world: dict) -> dict:
    return {"hospital": world["hospital"], "pharmacy": f.pharmacy_user(world["pharmacy"]),
            "reviewer": f.reviewer(city), "admin": f.bureau_admin(city, is_staff=True)}


def _ids(client, path):
    resp = client.get(path)
    if resp.status_code != 200:
        return set()
    body = resp.json()
    rows = body.get("results", body) if isinstance(body, dict) else body
    if not isinstance(rows, list):
        return set()
    return {row["id"] for row in rows if isinstance(row, dict) and isinstance(row.get("id"), int)}


def _list_detail_pairs():
    routes = [r for r, _ in api_routes()]
    pairs = []
    for route in routes:
        if "<" in route or "(?P" in route:
            continue
        for other in routes:
            if re.fullmatch(re.escape(route) + r"(?:<int:\w+>|<\w+>|\(\?P<\w+>\[\^/\.\]\+\))/", other):
                pairs.append((route, other))
    return pairs


def test_r_sec_1_every_api_detail_route_refuses_another_regions_objects(api_as):
    zw = _world("640500", "640502", "A")
    cs = _world("430100", "430102", "B")
    zw_users, cs_users = _users("640500", zw), _users("430100", cs)
    zw_clients = {k: api_as(u) for k, u in zw_users.items()}
    cs_clients = {k: api_as(u) for k, u in cs_users.items()}
    pairs = _list_detail_pairs()
    assert len(pairs) >= 8, pairs
    checked = 0
    for list_route, detail_route in pairs:
        list_path = "/" + list_route
        seen_by_zw = set().union(*(_ids(c, list_path) for c in zw_clients.values()))
        for role, client in cs_clients.items():
            foreign = seen_by_zw - _ids(client, list_path)
            for pk in sorted(foreign)[:3]:
                path = "/" + re.sub(r"<int:\w+>|<\w+>|\(\?P<\w+>\[\^/\.\]\+\)", str(pk), detail_route)
                for method in ("get", "patch", "delete"):
                    resp = getattr(client, method)(path, {}, format="json")
                    assert resp.status_code in (403, 404, 405), (role, method, path, resp.status_code)
                    checked += 1
    assert checked >= 30


@pytest.mark.parametrize("route,key", [("applications", "application"), ("institutions", "institution"),
                                       ("pharmacies", "pharmacy"), ("physicians", "physician"),
                                       ("users", "hospital")])
def test_r_sec_1_another_regions_rows_are_not_in_any_list(api_as, route, key):
    zw = _world("640500", "640502", "A")
    cs = _world("430100", "430102", "B")
    for role, user in _users("430100", cs).items():
        ids = _ids(api_as(user), f"/api/v1/{route}/")
        assert zw[key].pk not in ids, (route, role)
