"""The collector pause: off inside (nested too), on after, what the block made aged into the
oldest generation, and cycles made inside still collected."""

from __future__ import annotations

import gc
import weakref

from reconciler.gcpause import gc_paused, without_gc


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_paused_inside_nested_and_enabled_after() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block does not turn it back on
    assert gc.isenabled()


def test_decorator_pauses() -> None:
    @without_gc
    def inside() -> bool:
        return gc.isenabled()

    assert inside() is False
    assert gc.isenabled()


def test_what_the_block_made_is_in_the_oldest_generation() -> None:
    with gc_paused():
        made = [Node() for _ in range(1000)]
    young = {id(o) for o in gc.get_objects(generation=0)}
    assert not any(id(n) in young for n in made)
    assert any(n is made[0] for n in gc.get_objects(generation=2))


def test_a_cycle_made_inside_is_still_collected() -> None:
    with gc_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a
        ref = weakref.ref(a)
        del a, b
    assert ref() is not None  # reference counting alone cannot free a cycle
    gc.collect()
    assert ref() is None
