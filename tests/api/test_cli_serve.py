"""`dispatch serve` refuses unsafe or impossible setups before starting a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.cli_serve import is_loopback

ENV = (
    "DISPATCH_STORE",
    "DISPATCH_HOST",
    "DISPATCH_PORT",
    "DISPATCH_REDIS_URL",
    "DISPATCH_REDIS_CLUSTER",
    "DISPATCH_SETTINGS_FILE",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """serve passes flags on through DISPATCH_* variables: restore them afterwards."""
    for name in (*ENV, "DISPATCH_API_KEYS", "DISPATCH_API_KEYS_FILE"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    """Only loopback addresses (and the name localhost) count as private."""
    assert is_loopback(host) is loopback


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "refusing to serve on 0.0.0.0"),
        (["--store", "sqlite"], "memory or redis"),
        (["--workers", "2"], "several workers need --store redis"),
    ],
)
def test_serve_refuses(args: list[str], message: str) -> None:
    """No keys on a public host, unknown stores and shared-nothing workers are usage errors."""
    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


@pytest.mark.usefixtures("clean_env")
def test_serve_refuses_malformed_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in DISPATCH_API_KEYS stops serve instead of running open."""
    monkeypatch.setenv("DISPATCH_API_KEYS", "k=superuser")
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "unknown roles" in " ".join(result.output.split())


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DISPATCH_ENGINE__CHURN_PENALTY", "-1", "churn_penalty must be non-negative"),
        ("DISPATCH_POLICY", "fastest", "unknown dispatch policy 'fastest'"),
        ("DISPATCH_SOLVER__WORKERS", "99", "workers must lie in [1, 16]"),
    ],
)
def test_serve_refuses_invalid_settings(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    """A bad engine, solver or policy setting stops serve with a message, not a traceback."""
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "invalid settings" in output and message in output and "Traceback" not in output


@pytest.mark.usefixtures("clean_env")
def test_serve_refuses_a_missing_settings_file(tmp_path: Path) -> None:
    """--settings names a file that must exist."""
    result = CliRunner().invoke(app, ["serve", "--settings", str(tmp_path / "none.toml")])
    assert result.exit_code == 2
    assert "settings_file (DISPATCH_SETTINGS_FILE)" in " ".join(result.output.split())
