"""Server settings: engine and solver knobs nested in them, from kwargs, env and a file."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.app import create_app
from api.settings import ApiSettings, explain
from dispatch import EngineSettings, ManualClock
from dispatch.policies import POLICIES
from solver import RoutingParams

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DISPATCH_* variable of the calling shell leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("DISPATCH_"):
            monkeypatch.delenv(name)


def test_defaults_keep_what_the_engine_used() -> None:
    """The optimiser policy, the engine's defaults, and the solver without VROOM."""
    s = ApiSettings()
    assert s.policy == "optimizer"
    assert s.engine == EngineSettings()
    assert s.solver == RoutingParams(use_vroom=False)


def test_nested_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """DISPATCH_ENGINE__X and DISPATCH_SOLVER__X set one knob; the rest keep server defaults."""
    monkeypatch.setenv("DISPATCH_ENGINE__CHURN_PENALTY", "60")
    monkeypatch.setenv("DISPATCH_ENGINE__PROMISE_BUFFER_S", "null")
    monkeypatch.setenv("DISPATCH_SOLVER__METAHEURISTIC", "greedy_descent")
    monkeypatch.setenv("DISPATCH_POLICY", "nearest-idle")
    s = ApiSettings()
    assert s.engine == EngineSettings(churn_penalty=60, promise_buffer_s=None)
    assert s.solver == RoutingParams(metaheuristic="greedy_descent", use_vroom=False)
    assert s.policy == "nearest-idle"


def test_nested_settings_from_keywords() -> None:
    """Keywords take dataclasses or mappings; a mapping lands on the server defaults."""
    s = ApiSettings(engine=EngineSettings(churn_penalty=5), solver={"workers": 1})
    assert s.engine.churn_penalty == 5
    assert s.solver == RoutingParams(use_vroom=False, workers=1)


def test_keywords_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """As for every other setting, a keyword beats the variable."""
    monkeypatch.setenv("DISPATCH_POLICY", "nearest-idle")
    assert ApiSettings(policy="regret-insertion").policy == "regret-insertion"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "DISPATCH_ENGINE__CHURN_PENALTY",
            "-1",
            "engine (DISPATCH_ENGINE__<FIELD>): churn_penalty must be non-negative",
        ),
        (
            "DISPATCH_ENGINE__CHURN_PENALTY",
            "lots",
            "engine.churn_penalty (DISPATCH_ENGINE__CHURN_PENALTY): Input should be a valid int",
        ),
        (
            "DISPATCH_ENGINE__CHURN_PENATLY",
            "60",
            "unknown engine setting(s) churn_penatly; known: at_risk_margin_s",
        ),
        ("DISPATCH_SOLVER__WORKERS", "0", "workers must lie in [1, 16]"),
        (
            "DISPATCH_SOLVER__METAHEURISTIC",
            "fast",
            "solver.metaheuristic (DISPATCH_SOLVER__METAHEURISTIC): Input should be 'gls'",
        ),
        (
            "DISPATCH_POLICY",
            "fastest",
            "policy (DISPATCH_POLICY): unknown dispatch policy 'fastest'; expected one of",
        ),
        ("DISPATCH_SETTINGS_FILE", "/nonexistent/dispatch.toml", "settings_file"),
    ],
)
def test_invalid_settings_are_refused_clearly(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    """A bad value fails ApiSettings(); explain() names the setting, its variable and why."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        ApiSettings()
    assert message in explain(caught.value)


def test_every_policy_of_the_registry_is_accepted() -> None:
    """The policy names are the registry's, nothing else."""
    for name in POLICIES:
        assert ApiSettings(policy=name).policy == name


def test_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A TOML file sets top-level and nested settings; the environment wins over it."""
    path = tmp_path / "dispatch.toml"
    path.write_text(
        'policy = "regret-insertion"\nport = 9000\n'
        "[engine]\nchurn_penalty = 30\nmax_batch = 100\n"
        '[solver]\nmetaheuristic = "tabu"\n'
    )
    monkeypatch.setenv("DISPATCH_SETTINGS_FILE", str(path))
    monkeypatch.setenv("DISPATCH_ENGINE__MAX_BATCH", "200")
    s = ApiSettings()
    assert (s.policy, s.port) == ("regret-insertion", 9000)
    assert s.engine == EngineSettings(churn_penalty=30, max_batch=200)
    assert s.solver == RoutingParams(metaheuristic="tabu", use_vroom=False)
    monkeypatch.delenv("DISPATCH_SETTINGS_FILE")
    assert ApiSettings(settings_file=path).engine.churn_penalty == 30


def test_invalid_values_in_the_settings_file(tmp_path: Path) -> None:
    """The file is validated like the environment."""
    path = tmp_path / "dispatch.toml"
    path.write_text("[engine]\nlease_ttl_s = 0\n")
    with pytest.raises(ValidationError) as caught:
        ApiSettings(settings_file=path)
    assert "lease_ttl_s must be a positive finite number" in explain(caught.value)


@pytest.mark.anyio
async def test_the_app_builds_its_engine_from_the_settings() -> None:
    """The lifespan's engine gets the nested engine settings and the named policy."""
    cfg = ApiSettings(
        tick_enabled=False, policy="nearest-idle", engine=EngineSettings(churn_penalty=60)
    )
    app = create_app(cfg, clock=ManualClock())
    async with app.router.lifespan_context(app):
        assert app.state.engine.settings.churn_penalty == 60
        assert app.state.engine.policy.name == "nearest-idle"


@pytest.mark.anyio
async def test_the_optimizer_gets_the_solver_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """DISPATCH_SOLVER__* reach the optimiser policy the server runs."""
    monkeypatch.setenv("DISPATCH_SOLVER__METAHEURISTIC", "tabu")
    monkeypatch.setenv("DISPATCH_TICK_ENABLED", "false")
    app = create_app(clock=ManualClock())
    async with app.router.lifespan_context(app):
        policy = app.state.engine.policy
        assert policy.name == "optimizer"
        assert policy.params == RoutingParams(metaheuristic="tabu", use_vroom=False)


def _http_api_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## HTTP API")
    end = text.index("\n## ", start + 1)
    return text[start:end]


@pytest.mark.parametrize(("prefix", "cls"), [("ENGINE", EngineSettings), ("SOLVER", RoutingParams)])
def test_readme_documents_every_nested_setting(prefix: str, cls: type) -> None:
    """Each engine and solver knob is listed under the README's HTTP API section."""
    section = _http_api_section()
    assert f"DISPATCH_{prefix}__" in section
    for f in dataclasses.fields(cls):
        assert re.search(rf"`{f.name}`", section), f"{prefix.lower()}.{f.name} is not in README"
