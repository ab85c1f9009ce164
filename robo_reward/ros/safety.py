"""What stands between a policy and the motors: joint-limit and per-step clamps, and a watchdog
that says 'hold' when observations go stale."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from robo_reward.ros.profiles import HardwareProfile


@dataclass(frozen=True)
class Clamped:
    target: np.ndarray
    clamped: bool  # whether anything was changed


class SafetyFilter:
    def __init__(self, profile: HardwareProfile) -> None:
        self.p = profile

    def clamp(self, target: np.ndarray, current: np.ndarray) -> Clamped:
        """Bound a joint target to [current ± max_step] and to the joint limits. Non-finite or
        wrongly sized targets are refused (ValueError), never passed on."""
        target = np.asarray(target, dtype=np.float64)
        current = np.asarray(current, dtype=np.float64)
        if target.shape != (self.p.dof,) or current.shape != (self.p.dof,):
            raise ValueError(f"{self.p.name}: joint target has shape {target.shape}, the robot has {self.p.dof} joints")
        if not (np.all(np.isfinite(target)) and np.all(np.isfinite(current))):
            raise ValueError(f"{self.p.name}: non-finite joint target or state")
        out = np.clip(target, current - self.p.max_step, current + self.p.max_step)
        out = np.clip(out, self.p.lower, self.p.upper)
        return Clamped(out, bool(np.any(np.abs(out - target) > 1e-9)))


@dataclass
class Watchdog:
    """Tracks the last arrival time of each watched stream (seconds, any monotonic clock)."""

    streams: tuple[str, ...]
    stale_after_s: float
    last: dict[str, float] = field(default_factory=dict)

    def feed(self, stream: str, now: float) -> None:
        self.last[stream] = now

    def stale(self, now: float) -> list[str]:
        """Streams never seen or silent for longer than `stale_after_s`."""
        return [s for s in self.streams if s not in self.last or now - self.last[s] > self.stale_after_s]
