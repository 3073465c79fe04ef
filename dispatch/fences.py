"""Prepared geofences per community version (building one costs; checking many is cheap)."""

from __future__ import annotations

import geo
from dispatch.model import Community

__all__ = ["FenceCache"]


class FenceCache:
    """The geofence of each community version, built once."""

    def __init__(self) -> None:
        self._fences: dict[tuple[str, int], geo.Geofence] = {}

    def get(self, community: Community) -> geo.Geofence:
        key = (community.id, community.version)
        fence = self._fences.get(key)
        if fence is None:
            fence = geo.Geofence.circle(
                community.center.lat, community.center.lng, community.radius_m
            )
            self._fences[key] = fence
        return fence

    def forget(self, community_id: str, version: int) -> None:
        self._fences.pop((community_id, version), None)
