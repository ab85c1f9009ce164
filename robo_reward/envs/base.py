"""The environment protocol the RL loop, recorders and evaluators program against."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from robo_reward.types import EnvSpec, TimeStep


@runtime_checkable
class Env(Protocol):
    """A robot task. Never auto-resets: after `terminated` or `truncated` the caller calls `reset`,
    so the terminal observation is always seen."""

    spec: EnvSpec

    def reset(self, seed: int | None = None) -> TimeStep: ...

    def step(self, action: np.ndarray) -> TimeStep: ...

    def close(self) -> None: ...


class ScriptedExpert(Protocol):
    """A scripted policy with privileged access to its environment; `mode` names how it behaves
    (expert, or one of the task's failure modes)."""

    mode: str

    def act(self, ts: TimeStep) -> np.ndarray: ...
