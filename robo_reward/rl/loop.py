"""`robo-reward rl`: SAC in the environment loop against any `Env` (suite, MetaWorld, a ROS 2 robot),
paid by the online reward (sparse, dense, or a GRM's shaped progress), resumable, evaluated at the end.

    set up: reward, env, observation pipeline, learner, buffers
    start:  a new run fills its demo buffer and pre-trains; a resumed one loads its checkpoint
    train:  one loop episode at a time, a metrics row each, a checkpoint every few
    finish: evaluation on unseen seeds, summary.json + success.png"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from robo_reward.config import run_record, write_json
from robo_reward.environment_loop import EnvironmentLoop, EpisodeEnd
from robo_reward.envs.registry import task_text as task_text_of
from robo_reward.observation import ObservationPipeline, camera_union, reads_privileged
from robo_reward.reward.online import OnlineReward
from robo_reward.rl.actor import ReplayWriter, SACActor
from robo_reward.rl.checkpoint import Progress, load_checkpoint, save_checkpoint, truncate_metrics
from robo_reward.rl.config import ONLINE_CAPACITY, RLConfig, demo_capacity, make_rl_env, policy_pipeline, reward_config
from robo_reward.rl.demos import dataset_demos, scripted_demos
from robo_reward.rl.intervention import intervened, make_intervention
from robo_reward.rl.pretrain import pretrain
from robo_reward.rl.replay import ReplayBuffer
from robo_reward.rl.sac import SAC
from robo_reward.rl.summary import summarize_run
from robo_reward.shaping import DEFAULT_DELTA, anneal_weight


@dataclass
class RunSetup:
    """A run ready to train: what `set_up` made or restored (the single-process loop and the distributed learner
    start from it)."""

    cfg: RLConfig  # resolved
    out: Path
    reward: OnlineReward
    env: object
    pipeline: ObservationPipeline
    learner: SAC
    online: ReplayBuffer
    demos: ReplayBuffer | None
    at: Progress
    extra: dict  # what the checkpoint carried beside the learner (the distributed learner's bookkeeping)

    @property
    def ckpt(self) -> Path:
        return self.out / "checkpoint"


def set_up(cfg: RLConfig) -> RunSetup:
    """Reward, env, observation pipeline, learner and buffers; then a resumed run loads its checkpoint, a new one
    fills its demo buffer, pre-trains, writes config.json and a first checkpoint (and with --eval-clones evaluates
    the clones)."""
    cfg.validate()
    from robo_reward.device import resolve_device

    device = resolve_device(cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    task_text = task_text_of(cfg.task)
    reward = OnlineReward(reward_config(cfg), task_text, device)
    cfg = cfg.resolved(reward.cameras, device.type)
    env = make_rl_env(cfg, reward.cameras)
    first = env.reset(cfg.seed * 100_000)  # the observation's size; the first episode resets again
    pipeline = policy_pipeline(cfg, env.spec.state.policy_index(cfg.velocities))
    obs_dim, act_dim, pixel_shape = len(pipeline(first, reward.reset(first).features)), env.spec.action.dim, pipeline.pixel_shape
    if pixel_shape is not None:
        pipeline.pixels(first)  # a camera the env lacks is named before any step
    learner = SAC(obs_dim, act_dim, cfg.sac, device, cfg.seed, pixel_shape)
    online = ReplayBuffer(ONLINE_CAPACITY, obs_dim, act_dim, pixel_shape)
    # interventions enter the demonstration buffer (HIL-SERL), so a run with them has one even without demonstrations
    demos = ReplayBuffer(demo_capacity(cfg, ONLINE_CAPACITY), obs_dim, act_dim, pixel_shape) if cfg.demos.any or cfg.intervene.on else None
    ckpt = out / "checkpoint"
    extra: dict = {}
    if cfg.resume and (ckpt / "state.pt").exists():
        at, extra = load_checkpoint(ckpt, learner, online, demos)
        truncate_metrics(out / "metrics.jsonl", at.episode)
    else:
        at = Progress(0, 0, np.random.default_rng(cfg.seed))
        (out / "metrics.jsonl").write_text("")
        if cfg.demos.any:
            fill_demos(cfg, env, first, reward, pipeline, learner, demos, at.rng, device, out)
        write_json(out / "config.json", run_record(cfg, obs_dim=obs_dim, act_dim=act_dim, task_text=task_text,
                                                   state_index=pipeline.keep.tolist(),
                                                   pixel_shape=None if pixel_shape is None else list(pixel_shape),
                                                   action_low=env.spec.action.low.tolist(),
                                                   action_high=env.spec.action.high.tolist()))
        save_checkpoint(ckpt, learner, online, demos, at)  # a BC-only run (--episodes 0) can be evaluated and deployed
        if cfg.eval_clones and cfg.eval_episodes:  # deterministic: no generator of the training run is drawn from
            from robo_reward.rl.evaluate import rollout_policy

            write_json(out / "eval_clones.json", rollout_policy(learner, cfg, env, reward, pipeline, cfg.eval_episodes))
    return RunSetup(cfg, out, reward, env, pipeline, learner, online, demos, at, extra)


def run_rl(cfg: RLConfig, progress: bool = True) -> dict:
    if cfg.dist.actors:
        raise ValueError("--dist.actors runs on Ray: call robo_reward.rl.distributed.run_distributed (the CLI does)")
    run = set_up(cfg)
    cfg, out, env, reward, pipeline, learner, online, demos, at = (run.cfg, run.out, run.env, run.reward, run.pipeline,
                                                                  run.learner, run.online, run.demos, run.at)
    ckpt = run.ckpt
    actor = SACActor(learner, pipeline, env.spec.action, online, demos, at.rng, warmup_steps=cfg.warmup_steps,
                     random_warmup=not cfg.pretrain.bc_steps, utd=cfg.utd, batch_size=cfg.batch_size, total_steps=at.total_steps)
    loop = EnvironmentLoop(env, intervened(actor, make_intervention(cfg.intervene, env)), reward, [actor])
    bar = tqdm(range(at.episode, cfg.episodes), desc=f"rl {cfg.task}", disable=not progress, initial=at.episode,
               total=cfg.episodes)
    try:
        for ep in bar:
            learner.excess_weight = anneal_weight(ep, cfg.reward.delta_anneal)
            row = episode_row(cfg, ep, loop.run_episode(cfg.seed * 100_000 + ep, ep), actor, reward.stream is not None)
            if cfg.successes.keep:
                row["success_demo_rows"] = actor.keep_success()
            steps = reclone_steps(cfg, learner, ep, row, out / "metrics.jsonl")
            if steps:
                row["reclone_mse"] = reclone(learner, demos, steps, cfg.batch_size)
            with (out / "metrics.jsonl").open("a") as f:
                f.write(json.dumps(row) + "\n")
            bar.set_postfix(success=row["success"], ret=f"{row['return']:.2f}")
            if (ep + 1) % cfg.checkpoint_every == 0 or ep + 1 == cfg.episodes:
                save_checkpoint(ckpt, learner, online, demos, Progress(ep + 1, actor.total_steps, at.rng))
        if cfg.eval_episodes and evaluated_after(out) != cfg.episodes:  # a resumed run that trained on is re-evaluated
            evaluate_run(run)
    finally:
        env.close()
    return summarize_run(out)


def evaluate_run(run: RunSetup) -> None:
    """eval.json: the learner on the evaluation layouts, after the run's episodes."""
    from robo_reward.rl.evaluate import rollout_policy

    result = rollout_policy(run.learner, run.cfg, run.env, run.reward, run.pipeline, run.cfg.eval_episodes)
    write_json(run.out / "eval.json", {**result, "after_episodes": run.cfg.episodes})


