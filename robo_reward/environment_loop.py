"""One environment loop for everything that acts (Acme's shape): training, evaluation, demonstrations,
recording datasets, behaviour-cloned policies. A `Policy` chooses an `Action`, the `Env` steps, the
reward source reads the new state, and `Observer`s (a replay writer, a dataset recorder, video frames,
metrics) see each transition. Acting, stepping, the reward and the observers are timed apart."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from robo_reward.shaping import UNBOUNDED, ShapedReward
from robo_reward.types import EnvSpec, TimeStep

NOTHING_PAID = ShapedReward(0.0, 0.0, 0.0)
NO_FEATURES = np.zeros(0, np.float32)


POLICY, INTERVENTION, HOLD = "policy", "intervention", "hold"  # who chose an executed action


@dataclass(frozen=True)
class Action:
    """What a policy chose at one state (or, `by` says, a person who took over, or a hold on bad input)."""

    env: np.ndarray  # what the environment is stepped with, in its units
    unit: np.ndarray | None = None  # the policy's [-1, 1] action: what a learner stores (None: acts in env units)
    label: np.ndarray | None = None  # what a clone should copy when `unit` was perturbed (DART); None: `unit`
    by: str = POLICY  # POLICY | INTERVENTION (a person or its stand-in took over) | HOLD (the arm held on bad input)


@dataclass(frozen=True)
class RewardStep:
    """A reward source's reading of one state and what the transition into it paid."""

    phi: float  # progress Φ of this state (0 without a model)
    reward: ShapedReward  # what the transition into this state paid (nothing at an episode's first state)
    success: bool  # the environment's success flag (the model's judgement with --success-from model)
    uncertainty: float  # the model's spread (0 without a model)
    features: np.ndarray  # what a policy reads of the model (empty without one)
    value_range: tuple[float, float]  # where every return from this state lies (±inf where unknown)
    stage: int = -1  # the subtask the model reads (-1 without a model)
    ends_episode: bool = False  # the source judged the episode a success (the model's judge): it ends here


class RewardSource(Protocol):
    def reset(self, ts: TimeStep) -> RewardStep: ...
    def step(self, ts: TimeStep) -> RewardStep: ...


class Policy(Protocol):
    def reset(self, ts: TimeStep) -> None:
        """A new episode starts at `ts`."""

    def act(self, ts: TimeStep, reading: RewardStep) -> Action:
        """The action at `ts`; `reading` is the reward source's reading of the same state."""


class Observer:
    """Sees every episode's states and actions; override what is needed."""

    def observe_first(self, ts: TimeStep, reading: RewardStep) -> None:
        pass

    def observe(self, action: Action, ts: TimeStep, reading: RewardStep) -> None:
        """`action` was taken and led to `ts`, which `reading` reads."""

    def observe_last(self, action: Action, ts: TimeStep) -> None:
        """With `act_on_last`: the action the policy chose at the final state (never executed)."""


class NoReward:
    """The environment's own flags, no model: Φ = 0, nothing paid, no value range."""

    def reset(self, ts: TimeStep) -> RewardStep:
        return self.step(ts)

    def step(self, ts: TimeStep) -> RewardStep:
        return RewardStep(0.0, NOTHING_PAID, bool(ts.info.success), 0.0, NO_FEATURES, UNBOUNDED)


@dataclass
class EpisodeTimes:
    """Seconds spent in each part of one episode."""

    policy_s: float = 0.0
    env_s: float = 0.0
    reward_s: float = 0.0
    observe_s: float = 0.0


@dataclass(frozen=True)
class EpisodeEnd:
    last: TimeStep
    reading: RewardStep
    steps: int
    times: EpisodeTimes = field(default_factory=EpisodeTimes)


class EnvironmentLoop:
    """reset → (act → step → read → observe)* until the episode ends (the env's flags, or the reward source's
    judgement of success). `act_on_last` also asks the policy
    at the final state and gives that action to `observe_last` (a dataset pairs every frame with an action).
    `check` names a bad observation (wrong size, non-finite) before any observer stores it."""

    def __init__(self, env, policy: Policy, reward: RewardSource | None = None, observers: Sequence[Observer] = (),
                 act_on_last: bool = False, check: bool = True) -> None:
        self.env, self.policy, self.reward = env, policy, reward or NoReward()
        self.observers, self.act_on_last, self.check = list(observers), act_on_last, check

    def run_episode(self, seed: int | None, episode: int = 0) -> EpisodeEnd:
        env, clock = self.env, time.perf_counter
        times = EpisodeTimes()
        ts = self._checked(env.reset(seed), episode, 0)
        t = clock()
        reading = self.reward.reset(ts)
        times.reward_s += clock() - t
        self.policy.reset(ts)
        for o in self.observers:
            o.observe_first(ts, reading)
        steps = 0
        while not (ts.done or reading.ends_episode):
            t0 = clock()
            action = self.policy.act(ts, reading)
            t1 = clock()
            ts = self._checked(env.step(action.env), episode, steps + 1)
            t2 = clock()
            reading = self.reward.step(ts)
            t3 = clock()
            for o in self.observers:
                o.observe(action, ts, reading)
            steps += 1
            times.policy_s += t1 - t0
            times.env_s += t2 - t1
            times.reward_s += t3 - t2
            times.observe_s += clock() - t3
        if self.act_on_last:
            final = self.policy.act(ts, reading)
            for o in self.observers:
                o.observe_last(final, ts)
        return EpisodeEnd(ts, reading, steps, times)

    def _checked(self, ts: TimeStep, episode: int, step: int) -> TimeStep:
        return check_timestep(ts, self.env.spec, episode, step) if self.check else ts


def check_timestep(ts: TimeStep, spec: EnvSpec, episode: int, step: int) -> TimeStep:
    """Fail before a bad observation reaches a buffer or a dataset: wrong state size or non-finite values."""
    where = f"{spec.name}: episode {episode}, step {step}"
    state = np.asarray(ts.obs.state)
    if state.shape != spec.state.shape:
        raise ValueError(f"{where}: state has shape {state.shape}, the env's spec says {spec.state.shape}")
    if not np.all(np.isfinite(state)):
        bad = [spec.state.names[i] if i < len(spec.state.names) else str(i) for i in np.flatnonzero(~np.isfinite(state))]
        raise ValueError(f"{where}: non-finite state values in {bad}")
    if not np.isfinite(ts.reward):
        raise ValueError(f"{where}: non-finite reward {ts.reward}")
    return ts
