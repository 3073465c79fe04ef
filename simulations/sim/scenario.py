"""Scenario files: what a simulated day looks like, validated with pydantic.

A scenario is a TOML file (see ``simulations/sim/scenarios/default.toml``, where
every field is documented). ``load_scenario`` accepts a shipped name
("default") or a path and raises ``ScenarioError`` listing every problem with
the field's path (unknown keys, wrong types, negative rates, bad shares).

The settings the engine and the solver run with are theirs, not copies: the
``[community]`` table builds a ``dispatch.community.CommunitySpec`` (its
defaults and limits), ``[engine]`` is an ``EngineSettings`` and ``[solver]`` a
``RoutingParams`` (any of their fields, their defaults, their checks);
``[simulation]`` holds the few knobs only the simulator has.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dispatch.community import COMMUNITY_LIMITS, SKILL_PATTERN, CommunitySpec, community_default
from dispatch.model import LatLng
from dispatch.settings import EngineSettings
from simulations.sim.tables import table
from solver.routing import RoutingParams

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

Skill = Literal["cleaning", "appliance_cleaning", "plumbing", "repair"]
#: A skill a community's catalogue may name (dispatch.community.SKILL_PATTERN).
CatalogueSkill = Annotated[str, Field(pattern=SKILL_PATTERN.pattern)]
DeliveryService = Literal["grocery", "medicine", "takeout"]
VehicleName = Literal["walk", "bicycle", "scooter", "car"]
Tier = Literal["standard", "silver", "gold", "diamond"]

NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Hour = Annotated[float, Field(ge=0, lt=24, allow_inf_nan=False)]
Finite = Field(allow_inf_nan=False)

#: What became of the keys of the old ``[dispatch]`` table.
MOVED = {
    "metaheuristic": "solver",
    "isolate": "solver",
    "churn_penalty": "engine",
    "pickup_service_s": "engine",
    "dropoff_service_s": "engine",
    "promise_buffer_s": "engine",
    "tick_when_idle": "simulation",
}


class ScenarioError(ValueError):
    """A scenario could not be read or failed validation; ``errors`` lists each problem."""

    def __init__(self, source: str, errors: Sequence[str]) -> None:
        self.source = source
        self.errors = list(errors)
        super().__init__(f"invalid scenario {source}:\n  " + "\n  ".join(self.errors))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Peak(_Model):
    """A Gaussian bump of extra demand around a local hour."""

    name: str = "peak"
    hour: Hour
    width_h: Positive
    per_hour: NonNeg


def _limits(name: str) -> Any:
    """The bounds of a community field, from ``dispatch.community.COMMUNITY_LIMITS``."""
    bounds: dict[str, Any] = COMMUNITY_LIMITS[name].pydantic()
    return Field(**bounds)


class CommunityConfig(_Model):
    """A ``CommunitySpec`` with its centre as ``lat``/``lng``: its defaults, its limits."""

    id: Annotated[str, Field(min_length=1, max_length=64)] = "default"
    name: Annotated[str, Field(max_length=200)] = "Community"
    lat: Annotated[float, Field(ge=-85, le=85, allow_inf_nan=False)] = 31.2304
    lng: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] = 121.4737
    radius_m: Annotated[float, Finite, _limits("radius_m")] = community_default("radius_m")
    h3_resolution: Annotated[int, _limits("h3_resolution")] = community_default("h3_resolution")
    delivery_sla_min: Annotated[float, Finite, _limits("delivery_sla_min")] = community_default(
        "delivery_sla_min"
    )
    emergency_sla_min: Annotated[float, Finite, _limits("emergency_sla_min")] = community_default(
        "emergency_sla_min"
    )
    dispatch_interval_s: Annotated[float, Finite, _limits("dispatch_interval_s")] = (
        community_default("dispatch_interval_s")
    )
    solver_budget_s: Annotated[float, Finite, _limits("solver_budget_s")] = community_default(
        "solver_budget_s"
    )
    max_orders_per_trip: Annotated[int, _limits("max_orders_per_trip")] = community_default(
        "max_orders_per_trip"
    )
    single_merchant_trips: bool = community_default("single_merchant_trips")
    skills: Annotated[list[CatalogueSkill], Field(min_length=1, max_length=100)] | None = None

    @model_validator(mode="after")
    def _check(self) -> CommunityConfig:
        self.spec()  # CommunitySpec has the last word (its InvalidInput is a ValueError)
        return self

    def spec(self) -> CommunitySpec:
        """The engine's community specification."""
        values = self.model_dump(exclude={"lat", "lng", "skills"})
        skills = None if self.skills is None else frozenset(self.skills)
        return CommunitySpec(center=LatLng(self.lat, self.lng), skills=skills, **values)


