import pytest

from tests import factories as f

pytestmark = pytest.mark.django_db


def test_bureau_menu_groups_registries_and_keeps_single_items_as_links(client):
    client.force_login(f.bureau_admin())
    menu = client.get("/institutions/").context["nav_menu"]
    groups = {str(e["label"]): [str(c["label"]) for c in e["children"]] for e in menu if e["children"]}
    assert groups["定点管理"] == ["定点医疗机构", "责任医师", "定点药店"]
    registry = next(e for e in menu if str(e["label"]) == "定点管理")
    assert registry["active"] is True  # the page is inside the group
    links = [str(e["label"]) for e in menu if not e["children"]]
    assert "监测看板" in links
    assert groups["药品目录"] == ["药品目录", "Excel 导入"]  # the catalogue and its import, one menu (issue 15)


def test_hospital_single_item_group_renders_as_a_plain_link(client):
    client.force_login(f.hospital_user())
    menu = client.get("/").context["nav_menu"]
    physicians = next(e for e in menu if str(e["label"]) == "责任医师")
    assert physicians["children"] == [] and physicians["url"] == "/physicians/"


def test_percent_filter_shows_ratios_as_percentages():
    from decimal import Decimal

    from apps.core.templatetags.formatting import percent

    assert percent(Decimal("0.6082")) == "60.82%"
    assert percent("0.75", 1) == "75%"  # ratios read 75%, no trailing zeros (issue 15)
    assert percent(None) == "—"
