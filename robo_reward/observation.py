"""What a policy reads: the robot state (joint velocities left out unless asked), then the simulator's
object state (privileged: sim only) and/or the reward model's features. One pipeline for `rl`, `bc`
and a deployed policy, so a policy reads in deployment exactly what it was trained on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robo_reward.types import TimeStep

OBSERVATIONS = ("privileged", "state+grm", "privileged+grm")  # what the policy reads beside the robot state


def reads_privileged(obs: str) -> bool:
    """Simulator object state: sim only, never on a real arm."""
    return obs.startswith("privileged")


def reads_grm(obs: str) -> bool:
    """The frozen GRM encoder's features of the current views (needs the model run every step)."""
    return obs.endswith("+grm")


@dataclass(frozen=True)
class ObservationPipeline:
    """`mode` is one of OBSERVATIONS; `keep` the robot-state entries read (None: all)."""

    mode: str
    keep: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.mode not in OBSERVATIONS:
            raise ValueError(f"--obs must be one of {OBSERVATIONS}, got {self.mode!r}")

    def __call__(self, ts: TimeStep, features: np.ndarray) -> np.ndarray:
        """The policy's input at `ts`; `features` are the reward model's for the same state."""
        if reads_privileged(self.mode) and ts.info.privileged is None:
            raise ValueError(f"--obs {self.mode} reads the simulator's object state; this environment reports none "
                             "(a robot: use --obs state+grm)")
        return self.assemble(ts.obs.state, ts.info.privileged, features)

    def assemble(self, state: np.ndarray, privileged: np.ndarray | None, features: np.ndarray) -> np.ndarray:
        """The policy input from its parts: one frame's, or a recorded episode's frames stacked ([T, ...]: `bc`
        builds its training data so)."""
        state = state if self.keep is None else state[..., self.keep]
        parts = [state] + ([privileged] if reads_privileged(self.mode) else []) + ([features] if reads_grm(self.mode) else [])
        return np.concatenate(parts, axis=-1).astype(np.float32)
