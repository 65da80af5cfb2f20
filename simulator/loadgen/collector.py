"""The cyclic garbage collector as a test's load wants it: what lives for the whole test kept out
of its passes, and young passes rarer. Set by the load session when a test starts; the instruction
count's driver (bench/instructions.py) sets it the same way."""

from __future__ import annotations

import gc

# The collector's first threshold during a test: the load makes hundreds of thousands of objects a
# second that reference counting frees, and at the default 700 a young pass ran every few hundred
# microseconds, about 4 us of CPU per invocation in all (docs/speed.md)
LOAD_GC_THRESHOLDS = (50_000, 10, 10)


def settle_for_load() -> tuple[int, int, int]:
    """Everything alive now (Locust, botocore, the clients) lives for the whole test: frozen, out of
    the full passes that otherwise stall the loop for ~170 ms each; the load's thresholds set.
    Returns the thresholds that were set before (the load's own if a test already set them)."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*LOAD_GC_THRESHOLDS)
    return before