def fill_demos(cfg: RLConfig, env, first, reward: OnlineReward, pipeline: ObservationPipeline, learner: SAC,
               demos: ReplayBuffer, rng: np.random.Generator, device: torch.device, out: Path) -> None:
    """The demonstration buffer (scripted expert or a dataset's successes), then pre-training on it."""
    writer = ReplayWriter(demos, pipeline, keep_labels=cfg.demos.dataset is None)
    labels = None
    if cfg.demos.dataset is not None:
        env_state_dim = len(first.info.privileged) if reads_privileged(cfg.obs) else None
        cameras = camera_union(reward.cameras, pipeline.cameras) or ("front",)
        source = dataset_demos(Path(cfg.demos.dataset), env.spec, cameras, reward, writer, env_state_dim)
    else:
        source = {"scripted_demo_episodes": cfg.demos.scripted, "demo_noise": cfg.demos.noise}
        labels = scripted_demos(env, cfg.demos.scripted, cfg.seed, reward, writer, cfg.demos.noise)
    pretrain(learner, demos, cfg, rng, device, out, source, labels)


def reclone_steps(cfg: RLConfig, learner: SAC, ep: int, row: dict, metrics: Path) -> int:
    """Cloning steps per clone due after episode `ep` (0: none): interventions go into the frozen clones every
    `intervene.reclone_every` episodes, kept successes every `successes.every`, when that many episodes (this
    one's `row` and the metrics file's before it: the same after a resume) brought any; the larger step count
    when both are due."""
    if learner.bc_actor is None:
        return 0
    due = [(cfg.intervene.reclone_every, "intervention_steps", cfg.intervene.reclone_steps)] if cfg.intervene.on else []
    due += [(cfg.successes.every, "success_demo_rows", cfg.successes.steps)] if cfg.successes.keep else []
    steps = 0
    for every, key, n in due:
        if every and (ep + 1) % every == 0 and sum(r.get(key, 0) for r in recent_rows(metrics, row, ep, every)) > 0:
            steps = max(steps, n)
    return steps


