"""The RL side of the environment loop: a replay writer (observer), the training actor (SAC acting,
storing and learning as it goes) and the learner's deterministic policy for evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robo_reward.environment_loop import HOLD, INTERVENTION, POLICY, Action, Observer, RewardStep
from robo_reward.observation import ObservationPipeline
from robo_reward.rl.replay import ReplayBuffer, sample_mixed
from robo_reward.rl.sac import SAC
from robo_reward.types import BoxSpec, TimeStep


class ReplayWriter(Observer):
    """Stores each transition (policy input, [-1, 1] action, reward, next input, true terminal, the value
    range of the state it left, delta's excess) in `buffer`; with `keep_labels`, `labels` collects each
    transition's clean action (what a clone copies: DART's unperturbed expert action)."""

    def __init__(self, buffer: ReplayBuffer, pipeline: ObservationPipeline, keep_labels: bool = False) -> None:
        self.buffer, self.pipeline, self.keep_labels = buffer, pipeline, keep_labels
        self.labels: list[np.ndarray] = []
        self.added = 0

    def observe_first(self, ts: TimeStep, reading: RewardStep) -> None:
        self.obs, self.bounds = self.pipeline(ts, reading.features), reading.value_range
        self.pixels = self.pipeline.pixels(ts)

    def observe(self, action: Action, ts: TimeStep, reading: RewardStep) -> None:
        next_obs, next_pixels = self.pipeline(ts, reading.features), self.pipeline.pixels(ts)
        for buffer in self.buffers_for(action):
            buffer.add(self.obs, action.unit, reading.reward.total, next_obs, ts.terminated or reading.ends_episode, self.bounds,
                       reading.reward.excess, self.pixels, next_pixels)
        if self.keep_labels:
            self.labels.append(action.unit if action.label is None else action.label)
        self.obs, self.bounds, self.pixels = next_obs, reading.value_range, next_pixels
        self.added += 1

    def buffers_for(self, action: Action) -> tuple[ReplayBuffer, ...]:
        """Where a transition is stored: the writer's buffer."""
        return (self.buffer,)


@dataclass
class EpisodeStats:
    """What one training episode paid and did (a metrics.jsonl row's core)."""

    ret: float = 0.0
    gold: float = 0.0
    shaping: float = 0.0
    length: int = 0
    bc_action_share: float = 0.0
    phi_max: float = 0.0
    intervention_steps: int = 0  # a person (or the expert standing in) chose the executed action
    hold_steps: int = 0  # the arm held on a refused intervention command
    env_success_seen: bool = False  # the environment's success flag was up at some state (the judge's yardstick)

    def row(self) -> dict:
        return {"return": self.ret, "gold": self.gold, "shaping": self.shaping, "length": self.length,
                "bc_action_share": self.bc_action_share / max(1, self.length)}

    def intervention_row(self) -> dict:
        """Who acted (runs with an intervention source)."""
        return {"intervention_steps": self.intervention_steps, "intervention_rate": self.intervention_steps / max(1, self.length),
                "hold_steps": self.hold_steps}


class SACActor(ReplayWriter):
    """Acts with the learner (uniform random actions during warm-up), stores every transition in the
    online buffer (an intervention's also in the demonstration buffer, HIL-SERL's rule) and takes `utd`
    learner updates on RLPD batches after each one."""

    def __init__(self, learner: SAC, pipeline: ObservationPipeline, action: BoxSpec, online: ReplayBuffer,
                 demos: ReplayBuffer | None, rng: np.random.Generator, *, warmup_steps: int, random_warmup: bool,
                 utd: int, batch_size: int, total_steps: int = 0) -> None:
        super().__init__(online, pipeline)
        self.learner, self.action_spec, self.demos, self.rng = learner, action, demos, rng
        self.warmup_steps, self.random_warmup, self.utd, self.batch_size = warmup_steps, random_warmup, utd, batch_size
        self.total_steps = total_steps
        self.learner_metrics: dict[str, float] = {}

    def reset(self, ts: TimeStep) -> None:
        self.stats = EpisodeStats()
        self.learner_metrics = {}  # the row of an episode without updates has none
        self.policy_rows: list[int] = []  # online-buffer rows of this episode's policy-chosen steps

    def observe_first(self, ts: TimeStep, reading: RewardStep) -> None:
        super().observe_first(ts, reading)
        self.stats.phi_max = reading.phi

    def act(self, ts: TimeStep, reading: RewardStep) -> Action:
        if self.random_warmup and self.total_steps < self.warmup_steps:
            a = self.rng.uniform(-1, 1, self.action_spec.dim).astype(np.float32)
        else:
            a = self.learner.act(self.obs, pixels=self.pixels)
        return Action(self.action_spec.from_unit(a), a)

    def buffers_for(self, action: Action) -> tuple[ReplayBuffer, ...]:
        if action.by == INTERVENTION and self.demos is not None:
            return self.buffer, self.demos
        return (self.buffer,)

    def observe(self, action: Action, ts: TimeStep, reading: RewardStep) -> None:
        if action.by == POLICY:
            self.policy_rows.append(self.buffer.ptr)
        super().observe(action, ts, reading)
        self.total_steps += 1
        if self.total_steps >= self.warmup_steps:
            for _ in range(self.utd):
                self.learner_metrics = self.learner.update(sample_mixed(self.buffer, self.demos, self.batch_size, self.rng,
                                                                        self.learner.device))
        s, paid = self.stats, reading.reward
        s.ret += paid.with_excess(self.learner.excess_weight)
        s.gold += paid.gold
        s.shaping += paid.shaping
        s.length += 1
        s.bc_action_share += self.learner.acted_bc * (action.by == POLICY)
        s.intervention_steps += action.by == INTERVENTION
        s.hold_steps += action.by == HOLD
        s.env_success_seen |= bool(ts.info.success)
        s.phi_max = max(s.phi_max, reading.phi)

    def keep_success(self) -> int:
        """The episode's policy-chosen transitions into the demonstration buffer when the reward paid success
        (r_gold: the simulator's flag, or the model's verdict on a real arm); returns how many went in."""
        if self.demos is None or self.stats.gold <= 0 or not self.policy_rows:
            return 0
        self.demos.extend(self.buffer.take(np.asarray(self.policy_rows)))
        return len(self.policy_rows)


class GreedyPolicy:
    """The learner's deterministic action on the pipeline's input (evaluation, deployment)."""

    def __init__(self, learner: SAC, pipeline: ObservationPipeline, action: BoxSpec, deterministic: bool = True) -> None:
        self.learner, self.pipeline, self.action_spec, self.deterministic = learner, pipeline, action, deterministic

    def reset(self, ts: TimeStep) -> None:
        pass

    def observation(self, ts: TimeStep, reading: RewardStep) -> tuple[np.ndarray, np.ndarray | None]:
        """The policy's input: the vector and (image policy) its frames."""
        return self.pipeline(ts, reading.features), self.pipeline.pixels(ts)

    def act(self, ts: TimeStep, reading: RewardStep) -> Action:
        obs, pixels = self.observation(ts, reading)
        a = self.learner.act(obs, self.deterministic, pixels)
        return Action(self.action_spec.from_unit(a), a)

