"""Reads of shared reference data."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.core.models import Region, RegionSettings


def regions_under(region: Region | None) -> QuerySet[Region]:
    """The region and every region below it (by code prefix); all regions for ``None``."""
    qs = Region.objects.all()
    if region is None:
        return qs
    return qs.filter(code__startswith=region.descendant_prefix)


def region_q(region: Region | None, field: str = "region") -> Q:
    """``Q`` restricting ``<field>`` (a FK to Region) to ``region`` and below; everything for ``None``."""
    if region is None:
        return Q()
    return Q(**{f"{field}__code__startswith": region.descendant_prefix})


def region_settings_for(region: Region | None) -> RegionSettings:
    """The settings of the nearest region up the tree that has its own; defaults when none has."""
    if region is not None:
        chain = region.ancestors_and_self()
        found = {s.region_id: s for s in RegionSettings.objects.filter(region__in=chain)}
        for node in chain:
            if node.pk in found:
                return found[node.pk]
    return RegionSettings()  # unsaved: model defaults


def region_settings_by_region(region_ids) -> dict[int, RegionSettings]:
    """``region_settings_for`` of many regions at once, in two queries whatever their number (issue 16: a page over
    every institution of a province must not look regions up one by one): the region tree and the regions' own
    settings are read once and walked in memory."""
    region_ids = set(region_ids)
    if not region_ids:
        return {}
    regions = {r.pk: r for r in Region.objects.only("pk", "parent_id")}
    own = {s.region_id: s for s in RegionSettings.objects.all()}
    found: dict[int, RegionSettings] = {}
    for region_id in region_ids:
        node, seen = regions.get(region_id), set()
        while node is not None and node.pk not in own and node.pk not in seen:
            seen.add(node.pk)
            node = regions.get(node.parent_id)
        found[region_id] = own[node.pk] if node is not None and node.pk in own else RegionSettings()
    return found


def region_by_code(code: str) -> Region | None:
    return Region.objects.filter(code=code).first()
