"""`robo-reward eval-policy`: a trained RL policy's success rate on simulator episodes it never
trained on (deterministic actions), with videos. Also run at the end of `robo-reward rl`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from robo_reward.config import run_record, write_json
from robo_reward.rl.loop import RewardSource, RLConfig, observation
from robo_reward.rl.sac import SAC
from robo_reward.shaping import anneal_weight

EVAL_SEED = 20_000_000  # evaluation episode k resets with EVAL_SEED + k: training uses seed·100000 + k, demos 10^7 + ...


@dataclass(frozen=True)
class PolicyEvalConfig:
    run: Path = field(metadata={"help": "a `robo-reward rl` run folder"})
    out: Path = field(metadata={"help": "output folder: eval.json, videos"})
    episodes: int = field(default=20, metadata={"help": "evaluation episodes (seeds never used in training)"})
    videos: int = field(default=2, metadata={"help": "episodes to record as MP4"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})


def rollout_policy(learner: SAC, cfg: RLConfig, env, reward: RewardSource, keep: np.ndarray | None, episodes: int, videos: int = 0,
                   video_dir: Path | None = None, progress: bool = False) -> dict:
    """Deterministic episodes EVAL_SEED + k; returns per-episode rows and the success rate. Each row
    also has the critics' value of the first state and action and the discounted return the episode
    then got (no bootstrap past a time limit): their mean difference, `value_overestimate`, shows a
    critic that believes in successes the policy no longer reaches."""
    from robo_reward.viz.video import annotate_frame, write_video

    weight = anneal_weight(max(cfg.episodes - 1, 0), cfg.delta_anneal)  # the critic's weight in its last episode
    rows = []
    for k in tqdm(range(episodes), desc="eval-policy", disable=not progress):
        ts = env.reset(EVAL_SEED + k)
        phi = reward.reset(ts)
        if k == 0 and (have := len(observation(cfg, ts, reward, keep))) != learner.obs_dim:
            raise ValueError(f"{cfg.out}: the policy was trained on {learner.obs_dim} observation values, the "
                             f"{cfg.task} environment now gives {have} (its observation changed since this run "
                             "was trained: retrain it)")
        frames = []
        value, ret, discount = None, 0.0, 1.0
        while not ts.done:
            if k < videos:
                frames.append(annotate_frame(list(ts.obs.images.values()), [f"{env.spec.task_text}",
                                             f"step {ts.info['step']}  progress {phi:.2f}  success {ts.info['success']}"]))
            obs = observation(cfg, ts, reward, keep)
            a = learner.act(obs, deterministic=True)
            value = learner.value(obs, a) if value is None else value
            ts = env.step(env.spec.action.from_unit(a))
            sr, phi = reward.step(phi, ts)
            ret += discount * sr.with_excess(weight)
            discount *= cfg.gamma
        rows.append({"episode": k, "seed": EVAL_SEED + k, "success": bool(ts.info["success"]), "length": int(ts.info["step"]),
                     "subtasks_completed": int(ts.info.get("subtasks_completed", -1)), "final_progress": phi,
                     "start_value": value, "discounted_return": ret})
        if frames and video_dir is not None:
            write_video(frames, Path(video_dir) / f"eval_{k:02d}.mp4", env.spec.control_hz)
    return {"episodes": episodes, "success_rate": float(np.mean([r["success"] for r in rows])) if rows else 0.0,
            "value_overestimate": float(np.mean([r["start_value"] - r["discounted_return"] for r in rows])) if rows else None,
            "rows": rows}


def evaluate_policy(cfg: PolicyEvalConfig, progress: bool = True) -> dict:
    from robo_reward.rl.deploy import load_run
    from robo_reward.rl.loop import make_rl_env

    run_cfg, record, learner = load_run(Path(cfg.run), cfg.device)
    reward = RewardSource(run_cfg, record["task_text"], learner.device)
    cams = reward.cameras if reward.stream is not None else ("front",)
    env = make_rl_env(run_cfg, cams, 96 if reward.stream is not None else 128)
    try:
        keep = None if record.get("state_index") is None else np.array(record["state_index"])
        result = rollout_policy(learner, run_cfg, env, reward, keep, cfg.episodes, cfg.videos, cfg.out, progress)
    finally:
        env.close()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "eval.json", run_record(cfg, **result, trained=json.loads((Path(cfg.run) / "summary.json").read_text())
                                             if (Path(cfg.run) / "summary.json").exists() else None))
    return result
