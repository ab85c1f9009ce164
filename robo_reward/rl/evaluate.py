"""`robo-reward eval-policy`: a trained RL policy's success rate on simulator episodes it never
trained on (deterministic actions), with videos. Also run at the end of `robo-reward rl`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from robo_reward.config import run_record, write_json
from robo_reward.environment_loop import Action, EnvironmentLoop, Observer, RewardStep
from robo_reward.observation import ObservationPipeline
from robo_reward.reward.online import OnlineReward
from robo_reward.rl.actor import GreedyPolicy
from robo_reward.rl.config import RLConfig, make_rl_env, policy_pipeline, reward_config
from robo_reward.rl.deploy import load_run
from robo_reward.rl.sac import SAC
from robo_reward.shaping import anneal_weight
from robo_reward.types import TimeStep

EVAL_SEED = 20_000_000  # evaluation episode k resets with EVAL_SEED + k: training uses seed·100000 + k, demos 10^7 + ...


@dataclass(frozen=True)
class PolicyEvalConfig:
    run: Path = field(metadata={"help": "a `robo-reward rl` run folder"})
    out: Path = field(metadata={"help": "output folder: eval.json, videos"})
    episodes: int = field(default=20, metadata={"help": "evaluation episodes (seeds never used in training)"})
    videos: int = field(default=2, metadata={"help": "episodes to record as MP4"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})


class EvalRecorder(Observer):
    """Per episode: the critics' value of the first state and action, the discounted return the episode
    then got (no bootstrap past a time limit) and, when `video`, annotated frames."""

    def __init__(self, policy: GreedyPolicy, gamma: float, excess_weight: float, task_text: str, run: Path, task: str) -> None:
        self.policy, self.gamma, self.weight, self.task_text, self.run, self.task = policy, gamma, excess_weight, task_text, run, task
        self.video = False

    def observe_first(self, ts: TimeStep, reading: RewardStep) -> None:
        learner = self.policy.learner
        self.first_obs, self.first_pixels = self.policy.observation(ts, reading)
        if len(self.first_obs) != learner.obs_dim:
            raise ValueError(f"{self.run}: the policy was trained on {learner.obs_dim} observation values, the "
                             f"{self.task} environment now gives {len(self.first_obs)} (its observation changed since this run "
                             "was trained: retrain it)")
        self.value, self.ret, self.discount, self.frames = None, 0.0, 1.0, []
        self._frame(ts, reading)

    def observe(self, action: Action, ts: TimeStep, reading: RewardStep) -> None:
        if self.value is None:
            self.value = self.policy.learner.value(self.first_obs, action.unit, self.first_pixels)
        self.ret += self.discount * reading.reward.with_excess(self.weight)
        self.discount *= self.gamma
        if not ts.done:
            self._frame(ts, reading)

    def _frame(self, ts: TimeStep, reading: RewardStep) -> None:
        if self.video:
            from robo_reward.viz.video import annotate_frame

            self.frames.append(annotate_frame(list(ts.obs.images.values()), [
                self.task_text, f"step {ts.info.step}  progress {reading.phi:.2f}  success {ts.info.success}"]))


def rollout_policy(learner: SAC, cfg: RLConfig, env, reward: OnlineReward, pipeline: ObservationPipeline, episodes: int,
                   videos: int = 0, video_dir: Path | None = None, progress: bool = False) -> dict:
    """Deterministic episodes EVAL_SEED + k; returns per-episode rows and the success rate. The mean of the
    critics' start value minus the return got, `value_overestimate`, shows a critic that believes in
    successes the policy no longer reaches."""
    from robo_reward.viz.video import write_video

    policy = GreedyPolicy(learner, pipeline, env.spec.action)
    weight = anneal_weight(max(cfg.episodes - 1, 0), cfg.reward.delta_anneal)  # the critic's weight in its last episode
    recorder = EvalRecorder(policy, cfg.sac.gamma, weight, env.spec.task_text, cfg.out, cfg.task)
    loop = EnvironmentLoop(env, policy, reward, [recorder])
    rows = []
    for k in tqdm(range(episodes), desc="eval-policy", disable=not progress):
        recorder.video = k < videos
        end = loop.run_episode(EVAL_SEED + k, k)
        ts = end.last
        rows.append({"episode": k, "seed": EVAL_SEED + k, "success": bool(ts.info.success), "length": int(ts.info.step),
                     "subtasks_completed": int(ts.info.subtasks_completed), "final_progress": end.reading.phi,
                     "start_value": recorder.value, "discounted_return": recorder.ret})
        if recorder.frames and video_dir is not None:
            write_video(recorder.frames, Path(video_dir) / f"eval_{k:02d}.mp4", env.spec.control_hz)
    return {"episodes": episodes, "success_rate": float(np.mean([r["success"] for r in rows])) if rows else 0.0,
            "value_overestimate": float(np.mean([r["start_value"] - r["discounted_return"] for r in rows])) if rows else None,
            "rows": rows}


def evaluate_policy(cfg: PolicyEvalConfig, progress: bool = True) -> dict:
    run_cfg, record, learner = load_run(Path(cfg.run), cfg.device)
    reward = OnlineReward(reward_config(run_cfg), record["task_text"], learner.device)
    env = make_rl_env(run_cfg, reward.cameras, 128)
    try:
        pipeline = policy_pipeline(run_cfg, np.array(record["state_index"]))
        result = rollout_policy(learner, run_cfg, env, reward, pipeline, cfg.episodes, cfg.videos, cfg.out, progress)
    finally:
        env.close()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "eval.json", run_record(cfg, **result, trained=json.loads((Path(cfg.run) / "summary.json").read_text())
                                             if (Path(cfg.run) / "summary.json").exists() else None))
    return result