class MerchantGroup(_Model):
    service: DeliveryService
    count: Annotated[int, Field(ge=1, le=10_000)]
    share: NonNeg
    prep_min: Positive
    prep_cv: NonNeg = 0.3
    spread: Share = 0.8
    basket_mean: Positive = 60.0  # mean order value (goods, before the delivery fee)
    basket_cv: NonNeg = 0.5
    # Kitchen reports (``POST /v1/orders/{id}/ready``): the share of the group's orders
    # whose kitchen tells dispatch the real ready time, ``report_lead_min`` before it
    # (0: a tap when the food is out; at the order when it cooks faster than the lead).
    ready_reports: Share = 0.0
    report_lead_min: NonNeg = 0.0


class Residents(_Model):
    count: Annotated[int, Field(ge=1, le=1_000_000)] = 2000
    spread: Share = 0.95


class Cancellation(_Model):
    change_of_mind: Share = 0.02
    change_of_mind_within_min: Positive = 10.0
    patience_min: Positive = 20.0
    impatient: Share = 0.5


class Orders(_Model):
    base_per_hour: NonNeg
    peaks: list[Peak] = []
    elasticity: NonNeg = 0.8
    priority_mix: dict[Tier, NonNeg] = {"standard": 1.0}
    double_size_share: Share = 0.05
    cancellation: Cancellation = Cancellation()

    @model_validator(mode="after")
    def _mix(self) -> Orders:
        if sum(self.priority_mix.values()) <= 0:
            raise ValueError("priority_mix: shares must add up to more than 0")
        return self


class SkillDemand(_Model):
    skill: Skill
    share: NonNeg
    duration_min: Positive
    duration_cv: NonNeg = 0.25


class Jobs(_Model):
    base_per_hour: NonNeg = 0.0
    peaks: list[Peak] = []
    skills: list[SkillDemand] = []
    booked_share: Share = 0.5
    book_ahead_min: Annotated[list[NonNeg], Field(min_length=2, max_length=2)] = [60.0, 240.0]
    window_min: Positive = 120.0
    emergencies_per_hour: NonNeg = 0.0
    emergency_skills: list[Skill] = ["plumbing", "repair"]
    emergency_duration_min: Positive = 45.0
    min_rating_share: Share = 0.0
    min_rating: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] = 4.5
    elasticity: NonNeg = 0.4
    cancel_share: Share = 0.03

    @model_validator(mode="after")
    def _check(self) -> Jobs:
        if self.book_ahead_min[1] < self.book_ahead_min[0]:
            raise ValueError("book_ahead_min: the maximum is below the minimum")
        if self.base_per_hour > 0 and sum(s.share for s in self.skills) <= 0:
            raise ValueError("skills: job demand needs at least one skill with a positive share")
        if self.emergencies_per_hour > 0 and not self.emergency_skills:
            raise ValueError("emergency_skills: emergencies need at least one skill")
        return self


class _Shift(_Model):
    count: Annotated[int, Field(ge=0, le=100_000)]
    start_h: NonNeg = 0.0
    end_h: Positive = 24.0

    @model_validator(mode="after")
    def _order(self) -> _Shift:
        if self.end_h <= self.start_h:
            raise ValueError("end_h must come after start_h")
        return self


class CourierShift(_Shift):
    vehicles: dict[VehicleName, NonNeg] = {"bicycle": 1.0}
    capacity: Annotated[int, Field(ge=1, le=50)] = 3

    @model_validator(mode="after")
    def _mix(self) -> CourierShift:
        if sum(self.vehicles.values()) <= 0:
            raise ValueError("vehicles: shares must add up to more than 0")
        return self


class TechnicianShift(_Shift):
    skills: Annotated[list[Skill], Field(min_length=1)]
    vehicle: VehicleName = "scooter"
    rating: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] = 4.8


