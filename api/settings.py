"""API settings from flags and ``DISPATCH_*`` environment variables (the only place env is read)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Everything the HTTP layer needs to build its engine and guard its doors.

    ``api_keys``: ``key=role[+role][@worker|worker],...``; ``api_keys_file``: the same,
    one entry per line. ``tick_enabled=False`` leaves dispatching to
    ``POST /v1/communities/{id}/dispatch`` (tests drive ticks that way).
    """

    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    store: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = Field(default="dispatch", min_length=1, max_length=64)
    redis_cluster: bool = False
    api_keys: str = Field(default="", repr=False)
    api_keys_file: Path | None = None
    body_limit_bytes: int = Field(default=1_048_576, gt=0)
    ws_max_frame_bytes: int = Field(default=65_536, gt=0)
    tick_enabled: bool = True
    tick_poll_s: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    events_max_wait_s: float = Field(default=30.0, ge=0, allow_inf_nan=False)
    feed_recheck_s: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    instance_id: str = Field(default="", max_length=64)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
