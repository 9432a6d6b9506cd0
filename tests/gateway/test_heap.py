"""Start-up objects are frozen, so a full collection no longer walks LiteLLM's ~700,000 of them."""

import gc
import weakref

from gateway import heap


def test_objects_alive_at_startup_leave_the_collected_generations():
    before = gc.get_freeze_count()
    startup_state = [[n] for n in range(10_000)]
    heap.freeze_startup_objects()
    try:
        assert gc.get_freeze_count() >= before + 10_000
        assert not any(obj is startup_state for obj in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()


def test_startup_garbage_is_collected_before_the_freeze():
    class Cycle:
        pass

    a, b = Cycle(), Cycle()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    heap.freeze_startup_objects()
    try:
        assert gone() is None  # freed, not kept forever in the permanent generation
    finally:
        gc.unfreeze()
