"""Record scripted episodes from an environment into in-memory `Episode`s."""

from __future__ import annotations

import numpy as np

from robo_reward.data.annotations import spans_from_completion
from robo_reward.envs.tasks import MIXED_WEIGHTS, outcome_from_progress
from robo_reward.types import Episode


def choose_mode(quality: str, rng: np.random.Generator, supported: tuple[str, ...]) -> str:
    """`expert`: always the expert; `mixed`: a seeded draw from the mix, over the modes the
    environment's experts support."""
    if quality == "expert":
        return "expert"
    if quality == "mixed":
        modes = [m for m in MIXED_WEIGHTS if m in supported]
        p = np.array([MIXED_WEIGHTS[m] for m in modes])
        return str(rng.choice(modes, p=p / p.sum()))
    raise ValueError(f"quality must be 'expert' or 'mixed', got {quality!r}")


class RandomActor:
    """Uniform random actions in [-1, 1], what an `rl` run's warm-up does: the flailing states a learner
    starts from (and its accidental successes), which no scripted mode shows the reward model. Seeded once,
    as `collect --policy` seeds a policy's noise: the same episodes on every call."""

    def __init__(self, action_dim: int, seed: int) -> None:
        self.action_dim = action_dim
        self._rng = np.random.default_rng([seed, 11])

    def episode(self, ts) -> RandomActor:
        return self

    def act(self, ts) -> np.ndarray:
        return self._rng.uniform(-1.0, 1.0, self.action_dim).astype(np.float32)


def record_episode(env, mode: str, seed: int, actor=None) -> Episode:
    """Run the env's scripted expert in `mode` (or `actor`, e.g. a trained policy: `actor.episode(ts)`
    returns what acts) from `reset(seed)` to the end of the episode.

    The outcome label and subtask spans come from the physical state the env reports, not from
    what the script or policy intended."""
    ts = env.reset(seed)
    expert = env.expert(mode) if actor is None else actor.episode(ts)
    frames: dict[str, list[np.ndarray]] = {c: [] for c in env.spec.camera_names}
    states, actions, completed, env_states = [], [], [], []
    while True:
        action = expert.act(ts)
        for cam, img in ts.obs.images.items():
            frames[cam].append(img)
        states.append(ts.obs.state)
        env_states.append(ts.info.get("privileged"))
        actions.append(action)
        completed.append(ts.info["subtasks_completed"])
        if ts.done:
            break
        ts = env.step(action)
    # the frame of the terminal observation carries the last action again (the robot holds still)
    spans = spans_from_completion(np.array(completed), env.spec.subtasks)
    return Episode(
        task=env.spec.name,
        task_text=env.spec.task_text,
        images={c: np.stack(v) for c, v in frames.items()},
        states=np.stack(states).astype(np.float32),
        actions=np.stack(actions).astype(np.float32),
        subtasks=spans,
        outcome=outcome_from_progress(bool(ts.info["success"]), int(ts.info["subtasks_completed"]), len(env.spec.subtasks)),
        mode=mode,
        seed=seed,
        fps=env.spec.control_hz,
        env_state=None if env_states[0] is None else np.stack(env_states).astype(np.float32),
    )