class EconomicsConfig(_Model):
    """How couriers are paid from delivery fees (for the earnings KPI)."""

    courier_fee_share: Share = 0.8
    courier_per_delivery: NonNeg = 2.0


class SimulationConfig(_Model):
    """How the simulator drives the engine (knobs no engine setting covers)."""

    tick_when_idle: bool = False


class Scenario(_Model):
    """One simulated day of one community."""

    name: str = "scenario"
    description: str = ""
    hours: Annotated[float, Field(gt=0, le=48, allow_inf_nan=False)] = 8.0
    start_hour: Hour = 11.0
    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] = "2026-03-02"
    utc_offset_min: Annotated[int, Field(ge=-720, le=840)] = 480
    drain_min: NonNeg = 45.0
    position_interval_s: Annotated[float, Field(ge=1, le=60, allow_inf_nan=False)] = 10.0
    idle_return_m: NonNeg = 0.0
    sample_interval_min: Annotated[float, Field(ge=1, le=120, allow_inf_nan=False)] = 5.0
    community: CommunityConfig = CommunityConfig()
    merchants: Annotated[list[MerchantGroup], Field(min_length=1)]
    residents: Residents = Residents()
    orders: Orders
    jobs: Jobs = Jobs()
    couriers: list[CourierShift] = []
    technicians: list[TechnicianShift] = []
    engine: Annotated[EngineSettings, table()] = EngineSettings()
    solver: Annotated[RoutingParams, table()] = RoutingParams()
    simulation: SimulationConfig = SimulationConfig()
    economics: EconomicsConfig = EconomicsConfig()

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if sum(g.share for g in self.merchants) <= 0:
            raise ValueError("merchants: shares must add up to more than 0")
        if self.jobs.base_per_hour + self.jobs.emergencies_per_hour > 0:
            needed = {s.skill for s in self.jobs.skills if s.share > 0}
            if self.jobs.emergencies_per_hour > 0:
                needed |= set(self.jobs.emergency_skills)
            offered = {s for t in self.technicians if t.count > 0 for s in t.skills}
            missing = sorted(needed - offered)
            if missing:
                raise ValueError(f"technicians: nobody has the skills {missing} that jobs need")
        return self

    def with_hours(self, hours: float) -> Scenario:
        """The same scenario with another demand horizon (validated)."""
        data = self.model_dump()
        data["hours"] = hours
        return parse_scenario(data, source=f"{self.name} (hours={hours:g})")


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _moved(old: Any) -> list[str]:
    """Errors for an old ``[dispatch]`` table, saying where each key went."""
    keys = old if isinstance(old, Mapping) else {}
    out = [f"dispatch.{k}: moved to [{MOVED[k]}]" for k in keys if k in MOVED]
    out += [f"dispatch.{k}: unknown field" for k in keys if k not in MOVED]
    return out or ["dispatch: the table was split into [engine], [solver] and [simulation]"]


def parse_scenario(data: Mapping[str, Any], source: str = "<data>") -> Scenario:
    """Validate scenario data; every problem is reported with its field path."""
    data = dict(data)
    errors = _moved(data.pop("dispatch")) if "dispatch" in data else []
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            errors.append(f"{_loc(err['loc'])}: {msg}")
    else:
        if not errors:
            return scenario
    raise ScenarioError(source, errors)


def available_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``simulations/sim/scenarios``."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def resolve_scenario(ref: str | Path) -> Path:
    """A shipped scenario name or a file path → the file to read."""
    path = Path(ref)
    if path.suffix == ".toml" or path.exists() or "/" in str(ref):
        if not path.is_file():
            raise ScenarioError(str(ref), ["file not found"])
        return path
    shipped = SCENARIO_DIR / f"{ref}.toml"
    if not shipped.is_file():
        names = ", ".join(available_scenarios()) or "none"
        raise ScenarioError(str(ref), [f"no such scenario; shipped scenarios: {names}"])
    return shipped


def load_scenario(ref: str | Path) -> Scenario:
    """Read and validate a scenario by name or path."""
    path = resolve_scenario(ref)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), [f"not valid TOML: {exc}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), [f"cannot read: {exc}"]) from None
    return parse_scenario(data, source=str(path))
