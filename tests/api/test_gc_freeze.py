"""A server freezes what its start-up made, so the collector's full passes stay short."""

from __future__ import annotations

import gc

import pytest

from api.app import create_app
from api.settings import ApiSettings
from tests.api.conftest import make_engine

pytestmark = pytest.mark.anyio


async def test_a_server_building_its_own_engine_freezes_its_start_up_objects() -> None:
    gc.unfreeze()
    try:
        app = create_app(ApiSettings(tick_enabled=False, store="memory"))
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


async def test_an_app_handed_an_engine_leaves_the_collector_alone() -> None:
    """Tests build many apps in one process: a full collection for each would be waste."""
    from dispatch import ManualClock, MemoryStore

    gc.unfreeze()
    app = create_app(
        ApiSettings(tick_enabled=False), engine=make_engine(MemoryStore(), ManualClock())
    )
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == 0
