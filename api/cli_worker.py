"""`dispatch worker`: run tick workers on the shared Redis store, and nothing else."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Annotated

import typer


def worker(
    redis_url: Annotated[
        str | None, typer.Option(help="Redis URL of the shared store (DISPATCH_REDIS_URL).")
    ] = None,
    redis_cluster: Annotated[
        bool, typer.Option(help="--redis-url names a node of a Redis Cluster.")
    ] = False,
    prefix: Annotated[
        str | None, typer.Option(help="Key prefix of the store (DISPATCH_REDIS_PREFIX).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="This worker's name (default: host and a random suffix).")
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Ticks this worker runs at once.")
    ] = 1,
    cores: Annotated[
        int | None,
        typer.Option(min=1, max=256, help="Cores for solving (default: all this process may use)."),
    ] = None,
    poll_s: Annotated[
        float, typer.Option(min=0.01, max=60.0, help="Pause between steps when idle.")
    ] = 0.5,
    reclaim_idle_s: Annotated[
        float | None,
        typer.Option(min=0.1, help="Hand a silent worker's tick to another after this long."),
    ] = None,
    health_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve /healthz, /readyz and /metrics here."),
    ] = None,
    settings_file: Annotated[
        Path | None, typer.Option("--settings", help="TOML settings file.")
    ] = None,
) -> None:
    """Run tick workers: due ticks come from a Redis Streams consumer group on the store."""
    from pydantic import ValidationError

    from api.logging import configure
    from api.settings import SETTINGS_FILE_ENV, ApiSettings, explain
    from api.worker_service import available_cores, run_worker

    os.environ["DISPATCH_STORE"] = "redis"
    if redis_url:
        os.environ["DISPATCH_REDIS_URL"] = redis_url
    if redis_cluster:
        os.environ["DISPATCH_REDIS_CLUSTER"] = "true"
    if prefix:
        os.environ["DISPATCH_REDIS_PREFIX"] = prefix
    if reclaim_idle_s is not None:
        os.environ["DISPATCH_TICK_RECLAIM_IDLE_S"] = repr(reclaim_idle_s)
    if settings_file is not None:
        os.environ[SETTINGS_FILE_ENV] = str(settings_file)
    try:
        cfg = ApiSettings()
    except ValidationError as exc:
        typer.secho(f"dispatch worker: invalid settings\n{explain(exc)}", err=True, fg="red")
        raise typer.Exit(2) from exc
    configure(cfg.log_level)
    run_worker(
        cfg,
        name=name or cfg.instance_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}",
        concurrency=concurrency,
        cores=cores or available_cores(),
        poll_s=poll_s,
        health_port=health_port,
    )
