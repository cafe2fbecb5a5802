"""Progress bars of the request loop: one per task, with its counts, rate and time left.

A bar starts at what the cache already held, so its count and ETA are about the requests still
to send. Where more tasks are asked at once than bars fit a terminal (the whole Jaster suite), one
bar counts them all and names the task that last moved. Bars go to stderr and are off with `-q`
or when stderr is not a terminal that tqdm can redraw (tqdm decides).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tqdm import tqdm

MAX_BARS = 6


class TaskBars:
    def __init__(self, totals: Mapping[str, int], done: Mapping[str, int], desc: str, enabled: bool = True):
        self._bars: dict[str, tqdm[Any]] = {}
        self._all: tqdm[Any] | None = None
        asked = [t for t in totals if totals[t] > done.get(t, 0)]
        if not enabled or not asked:
            return
        if len(asked) <= MAX_BARS:
            width = max(len(t) for t in asked)
            for position, task in enumerate(asked):
                named = f"{desc} {task:<{width}}" if width else desc
                self._bars[task] = tqdm(total=totals[task], initial=done.get(task, 0), position=position,
                                        desc=named, unit="req", leave=False, dynamic_ncols=True)
        else:
            self._all = tqdm(total=sum(totals.values()), initial=sum(done.values()), unit="req", leave=False,
                             desc=f"{desc} ({len(asked)} tasks)", dynamic_ncols=True)

    def advance(self, task: str, n: int = 1) -> None:
        if task in self._bars:
            self._bars[task].update(n)
        elif self._all is not None:
            self._all.update(n)
            self._all.set_postfix_str(task, refresh=False)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        if self._all is not None:
            self._all.close()
