"""`dispatch serve`: the API under uvicorn, with settings from flags, env and a file.

Flags win over the environment, which wins over the settings file. Flags are
passed on through ``DISPATCH_*`` variables because uvicorn builds the app
(``create_app``) in each worker process. Invalid settings stop serve before
it starts, with one line per problem. Without API keys the server runs open
only on a loopback host.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

from api.auth import load_keys


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = 8000,
    store: Annotated[str, typer.Option(help="State store: memory or redis.")] = "memory",
    redis_url: Annotated[str | None, typer.Option(help="Redis URL for --store redis.")] = None,
    redis_cluster: Annotated[
        bool, typer.Option(help="--redis-url names a node of a Redis Cluster.")
    ] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes.")] = 1,
    with_worker: Annotated[
        bool,
        typer.Option(
            help="With --store redis, also run a tick worker in this process "
            "(the memory store always ticks in-process)."
        ),
    ] = False,
    settings_file: Annotated[
        Path | None,
        typer.Option(
            "--settings",
            help="TOML settings file (DISPATCH_SETTINGS_FILE); the environment wins over it.",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (open without API keys only on a loopback host)."""
    import uvicorn
    from pydantic import ValidationError

    from api.edge_protocol import HEADER_TIMEOUT_ENV
    from api.logging import configure
    from api.settings import SETTINGS_FILE_ENV, ApiSettings, explain

    if store not in ("memory", "redis"):
        raise typer.BadParameter("--store must be memory or redis")
    if workers > 1 and store == "memory":
        raise typer.BadParameter("several workers need --store redis (they share state there)")
    os.environ["DISPATCH_STORE"] = store
    os.environ["DISPATCH_HOST"] = host
    os.environ["DISPATCH_PORT"] = str(port)
    if redis_url:
        os.environ["DISPATCH_REDIS_URL"] = redis_url
    if redis_cluster:
        os.environ["DISPATCH_REDIS_CLUSTER"] = "true"
    if settings_file is not None:
        os.environ[SETTINGS_FILE_ENV] = str(settings_file)
    if with_worker:
        os.environ["DISPATCH_WITH_WORKER"] = "true"
    if (store == "memory" or with_worker) and "DISPATCH_SOLVER__WORKERS" not in os.environ:
        # Ticks share this box with HTTP: leave serving a core where there are several.
        from api.worker_service import available_cores, solver_processes

        spare = max(1, available_cores() - 1)
        os.environ["DISPATCH_SOLVER__WORKERS"] = str(solver_processes(spare, 1))
    try:
        settings = ApiSettings()
        keys = load_keys(settings.api_keys, settings.api_keys_file)
    except ValidationError as exc:
        typer.secho(f"dispatch serve: invalid settings\n{explain(exc)}", err=True, fg="red")
        raise typer.Exit(2) from exc
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(f"bad settings: {exc}") from exc
    if not keys:
        if not is_loopback(host):
            raise typer.BadParameter(
                f"no API keys configured: refusing to serve on {host}; set DISPATCH_API_KEYS "
                "(or DISPATCH_API_KEYS_FILE), or bind to 127.0.0.1"
            )
        typer.secho(
            "WARNING: no API keys configured; the API is OPEN to anyone on this machine",
            fg=typer.colors.RED,
            bold=True,
            err=True,
        )
    configure(settings.log_level)
    os.environ[HEADER_TIMEOUT_ENV] = repr(settings.header_timeout_s)  # read by each worker
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ws_max_size=settings.ws_max_frame_bytes,
        # The edge: a header timeout and problem+json refusals below the app
        # (api.edge_protocol), keep-alive and head-size limits; bodies are timed by the app.
        http="api.edge_protocol:EdgeProtocol",
        timeout_keep_alive=settings.keep_alive_s,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        log_config=None,
        access_log=False,
        log_level=settings.log_level.lower(),
    )
