"""/docs works offline and the OpenAPI document describes every field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.settings import ApiSettings
from tests.api.conftest import KEYS

pytestmark = pytest.mark.anyio


@pytest.fixture
def docs_app() -> FastAPI:
    return create_app(ApiSettings(api_keys=KEYS, tick_enabled=False))


async def test_docs_load_everything_from_this_server(docs_app: FastAPI) -> None:
    """The page names no other host; each file it loads answers 200 with its type."""
    transport = httpx.ASGITransport(docs_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        r = await c.get("/docs")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", r.text), r.text
        refs = re.findall(r'(?:href|src)="([^"]+)"', r.text)
        assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(refs)
        for ref in refs:
            asset = await c.get(ref)
            assert asset.status_code == 200, ref
            assert len(asset.content) > 500, ref
        assert "'/openapi.json'" in r.text
        assert (await c.get("/openapi.json")).status_code == 200
        assert (await c.get("/docs/oauth2-redirect")).status_code == 200
        assert (await c.get("/redoc")).status_code == 404  # it would need a CDN
        assert (await c.get("/docs/assets/index.html")).status_code == 404


def _properties(schema: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every property of a schema, nested ones included, with its path."""
    if isinstance(schema, dict):
        for name, prop in schema.get("properties", {}).items():
            yield f"{where}.{name}", prop
            yield from _properties(prop, f"{where}.{name}")
        for key in ("items", "additionalProperties"):
            yield from _properties(schema.get(key), f"{where}[]")
        for key in ("anyOf", "oneOf", "allOf"):
            for n, sub in enumerate(schema.get(key, [])):
                yield from _properties(sub, f"{where}<{n}>")


def test_every_schema_field_has_a_description(docs_app: FastAPI) -> None:
    """Walk the OpenAPI document: a property without a description fails, named."""
    spec = docs_app.openapi()
    schemas = spec["components"]["schemas"]
    assert len(schemas) > 30
    missing = [
        path
        for name, schema in schemas.items()
        for path, prop in _properties(schema, name)
        if not prop.get("description")
    ]
    assert not missing, f"schema fields without a description: {missing}"
    assert _properties({"properties": {"a": {}}}, "X").__next__()[0] == "X.a"


def test_operations_that_need_a_key_say_so_and_name_their_roles(docs_app: FastAPI) -> None:
    """The bearer scheme is declared; an operation needing a role carries it and names
    the roles; an open one (health) carries none."""
    schema = docs_app.openapi()
    scheme = schema["components"]["securitySchemes"]["ApiKey"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    create = schema["paths"]["/v1/orders"]["post"]
    assert create["security"] == [{"ApiKey": []}]
    assert create["description"].endswith("Roles: `order-service`.")
    cancel = schema["paths"]["/v1/orders/{order_id}/cancel"]["post"]
    assert cancel["description"].endswith("Roles: `ops`, `order-service`.")
    assert "security" not in schema["paths"]["/healthz"]["get"]
