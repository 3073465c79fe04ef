"""Shared field types and conversions of the schemas: ids, times, points, numbers.

Every float refuses NaN and infinities; times are ISO 8601 strings with a zone
(converted to the engine's float epoch seconds here, and back to UTC on output).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from dispatch.model import LatLng
from dispatch.timebounds import EARLIEST, LATEST_READABLE, readable


def _whole(value: Any) -> Any:
    """JSON integers: 9 or 9.0 (JSON Schema calls both integers), never "9" or true."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = Annotated[int, BeforeValidator(_whole)]


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]")


def _iso(value: Any) -> Any:
    """Times are ISO 8601 strings with a zone, not numbers (nor numbers in a string,
    which pydantic would read as epoch seconds: query strings are all strings)."""
    if isinstance(value, bool | int | float) or (
        isinstance(value, str) and not _ISO_DATE.match(value)
    ):
        raise ValueError("must be an ISO 8601 date-time string with a time zone")
    return value


_EARLIEST = datetime.fromtimestamp(EARLIEST, tz=UTC)
_LATEST = datetime.fromtimestamp(LATEST_READABLE, tz=UTC)


def _sane(value: datetime) -> datetime:
    """Times lie in [2000, 2100): year 1 or 9999 is a bug, not an appointment (the
    engine then holds them to at most 90 days ahead of its clock)."""
    if not _EARLIEST <= value < _LATEST:
        raise ValueError("must lie between 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z")
    return value


Time = Annotated[AwareDatetime, BeforeValidator(_iso), AfterValidator(_sane)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Skill = Annotated[str, Field(min_length=1, max_length=40)]
ExternalRef = Annotated[str, Field(min_length=1, max_length=128)]
Notes = Annotated[str, Field(min_length=1, max_length=1000)]


class In(BaseModel):
    """Base of request bodies: unknown fields and non-finite numbers are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Out(BaseModel):
    """Base of response bodies."""

    model_config = ConfigDict(allow_inf_nan=False)


def to_epoch(t: datetime | None) -> float | None:
    return None if t is None else t.timestamp()


def to_time(t: float | None) -> datetime | None:
    return None if t is None else utc(t)


def utc(t: float) -> datetime:
    """Engine epoch seconds as an aware UTC datetime (serialised with a ``Z``); a time
    stored out of range by an older version is clamped, so a read never fails on it."""
    return datetime.fromtimestamp(readable(t), tz=UTC)


class Point(In):
    lat: float = Field(strict=True, ge=-90, le=90, description="Latitude in degrees (-90 to 90).")
    lng: float = Field(
        strict=True, ge=-180, le=180, description="Longitude in degrees (-180 to 180)."
    )

    def model(self) -> LatLng:
        return LatLng(self.lat, self.lng)


class PointOut(Out):
    lat: float = Field(description="Latitude in degrees.")
    lng: float = Field(description="Longitude in degrees.")


def point_out(p: LatLng | None) -> PointOut | None:
    return None if p is None else PointOut(lat=float(p.lat), lng=float(p.lng))


class Center(Point):
    """A community centre: away from the poles, where local metric maps hold."""

    lat: float = Field(
        strict=True,
        ge=-85,
        le=85,
        description="Latitude in degrees (-85 to 85: away from the poles).",
    )
