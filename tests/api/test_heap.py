"""A serving app freezes what start-up made out of the collector's sight, and undoes it."""

from __future__ import annotations

import gc

from api.app import create_app
from api.heap import YOUNG_THRESHOLD
from counter.clock import FakeClock
from counter.settings import Settings


async def test_the_start_up_heap_is_frozen_while_the_app_serves_and_released_after(
    settings: Settings, clock: FakeClock
) -> None:
    before = gc.get_threshold()
    app = create_app(settings, clock)
    async with app.fastapi.router.lifespan_context(app.fastapi):
        # The bot patterns and the app itself are among what is frozen: tens of thousands.
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
