"""When CPython's cyclic garbage collector walks the whole heap in a `jeval run` process.

Starting a run imports lm-eval, torch and transformers and loads a model: close to a million
objects that live as long as the process. The collector's full collections walk all of them, again
and again while they are being created and once more at interpreter exit, and find next to nothing
(measured on a multiple-choice run on 2 cores: 7 full collections took 1.0 s and freed 375 objects,
exit took 1.2 s; the young-generation collections, which free the start-up's garbage, took 0.25 s).

So the program (never an in-process caller such as a test) defers full collections when a run
starts, young ones going on as usual; when the first answer comes back from the model (imports and
model loading are over; the per-request work that full collections are for begins) it moves what
exists out of the collector's sight (`gc.freeze`) and restores the thresholds; and before the
process exits it moves everything out of sight, so that exit does not walk the heap again.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

NEVER = 1 << 30
"""A third-generation threshold that young collections never reach."""


@dataclass
class Deferred:
    """Full collections deferred; `resume` (once, at the model's first answer) ends that."""

    thresholds: tuple[int, int, int]
    resumed: bool = False

    def resume(self) -> None:
        if not self.resumed:
            self.resumed = True
            gc.freeze()
            gc.set_threshold(*self.thresholds)


def defer_full_collections() -> Deferred:
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], NEVER)
    return Deferred(thresholds)


def spare_exit() -> None:
    gc.freeze()
