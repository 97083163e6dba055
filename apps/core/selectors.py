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


def region_by_code(code: str) -> Region | None:
    return Region.objects.filter(code=code).first()
