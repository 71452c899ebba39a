"""Process tuning: a started server's heap is exempt from garbage collection pauses."""

from __future__ import annotations

import gc

from core.runtime import freeze_startup_heap


def test_freezing_the_startup_heap_takes_existing_objects_out_of_collections() -> None:
    started_with = [object() for _ in range(1000)]
    gc.unfreeze()
    try:
        freeze_startup_heap()
        frozen = gc.get_freeze_count()
        assert frozen >= len(started_with)
        # A full collection now walks only what was allocated since, not the frozen objects.
        assert not any(obj is started_with for obj in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()
