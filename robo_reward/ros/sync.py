"""Approximate-time synchronisation of several streams (message_filters is not on PyPI): a set is
emitted when every stream has a message within `slop` seconds of the others; older messages are
dropped. Deterministic and clock-free, so it is unit-tested without ROS."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Synced:
    stamp: float  # the newest stamp in the set
    items: dict[str, Any]
    spread: float  # newest - oldest stamp


class ApproximateTimeSync:
    def __init__(self, streams: Sequence[str], slop: float, queue: int = 10) -> None:
        if slop < 0:
            raise ValueError("slop must be >= 0")
        self.streams = tuple(streams)
        self.slop = slop
        self.queues: dict[str, deque] = {s: deque(maxlen=queue) for s in self.streams}
        self.last_emitted = float("-inf")

    def add(self, stream: str, stamp: float, item: Any) -> Synced | None:
        """Add a message; return a synchronised set if this message completes one."""
        if stream not in self.queues:
            raise KeyError(f"unknown stream {stream!r} (streams: {list(self.streams)})")
        if stamp <= self.last_emitted:
            return None  # older than a set already emitted
        self.queues[stream].append((stamp, item))
        if any(not q for q in self.queues.values()):
            return None
        # pivot on the new message: for each other stream take the closest message in time
        chosen = {stream: (stamp, item)}
        for s, q in self.queues.items():
            if s != stream:
                chosen[s] = min(q, key=lambda m: abs(m[0] - stamp))
        stamps = [m[0] for m in chosen.values()]
        if max(stamps) - min(stamps) > self.slop:
            return None
        newest = max(stamps)
        self.last_emitted = newest
        for s, q in self.queues.items():  # drop everything up to the emitted set
            while q and q[0][0] <= chosen[s][0]:
                q.popleft()
        return Synced(newest, {s: m[1] for s, m in chosen.items()}, max(stamps) - min(stamps))
