"""`robo-reward bc`: behaviour cloning with action chunks, uniform or RA-BC weighted, evaluated in
the simulator the data came from."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from robo_reward.bc.policy import ChunkEnsemble, ChunkPolicy
from robo_reward.bc.weights import RABCWeighter, weighted_mean
from robo_reward.config import run_record, write_json
from robo_reward.data.lerobot_io import DatasetError, environment_state, load_episode, read_info
from robo_reward.envs import SimConfig, make_env
from robo_reward.environment_loop import Action, EnvironmentLoop, Observer, RewardStep
from robo_reward.observation import ObservationPipeline, camera_union
from robo_reward.reward.checkpoint import load_checkpoint
from robo_reward.reward.infer import Scorer
from robo_reward.reward.online import OnlineReward, RewardConfig
from robo_reward.types import OUTCOMES, EnvSpec, TimeStep

WEIGHTINGS = ("none", "rabc")
OBSERVATIONS = ("state+grm", "privileged", "state+images")  # of robo_reward.observation's, those a chunk policy is cloned on


@dataclass(frozen=True)
class BCConfig:
    data: Path = field(metadata={"help": "LeRobot dataset made by `collect` (or any with the same robot)"})
    out: Path = field(metadata={"help": "output folder: policy.pt, summary.json, eval video"})
    reward_model: Path | None = field(default=None, metadata={
        "help": "GRM checkpoint: frozen visual features (and progress if --progress is not given); not needed "
                "with --obs privileged and --weighting none or --progress"})
    weighting: str = field(default="none", metadata={"help": "none | rabc"})
    progress: Path | None = field(default=None, metadata={"help": "progress parquet from `robo-reward score` (RA-BC)"})
    chunk: int = field(default=5, metadata={"help": "actions predicted per step (also RA-BC's Δ)"})
    steps: int = field(default=3000, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=256, metadata={"help": "batch size"})
    lr: float = field(default=1e-3, metadata={"help": "learning rate"})
    eval_episodes: int = field(default=50, metadata={"help": "simulator episodes for the success rate (0 skips)"})
    task: str = field(default="", metadata={"help": "simulator task (default: the one recorded by collect)"})
    seed: int = field(default=0, metadata={"help": "seed (evaluation episodes use seeds 500000 + k)"})
    ensemble: int = field(default=1, metadata={"help": "policies cloned side by side, acting with their mean chunk"})
    velocities: bool = field(default=False, metadata={"help": "include joint velocities in the input (as `rl`: off by default)"})
    obs: str = field(default="state+grm", metadata={
        "help": "state+grm (robot state + frozen GRM features, what a robot has) | state+images (robot state + camera "
                "frames through the policy's own encoder, trained with it; also what a robot has) | privileged (robot "
                "state + the simulator's object state recorded by `collect`: the weighting measured without a vision "
                "bottleneck)"})
    cameras: tuple[str, ...] = field(default=(), metadata={
        "help": "with state+images: the cameras the policy reads (default: the GRM's, else the dataset's)"})
    image_size: int = field(default=32, metadata={"help": "with state+images: the size the policy reads them at"})

    def validate(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"--weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if self.obs not in OBSERVATIONS:
            raise ValueError(f"--obs must be one of {OBSERVATIONS}, got {self.obs!r}")
        if self.reward_model is None and self.obs == "state+grm":
            raise ValueError("--reward-model is needed: --obs state+grm reads its frozen features")
        if self.reward_model is None and self.weighting == "rabc" and self.progress is None:
            raise ValueError("--weighting rabc needs --progress FILE.parquet or --reward-model to score the dataset")
        if self.ensemble < 1:
            raise ValueError(f"--ensemble must be >= 1, got {self.ensemble}")
        if self.obs == "state+images" and not 16 <= self.image_size <= 128:
            raise ValueError(f"--image-size must be in [16, 128] with --obs state+images, got {self.image_size}")


@dataclass
class BCData:
    obs: np.ndarray  # [N, obs_dim]
    pixels: np.ndarray | None  # uint8 [N, V, h, w, 3]: the policy's frames (state+images), else None
    chunks: np.ndarray  # [N, chunk, act_dim] normalised actions, repeated past the episode end
    index: np.ndarray  # [N] global frame index (the `index` column of LeRobot and of the progress parquet)
    state_index: np.ndarray  # the robot-state entries in `obs` (BoxSpec.policy_index)
    outcome: np.ndarray  # [N] the outcome of each frame's episode (success / partial / failure)


def build_data(cfg: BCConfig, scorer: Scorer | None, spec: EnvSpec, pipeline: ObservationPipeline | None = None,
               env_state_dim: int | None = None) -> BCData:
    """Observations (the robot state a policy reads + frozen GRM features or its frames, or with `env_state_dim`
    the recorded object state), action chunks, frame indices; every episode's state, action and object-state
    sizes checked against the simulator's first. `pipeline`: cfg.obs's without frames unless given."""
    info = read_info(cfg.data)
    pipeline = pipeline or ObservationPipeline(cfg.obs, spec.state.policy_index(cfg.velocities))
    keep = pipeline.keep
    cameras = camera_union(() if scorer is None else scorer.cameras, pipeline.cameras)
    obs, pixels, chunks, index, outcome = [], [], [], [], []
    offset = 0
    for ann in tqdm(info.episodes, desc="features", unit="ep"):
        ep = load_episode(cfg.data, ann.episode_index, cameras or None)
        for what, have, want in (("actions", ep.actions.shape[1], spec.action.dim), ("states", ep.states.shape[1], spec.state.dim)):
            if have != want:
                raise DatasetError(f"{cfg.data}: episode {ann.episode_index} has {have}-d {what}, the simulator "
                                   f"{spec.name} has {want}")
        privileged = features = None
        if env_state_dim is not None:
            privileged = environment_state(ep, env_state_dim, f"{cfg.data}: episode {ann.episode_index}")
        elif cfg.obs == "state+grm":
            assert scorer is not None  # validate() asks for a reward model with state+grm
            features = scorer.encode(np.stack([ep.images[c] for c in scorer.cameras], axis=1)).cpu().numpy()
        obs.append(pipeline.assemble(ep.states, privileged, features))
        pixels.append(pipeline.stack_frames(ep.images, f"{cfg.data}: episode {ann.episode_index}"))
        a = spec.action.to_unit(ep.actions)
        t = np.arange(ep.length)[:, None] + np.arange(cfg.chunk)[None, :]
        chunks.append(a[np.minimum(t, ep.length - 1)])
        index.append(offset + np.arange(ep.length))
        outcome.append(np.full(ep.length, ann.outcome))
        offset += ep.length
    return BCData(np.concatenate(obs).astype(np.float32), None if pipeline.pixel_shape is None else np.concatenate(pixels),
                  np.concatenate(chunks).astype(np.float32), np.concatenate(index), keep, np.concatenate(outcome))


def train_bc(cfg: BCConfig, progress: bool = True) -> dict:
    cfg.validate()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    task = cfg.task or _collected_task(cfg.data)
    scorer = None if cfg.reward_model is None else Scorer(*load_checkpoint(cfg.reward_model)[:2])
    info = read_info(cfg.data)
    grm_cameras = () if scorer is None else tuple(scorer.cameras)
    images = cfg.obs == "state+images"
    policy_cameras = (cfg.cameras or grm_cameras or tuple(info.cameras)) if images else ()
    cameras = camera_union(grm_cameras, policy_cameras) or tuple(info.cameras)
    env = make_env(task, SimConfig(image_size=info.frame_shape[cameras[0]][0], cameras=cameras))
    act_dim = env.spec.action.dim
    env_state_dim = len(env.reset(500_000).info.privileged) if cfg.obs == "privileged" else None
    pipeline = ObservationPipeline(cfg.obs, env.spec.state.policy_index(cfg.velocities), policy_cameras,
                                   cfg.image_size if images else 0)
    data = build_data(cfg, scorer, env.spec, pipeline, env_state_dim)
    weights = np.ones(len(data.index))
    if cfg.weighting == "rabc":
        if cfg.progress is not None:
            weighter = RABCWeighter.from_parquet(cfg.progress, cfg.chunk)
        else:
            from robo_reward.reward.evaluate import ScoreConfig, score_to_parquet

            path = score_to_parquet(ScoreConfig(cfg.reward_model, cfg.data, out / "progress.parquet", "cpu"), progress)
            weighter = RABCWeighter(pd.read_parquet(path), cfg.chunk)
        weights = weighter.weights(data.index)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    members = [ChunkPolicy(data.obs.shape[1], act_dim, cfg.chunk, pixel_shape=pipeline.pixel_shape) for _ in range(cfg.ensemble)]
    for m in members:
        m.set_normalization(data.obs)
    policy = ChunkEnsemble(members)
    opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=1e-4)
    obs_t, act_t, w_t = torch.from_numpy(data.obs), torch.from_numpy(data.chunks), torch.from_numpy(weights).float()
    px_t = None if data.pixels is None else torch.from_numpy(data.pixels)
    shifts = torch.Generator().manual_seed(cfg.seed)  # the encoder's random shifts (state+images)
    t0 = time.perf_counter()
    loss = torch.tensor(0.0)
    for _ in tqdm(range(cfg.steps), desc=f"bc ({cfg.weighting})", disable=not progress):
        loss = torch.tensor(0.0)
        for m in members:  # each member its own batch
            idx = torch.from_numpy(rng.integers(0, len(obs_t), cfg.batch_size))
            pred = m(obs_t[idx]) if px_t is None else m(obs_t[idx], px_t[idx], shifts)
            per_sample = ((pred - act_t[idx]) ** 2).mean(dim=(1, 2))
            loss = loss + weighted_mean(per_sample, w_t[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    loss = loss / cfg.ensemble
    torch.save({"policy": policy.state_dict(), "obs_dim": data.obs.shape[1], "act_dim": act_dim, "chunk": cfg.chunk,
                "ensemble": cfg.ensemble, "state_index": data.state_index.tolist(), "obs": cfg.obs,
                "cameras": list(pipeline.cameras), "pixel_shape": pipeline.pixel_shape}, out / "policy.pt")
    summary = {"weighting": cfg.weighting, "frames": len(data.index), "mean_weight": float(weights.mean()),
               "zero_weight_share": float((weights == 0).mean()),
               # how much of the loss each kind of episode carries: what the weighting actually removed
               "loss_share_by_outcome": {o: float(weights[data.outcome == o].sum() / max(weights.sum(), 1e-12)) for o in OUTCOMES},
               "final_loss": float(loss.detach()),
               "train_seconds": round(time.perf_counter() - t0, 1), "task": task}
    if cfg.eval_episodes:
        summary.update(evaluate_policy(policy, env, scorer, cfg, out, pipeline))
    env.close()
    write_json(out / "summary.json", {**run_record(cfg), **summary})
    return summary


class ChunkActor:
    """A cloned chunk policy in the environment loop: re-plans every step, executes the chunk's first action."""

    def __init__(self, policy: ChunkEnsemble, pipeline: ObservationPipeline, spec: EnvSpec) -> None:
        self.policy, self.pipeline, self.spec = policy, pipeline, spec

    def reset(self, ts: TimeStep) -> None:
        pass

    def act(self, ts: TimeStep, reading: RewardStep) -> Action:
        a = self.policy.act(self.pipeline(ts, reading.features), self.pipeline.pixels(ts))
        return Action(self.spec.action.from_unit(a), a)


