"""The cyclic garbage collector as a test's load wants it, and as it was again after: what lives for
the whole test kept out of its passes, and young passes rarer. The load session settles it when a
test starts and restores it when the test stops; the instruction count's driver
(bench/instructions.py) settles it the same way."""

from __future__ import annotations

import gc

# The collector's first threshold during a test: the load makes hundreds of thousands of objects a
# second that reference counting frees, and at the default 700 a young pass ran every few hundred
# microseconds, about 4 us of CPU per invocation in all (docs/speed.md)
LOAD_GC_THRESHOLDS = (50_000, 10, 10)


def settle_for_load(kept: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    """Everything alive now (Locust, botocore, the clients) lives for the whole test: frozen, out of
    the full passes that otherwise stall the loop for ~170 ms each; the load's thresholds set.
    Returns the thresholds to restore after the test: those set now, or `kept` when those are the
    load's own already (a test started before the last one's were restored)."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*LOAD_GC_THRESHOLDS)
    return kept if kept is not None and before == LOAD_GC_THRESHOLDS else before


def restore_after_load(thresholds: tuple[int, int, int]) -> None:
    """The collector as before the test (for the results, a web UI's next test): unfrozen, as
    extensions may rely on collection at exit, with `thresholds`."""
    gc.unfreeze()
    gc.set_threshold(*thresholds)