def reclone(learner: SAC, demos: ReplayBuffer, steps: int, batch: int) -> float:
    """The frozen clones cloned `steps` more on every row of the demonstration buffer (with the interventions and
    kept successes in it); returns their squared error there."""
    n = demos.size
    return learner.refine_clones(demos.obs[:n], demos.action[:n], steps, batch, demos.pixels[:n] if demos.pixel_shape else None)


def recent_rows(metrics: Path, row: dict, ep: int, n: int) -> list[dict]:
    """The metrics rows of episodes ep − n + 1 .. ep: the file's, then this episode's `row`."""
    earlier = [json.loads(x) for x in metrics.read_text().splitlines()[-(n - 1):]] if n > 1 else []
    return [r for r in earlier if r["episode"] > ep - n] + [row]


def episode_row(cfg: RLConfig, ep: int, end: EpisodeEnd, actor: SACActor, has_model: bool) -> dict:
    """One metrics.jsonl row: outcome, what was paid, progress, timers, the last update's learner metrics."""
    s, t = actor.stats, end.times
    timers = {"policy_s": t.policy_s, "env_s": t.env_s, "reward_s": t.reward_s, "update_s": t.observe_s}
    return {"episode": ep, "success": bool(end.last.info.success), **s.row(), "final_progress": end.reading.phi,
            "max_progress": s.phi_max, **({"delta_weight": actor.learner.excess_weight} if cfg.reward.delta_anneal else {}),
            "model_success": has_model and s.phi_max >= 1.0 - DEFAULT_DELTA,
            **({"judged_success": end.reading.ends_episode, "env_success_seen": s.env_success_seen}
               if cfg.reward.success == "model" else {}),
            **(s.intervention_row() if cfg.intervene.on else {}), "total_steps": actor.total_steps, **{k: round(v, 4) for k, v in timers.items()},
            **{f"learner/{k}": v for k, v in actor.learner_metrics.items()}}


def evaluated_after(out: Path) -> int | None:
    """Training episodes the run's eval.json was made after (None: no evaluation yet)."""
    path = out / "eval.json"
    return json.loads(path.read_text()).get("after_episodes") if path.exists() else None