class ProgressFrames(Observer):
    """Every frame of an episode (the final one too) with the task and, with a model, its progress."""

    def __init__(self, env, task_text: str, scored: bool) -> None:
        self.env, self.task_text, self.scored, self.frames = env, task_text, scored, []

    def observe_first(self, ts: TimeStep, reading: RewardStep) -> None:
        self._add(ts, reading)

    def observe(self, action: Action, ts: TimeStep, reading: RewardStep) -> None:
        self._add(ts, reading)

    def _add(self, ts: TimeStep, reading: RewardStep) -> None:
        from robo_reward.viz.video import annotate_frame

        label = self.task_text + (f"  progress {reading.phi:.2f}" if self.scored else "")
        self.frames.append(annotate_frame([ts.obs.images[c] for c in self.env.spec.camera_names], [label]))


def evaluate_policy(policy: ChunkEnsemble, env, scorer: Scorer | None, cfg: BCConfig, out: Path,
                    pipeline: ObservationPipeline) -> dict:
    """Success rate over cfg.eval_episodes unseen seeds; a video of the first episode (the reward model
    scores every step only when the policy reads its features, or for the video's progress label)."""
    from robo_reward.viz.video import write_video

    task_text = env.spec.task_text
    reward = None
    if scorer is not None:
        rcfg = RewardConfig(source=f"grm:{cfg.reward_model}", shaping="none")
        reward = OnlineReward(rcfg, scorer.tasks.texts[scorer.tasks.index(task_text)], "cpu", loaded=(scorer.model, scorer.tasks))
    actor = ChunkActor(policy, pipeline, env.spec)
    video = ProgressFrames(env, task_text, scored=reward is not None)  # episode 0's video: scored whenever a model exists
    successes = []
    for k in tqdm(range(cfg.eval_episodes), desc="eval", unit="ep"):
        scored = reward is not None and (k == 0 or cfg.obs == "state+grm")
        loop = EnvironmentLoop(env, actor, reward if scored else None, [video] if k == 0 else [])
        successes.append(bool(loop.run_episode(500_000 + k, k).last.info.success))
    write_video(video.frames, out / "eval_episode_0.mp4", env.spec.control_hz)
    return {"success_rate": float(np.mean(successes)), "eval_episodes": len(successes)}


def _collected_task(data: Path) -> str:
    path = Path(data) / "meta" / "robo_reward_collect.json"
    if not path.exists():
        raise DatasetError(f"{data} was not made by `collect` ({path} is missing): pass --task")
    return json.loads(path.read_text())["config"]["task"]
