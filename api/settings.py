"""Server settings: the one place that reads ``DISPATCH_*`` variables and the settings file.

One settings story: the engine's and the solver's validated dataclasses are
nested here, so ``DISPATCH_ENGINE__CHURN_PENALTY=60`` or
``DISPATCH_SOLVER__METAHEURISTIC=tabu`` reach the engine a server builds.
Sources, strongest first: keyword arguments, environment variables, then the
TOML file named by ``DISPATCH_SETTINGS_FILE`` (top-level keys, ``[engine]`` and
``[solver]`` tables). A nested value set in one place keeps the server's
defaults for the rest. Anything invalid fails ``ApiSettings()`` with a
``ValidationError``; ``explain`` words it for people.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, FilePath, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from dispatch.ops import AlertThresholds
from dispatch.policies import POLICIES
from dispatch.settings import EngineSettings
from solver import RoutingParams

ENV_PREFIX = "DISPATCH_"
SETTINGS_FILE_ENV = f"{ENV_PREFIX}SETTINGS_FILE"
TILE_PARTS = ("{z}", "{x}", "{y}")


class ApiSettings(BaseSettings):
    """Everything a server needs: its doors, its store, and the engine it builds.

    ``api_keys``: ``key=role[+role][@worker|worker],...``; ``api_keys_file``: the same,
    one entry per line. ``tick_enabled=False`` leaves dispatching to
    ``POST /v1/communities/{id}/dispatch`` (tests drive ticks that way).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_parse_none_str="null",
        extra="ignore",
    )

    host: str = Field(default="127.0.0.1", description="Address to bind.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to bind.")
    store: Literal["memory", "redis"] = Field(default="memory", description="State store.")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis URL.")
    redis_prefix: str = Field(
        default="dispatch", min_length=1, max_length=64, description="Prefix of Redis keys."
    )
    redis_cluster: bool = Field(default=False, description="redis_url names a Cluster node.")
    api_keys: str = Field(default="", repr=False, description="key=role[+role][@worker],...")
    api_keys_file: Path | None = Field(default=None, description="api_keys, one per line.")
    body_limit_bytes: int = Field(default=1_048_576, gt=0, description="Largest request body.")
    ws_max_frame_bytes: int = Field(default=65_536, gt=0, description="Largest WebSocket frame.")
    tick_enabled: bool = Field(default=True, description="Tick communities in the background.")
    tick_poll_s: float = Field(
        default=1.0, gt=0, allow_inf_nan=False, description="How often due ticks are looked for."
    )
    events_max_wait_s: float = Field(
        default=30.0, ge=0, allow_inf_nan=False, description="Longest event long poll."
    )
    feed_recheck_s: float = Field(
        default=1.0, gt=0, allow_inf_nan=False, description="Recheck period of feeds."
    )
    # ---- limits and the edge (README: Rate limits, Event retention) ----
    rate_limits: str = Field(
        default="",
        description="Per-key limits by role over the defaults: role=N/unit,... (role=none: none).",
    )
    auth_failure_limit: str = Field(
        default="30/minute", description="Failed authentications allowed per client address."
    )
    max_waits_per_key: int = Field(
        default=10, ge=1, le=10_000, description="Concurrent event long polls per key."
    )
    max_streams_per_key: int = Field(
        default=500, ge=1, le=100_000, description="Concurrent WebSocket streams per key."
    )
    events_retention_s: float = Field(
        default=7 * 86400.0, gt=0, allow_inf_nan=False, description="Events older are trimmed."
    )
    events_retention_count: int = Field(
        default=1_000_000, ge=100, description="Most events kept; older ones are trimmed."
    )
    maintenance_every_s: float = Field(
        default=30.0, gt=0, allow_inf_nan=False, description="How often retention is applied."
    )
    protect_ops_endpoints: bool = Field(
        default=False, description="/docs, /openapi.json and /metrics need an ops key."
    )
    header_timeout_s: float = Field(
        default=10.0, gt=0, allow_inf_nan=False, description="Time to send a request's headers."
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, allow_inf_nan=False, description="Time to send a request's body."
    )
    keep_alive_s: int = Field(default=5, ge=1, le=300, description="Idle keep-alive timeout.")
    rules_body_limit_bytes: int = Field(
        default=1_048_576, gt=0, description="Largest surge rule set body (PUT, preview)."
    )
    max_header_bytes: int = Field(
        default=16_384, ge=1024, le=1_048_576, description="Largest request line and headers."
    )
    with_worker: bool = Field(
        default=False,
        description="With the Redis store, also run a tick worker in this process "
        "(the memory store always ticks in-process).",
    )
    tick_concurrency: int = Field(
        default=1, ge=1, le=64, description="Ticks an in-process worker runs at once."
    )
    tick_reclaim_idle_s: float = Field(
        default=30.0,
        gt=0,
        allow_inf_nan=False,
        description="A tick held this long by a silent worker is handed to another.",
    )
    read_cache_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        allow_inf_nan=False,
        description="With a shared (Redis) store, requests reuse a community and the rules' "
        "version read this recently (0: read them on every request).",
    )
    stall_after_s: float = Field(
        default=30.0,
        gt=0,
        allow_inf_nan=False,
        description="Readiness fails when no dispatcher completed a step for this long.",
    )
    instance_id: str = Field(
        default="", max_length=64, description="This process's name as a dispatcher."
    )
    # ---- webhooks (README: Webhooks) ----
    webhooks_allow_private: bool = Field(
        default=False,
        description="Webhooks may target private, loopback and link-local addresses.",
    )
    webhooks_timeout_s: float = Field(
        default=10.0, gt=0, le=60, allow_inf_nan=False, description="Timeout of a webhook send."
    )
    webhooks_concurrency: int = Field(
        default=4, ge=1, le=64, description="Webhook sends a dispatcher runs at once."
    )
    # ---- the ops console (README: Ops console) ----
    ops_tile_url: str = Field(
        default="",
        max_length=500,
        description="Raster tiles drawn under the ops console's map: an http(s) URL template "
        "with {z}, {x} and {y} (empty: no basemap, the console works offline).",
    )
    alerts: AlertThresholds = Field(
        default=AlertThresholds(), description="When the ops console's alerts fire."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    settings_file: FilePath | None = Field(
        default=None,
        description="A TOML file of these settings (weaker than the environment).",
    )
    policy: str = Field(
        default="optimizer", description=f"Dispatch policy: one of {', '.join(POLICIES)}."
    )
    engine: EngineSettings = Field(default=EngineSettings(), description="Engine knobs.")
    solver: RoutingParams = Field(
        default=RoutingParams(use_vroom=False), description="Knobs of the optimiser's solver."
    )

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, name: str) -> str:
        if name not in POLICIES:
            raise ValueError(
                f"unknown dispatch policy {name!r}; expected one of {sorted(POLICIES)}"
            )
        return name

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, spec: str) -> str:
        from api.ratelimit import parse_rate_limits

        parse_rate_limits(spec)  # raises ValueError naming the bad entry
        return spec

    @field_validator("auth_failure_limit")
    @classmethod
    def _auth_failure_limit(cls, spec: str) -> str:
        import limits

        try:
            limits.parse(spec)
        except ValueError as exc:
            raise ValueError(f"{spec!r} is not a limit such as 30/minute") from exc
        return spec

    @field_validator("ops_tile_url")
    @classmethod
    def _tile_template(cls, url: str) -> str:
        if url and not (
            url.startswith(("http://", "https://")) and all(p in url for p in TILE_PARTS)
        ):
            raise ValueError("must be an http(s) URL template containing {z}, {x} and {y}")
        return url

    @field_validator("engine", "solver", "alerts", mode="before")
    @classmethod
    def _over_server_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        """Fields given as a mapping (environment, file) land on the server's default.

        Without this, ``DISPATCH_SOLVER__WORKERS=1`` alone would also bring back the
        dataclass's own defaults (``use_vroom=True``) instead of the server's.
        Unknown names are refused: a typo must not be ignored silently.
        """
        if not isinstance(value, dict):
            return value
        assert info.field_name is not None
        default = cls.model_fields[info.field_name].default
        known = {f.name for f in dataclasses.fields(default)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(
                f"unknown {info.field_name} setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return {**dataclasses.asdict(default), **value}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment, then the settings file if one is named."""
        sources = [init_settings, env_settings, dotenv_settings, file_secret_settings]
        named = getattr(init_settings, "init_kwargs", {}).get("settings_file") or os.environ.get(
            SETTINGS_FILE_ENV
        )
        if named:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(named)))
        return tuple(sources)


def explain(exc: ValidationError) -> str:
    """One line per refused setting, with the variable that sets it (values are not shown)."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        variable = ENV_PREFIX + "__".join(loc).upper()
        if loc and loc[0] in ("engine", "solver") and len(loc) == 1:
            variable += "__<FIELD>"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{'.'.join(loc) or 'settings'} ({variable}): {message}")
    return "\n".join(lines)
