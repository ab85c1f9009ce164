"""`robo-reward train-reward`: GRM training with a progress bar, TensorBoard logs, periodic atomic
checkpoints, `--resume`, mixed precision on GPU and multi-GPU through torchrun (DDP)."""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from robo_reward.config import run_record, write_json
from robo_reward.data.lerobot_io import DatasetError
from robo_reward.data.sources import dataset_cameras, parse_camera_map
from robo_reward.device import resolve_device
from robo_reward.reward.bank import EpisodeBank, PairBatch, PairSampler, SamplerConfig, pair_batches
from robo_reward.reward.checkpoint import TaskTable, load_checkpoint, save_checkpoint
from robo_reward.reward.model import GRM, ModelConfig, count_parameters
from robo_reward.reward.text import embed_texts


@dataclass(frozen=True)
class TrainConfig:
    data: tuple[str, ...] = field(metadata={"help": "dataset folders or hf:org/name ids (comma-separated; repeat --data to add more)"})
    out: Path = field(metadata={"help": "run folder: checkpoints, logs, config"})
    steps: int = field(default=2000, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=32, metadata={"help": "pairs per step (per process)"})
    lr: float = field(default=3e-4, metadata={"help": "AdamW learning rate (cosine decay)"})
    backbone: str = field(default="conv", metadata={"help": "conv | resnet18 | hf:<model>"})
    cameras: tuple[str, ...] = field(default=(), metadata={
        "help": "cameras the model reads (default: the first dataset's, after --camera-map)"})
    outcome_from: str = field(default="", metadata={
        "help": "for datasets that record no outcome (no `outcome` column, no next.success / next.reward): "
                "last-subtask (success where the annotation reaches the last subtask) | all-success | labels:FILE.json "
                "({episode: outcome})"})
    image_size: int = field(default=96, metadata={"help": "model input size (frames are resized)"})
    label_scheme: str = field(default="equal", metadata={"help": "equal (Robo-Dopamine step-wise) or prior (SARM temporal proportions)"})
    stage_weight: float = field(default=0.5, metadata={"help": "weight of the stage cross-entropy"})
    env_state_weight: float = field(default=0.0, metadata={
        "help": "> 0: an auxiliary head predicts each frame's observation.environment_state (object and target "
                "positions, recorded by `collect`) from the per-view features, with this weight on its squared error; a "
                "policy can read the estimate (rl --grm-features estimate); every episode must record it"})
    augment: str = field(default="strong-colour", metadata={
        "help": "image augmentation: none | basic (±4 px shifts, ±15% brightness) | colour (basic + ±5% per-channel "
                "gain) | strong (+ affine warp, colour, contrast) | strong-episode (strong, one draw per episode in a batch) | "
                "strong-colour (strong with wider light and colour gains and a random colour matrix) | strong-repaint "
                "(strong-colour + each hue recoloured on its own) | strong-grey (strong-colour + 30% of states in greyscale)"})
    shuffle_labels: bool = field(default=False, metadata={"help": "control experiment: permute progress labels within episodes"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})
    sampler_workers: int = field(default=-1, metadata={
        "help": "processes that sample pairs while the model trains (-1: 4 on a GPU, 0 on the CPU, where the "
                "step itself is the cost; 0: sample in the training process)"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    checkpoint_every: int = field(default=500, metadata={"help": "steps between checkpoints"})
    resume: bool = field(default=False, metadata={"help": "continue from out/last if it exists"})
    max_episodes: int = field(default=0, metadata={"help": "use at most this many episodes per dataset (0: all)"})
    camera_map: tuple[str, ...] = field(default=(), metadata={
        "help": "dataset_camera=model_camera pairs, e.g. cam_high=front,cam_left_wrist=wrist"})
    data_weights: tuple[str, ...] = field(default=(), metadata={
        "help": "sampling weight per --data, in order (default: every episode equally likely)"})

    def dataset_weights(self) -> tuple[float, ...]:
        try:
            weights = tuple(float(w) for w in self.data_weights)
        except ValueError as exc:
            raise ValueError(f"--data-weights must be numbers, got {list(self.data_weights)}") from exc
        if weights and len(weights) != len(self.data):
            raise ValueError(f"--data-weights has {len(weights)} values for {len(self.data)} datasets")
        return weights


@dataclass(frozen=True)
class Augmentation:
    """Per-state image augmentation: a random shift (replicate-pad then crop, DrQ) or, when `scale` or
    `rotate_deg` is set, a random affine warp (a camera moved a few centimetres); brightness gain;
    per-channel colour gain (lighting and object colours); contrast around each image's mean. With
    `per_episode` every state of one episode in a batch shares the draws, as a real camera move or
    lighting change holds for a whole episode: the pair (p, q) then differs only by what happened.
    `mix` adds a random 3x3 colour matrix (I + U(-mix, mix) per entry, one per state): hues move, not only
    channel gains, as when objects and the table are repainted or lit by coloured light.
    `flip` mirrors an image left-right with that probability, each camera of each state on its own
    draw: a task whose layout is drawn on either side (a bin left or right of the cube) then looks the
    same to the model from one demonstration as from its mirror image.
    `repaint` recolours each hue on its own (one draw per state): a pixel of hue h gets r * max(RGB) *
    saturation * d(h) added, d a random smooth per-channel function of hue (two harmonics, |d| <= 1.41). A green
    block and an orange peg then change colour independently of each other and of the grey arm, as when
    objects are repainted; a colour matrix moves every hue together.
    `grey` turns a state's images to luminance with that probability (SimCLR's random greyscale): the model
    must then tell a peg in its hole from one on the rim by shape and shading when the two share a colour."""

    shift_px: int = 4
    brightness: float = 0.15
    colour: float = 0.0
    contrast: float = 0.0
    scale: float = 0.0
    rotate_deg: float = 0.0
    flip: float = 0.0
    mix: float = 0.0
    repaint: float = 0.0
    grey: float = 0.0
    per_episode: bool = False


_STRONG = Augmentation(shift_px=6, brightness=0.45, colour=0.2, contrast=0.3, scale=0.08, rotate_deg=4.0)
_STRONG_COLOUR = replace(_STRONG, brightness=0.6, colour=0.4, mix=0.25)  # repainted scenes, coloured light
AUGMENTATIONS: dict[str, Augmentation | None] = {
    "none": None,
    "basic": Augmentation(),
    "colour": Augmentation(colour=0.05),  # adapt's default: one demo must not be memorised
    "strong": _STRONG,
    "strong-episode": replace(_STRONG, per_episode=True),
    "colour-mirror": Augmentation(colour=0.05, flip=0.5),  # adapt on a left/right-symmetric task
    "strong-colour": _STRONG_COLOUR,
    "strong-repaint": replace(_STRONG_COLOUR, repaint=0.5),  # + objects recoloured one by one
    "strong-grey": replace(_STRONG_COLOUR, grey=0.3),  # + no colour at all, sometimes
}


def _uniform(shape: tuple[int, ...], rng: torch.Generator, half_width: float, device: torch.device) -> torch.Tensor:
    """Random draws come from the CPU generator (same numbers on every device), then move to the images."""
    return ((torch.rand(shape, generator=rng) - 0.5) * 2 * half_width).to(device)


def _shift(x: torch.Tensor, rng: torch.Generator, pad: int, slot: torch.Tensor, slots: int) -> torch.Tensor:
    m, c, h, w = x.shape
    dev = x.device
    x = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (slots,), generator=rng).to(dev)[slot]
    dy = torch.randint(0, 2 * pad + 1, (slots,), generator=rng).to(dev)[slot]
    rows = (torch.arange(h, device=dev)[None, :] + dy[:, None])  # [M, H]
    cols = (torch.arange(w, device=dev)[None, :] + dx[:, None])
    return x[torch.arange(m, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
             rows[:, None, :, None], cols[:, None, None, :]]


def _affine(x: torch.Tensor, rng: torch.Generator, aug: Augmentation, slot: torch.Tensor, slots: int) -> torch.Tensor:
    m, _, h, w = x.shape
    angle = torch.deg2rad(_uniform((slots,), rng, aug.rotate_deg, x.device))[slot]
    zoom = 1.0 + _uniform((slots,), rng, aug.scale, x.device)[slot]
    shift = _uniform((slots, 2), rng, 2.0 * aug.shift_px / h, x.device)[slot]  # grid units: the image spans [-1, 1]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], -1), torch.stack([sin, cos, shift[:, 1]], -1)], 1)
    grid = F.affine_grid(theta, [m, x.shape[1], h, w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _repaint(x: torch.Tensor, coef: torch.Tensor, strength: float) -> torch.Tensor:
    """x [N, V, C, H, W] (RGB, 0..255); coef [N, C, 4]: cos h, sin h, cos 2h, sin 2h weights per channel."""
    r, g, b = x.clamp(min=0).unbind(2)
    top, low = torch.maximum(torch.maximum(r, g), b), torch.minimum(torch.minimum(r, g), b)
    hue = torch.atan2(math.sqrt(3.0) * (g - b), 2 * r - g - b)  # the hexagonal hue angle, [N, V, H, W]
    basis = torch.stack([hue.cos(), hue.sin(), (2 * hue).cos(), (2 * hue).sin()], -1)  # [N, V, H, W, 4]
    d = torch.einsum("nvhwk,nck->nvchw", basis, coef) / 2  # |d| <= sqrt 2: each harmonic's amplitude <= sqrt 2
    return x + strength * (top - low)[:, :, None] * d  # (max - min) = max * saturation: greys stay grey


def augment(frames: torch.Tensor, rng: torch.Generator, aug: Augmentation, episode: torch.Tensor | None = None) -> torch.Tensor:
    """Augment a batch of states [N, V, H, W, C] (uint8 in and out) on the frames' device: geometry per
    camera, photometry per state (one lighting for all of a state's cameras); with `aug.per_episode`,
    per camera and per `episode` id (one per state, 0..K-1) instead of per state."""
    n, v, h, w, c = frames.shape
    dev = frames.device
    group = episode.to(dev) if aug.per_episode and episode is not None else torch.arange(n, device=dev)
    k = int(group.max()) + 1 if n else 0
    slot = (group[:, None] * v + torch.arange(v, device=dev)[None, :]).flatten()  # image -> its draw
    x = frames.flatten(0, 1).permute(0, 3, 1, 2).float()
    x = (_affine(x, rng, aug, slot, k * v) if aug.scale > 0 or aug.rotate_deg > 0
         else _shift(x, rng, aug.shift_px, slot, k * v))
    x = x.view(n, v, c, h, w) * (1.0 + _uniform((k, 1, 1, 1, 1), rng, aug.brightness, dev)[group])
    if aug.colour > 0:
        x = x * (1.0 + _uniform((k, 1, c, 1, 1), rng, aug.colour, dev)[group])
    if aug.contrast > 0:
        mean = x.mean(dim=(2, 3, 4), keepdim=True)
        x = mean + (x - mean) * (1.0 + _uniform((k, v, 1, 1, 1), rng, aug.contrast, dev)[group])
    if aug.flip > 0:  # drawn last and only when set: the other presets' draws stay bit-identical
        mirror = (torch.rand(k * v, generator=rng) < aug.flip).to(dev)[slot].view(n, v, 1, 1, 1)
        x = torch.where(mirror, x.flip(-1), x)
    if aug.mix > 0:  # drawn after the others and only when set, like flip
        matrix = (torch.eye(c) + (torch.rand(k, c, c, generator=rng) - 0.5) * 2 * aug.mix).to(dev)[group]  # [N, C, C]
        x = torch.einsum("nij,nvjhw->nvihw", matrix, x)
    if aug.repaint > 0:  # drawn after mix and only when set, like flip and mix
        x = _repaint(x, (torch.rand(k, c, 4, generator=rng) * 2 - 1).to(dev)[group], aug.repaint)
    if aug.grey > 0:  # drawn last and only when set: the other presets keep their pixels
        grey = (torch.rand(k, generator=rng) < aug.grey).to(dev)[group].view(n, 1, 1, 1, 1)
        luminance = torch.einsum("c,nvchw->nvhw", torch.tensor([0.299, 0.587, 0.114], device=dev), x)[:, :, None]
        x = torch.where(grey, luminance.expand_as(x), x)
    return x.clamp(0, 255).to(torch.uint8).permute(0, 1, 3, 4, 2).contiguous()


def grm_loss(net: torch.nn.Module, batch: PairBatch, stage_weight: float,
             env_state_weight: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy on smoothed hop-bin targets + stage cross-entropy (+ the auxiliary head's squared error on the
    standardised environment state). `net` is the GRM or its DDP wrapper."""
    out, stage_logits, env = net(batch.frames, batch.view_mask, batch.p, batch.q, batch.start, batch.goal, batch.text,
                                 batch.stage_mask)
    hop_loss = -(batch.hop_target * out.logits.log_softmax(-1)).sum(-1).mean()
    stage_loss = F.cross_entropy(stage_logits, batch.stage)
    loss = hop_loss + stage_weight * stage_loss
    env_loss = None
    if env is not None and env_state_weight > 0:  # a model with the head, adapted on data without it: not trained
        model = getattr(net, "module", net)
        target = (batch.env_state - model.env_state_mean) / model.env_state_std
        env_loss = ((env.float() - target) ** 2).mean()
        loss = loss + env_state_weight * env_loss
    with torch.no_grad():
        metrics = {
            "loss": float(loss), "hop_ce": float(hop_loss), "stage_ce": float(stage_loss),
            "hop_mae": float((out.expected - batch.hop).abs().mean()),
            "stage_acc": float((stage_logits.argmax(-1) == batch.stage).float().mean()),
        }
        if env_loss is not None:
            metrics["env_state_mse"] = float(env_loss)
    return loss, metrics


def train_step(net: torch.nn.Module, batch: PairBatch, opt: torch.optim.Optimizer, gen: torch.Generator,
               stage_weight: float, aug: Augmentation | None, device: torch.device,
               env_state_weight: float = 0.0) -> dict[str, float]:
    """One optimizer step on one batch (bf16 autocast on GPU, gradient clipping at 1). The batch moves to
    the device before augmentation: on a GPU the image warps cost almost nothing there."""
    batch = batch.to(device)
    if aug is not None:
        batch = replace(batch, frames=augment(batch.frames, gen, aug, batch.episode))
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        loss, metrics = grm_loss(net, batch, stage_weight, env_state_weight)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
    opt.step()
    return metrics


def lr_scale(step: int, total: int) -> float:
    """Learning-rate factor: 100 warm-up steps, then cosine decay to 0 at `total` (continued across resumes)."""
    return min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(total, 1))))


def _shuffle_labels(bank: EpisodeBank, rng: np.random.Generator) -> None:
    for ep in bank.episodes:
        perm = rng.permutation(ep.length)
        ep.phi, ep.stage = ep.phi[perm], ep.stage[perm]


def sampler_workers(requested: int, device: torch.device) -> int:
    """Worker processes for the pair sampler: `requested`, or for -1 four on a GPU (where the single-threaded
    sampler takes much of each step) and none on the CPU (where it takes little and workers take the cores the
    step needs; docs/BENCHMARKS.md), never more than this process's share of the cores (torchrun's ranks on one node split them)
    leaves free."""
    if requested < -1:
        raise ValueError(f"--sampler-workers must be -1 (auto) or >= 0, got {requested}")
    if requested >= 0:
        return requested
    cores = len(os.sched_getaffinity(0)) // max(int(os.environ.get("LOCAL_WORLD_SIZE", "1")), 1)
    return min(4, max(cores - 1, 0)) if device.type == "cuda" else 0


def train(cfg: TrainConfig, progress: bool = True) -> dict:
    """Train (or resume) a GRM. Returns the final summary (also written to out/summary.json)."""
    if cfg.augment not in AUGMENTATIONS:
        raise ValueError(f"--augment {cfg.augment!r}: choose from {', '.join(AUGMENTATIONS)}")
    if cfg.env_state_weight < 0:
        raise ValueError(f"--env-state-weight must be >= 0, got {cfg.env_state_weight}")
    ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = int(os.environ.get("RANK", "0"))
    if ddp:
        import torch.distributed as dist

        backend = "nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo"
        dist.init_process_group(backend)
    device = resolve_device(cfg.device)
    if ddp and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    workers = sampler_workers(cfg.sampler_workers, device)
    torch.manual_seed(cfg.seed + rank)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    last = out / "last"

    weights = cfg.dataset_weights()
    cameras = cfg.cameras or dataset_cameras(cfg.data[0], parse_camera_map(cfg.camera_map))
    bank = EpisodeBank(list(cfg.data), cameras, cfg.label_scheme, progress=progress and rank == 0,
                       max_episodes=cfg.max_episodes or None, camera_map=parse_camera_map(cfg.camera_map),
                       image_size=cfg.image_size, outcome_from=cfg.outcome_from or None)
    if rank == 0 and progress:
        print(f"train-reward: cameras {list(cameras)}" + ("" if cfg.cameras else f" (from {cfg.data[0]})"))
        for root, source in bank.outcome_sources.items():
            counts = Counter(e.outcome for e in bank.episodes if e.dataset == root)
            print(f"train-reward: outcomes of {root}: {source} ({', '.join(f'{n} {o}' for o, n in sorted(counts.items()))})")
    if cfg.shuffle_labels:
        _shuffle_labels(bank, np.random.default_rng(cfg.seed))
    texts = [t.text for t in bank.tasks]
    tasks = TaskTable(texts, [t.subtasks for t in bank.tasks], embed_texts(texts),
                      [bank.goal_states(i) for i in range(len(texts))])
    env_dim = 0
    if cfg.env_state_weight > 0:
        missing = bank.env_state_missing()
        if missing:
            raise DatasetError(f"--env-state-weight needs observation.environment_state in every episode; "
                               f"{len(missing)} lack it: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        env_dim = bank.env_state_dim(strict=True)
    mcfg = ModelConfig(cameras=cameras, backbone=cfg.backbone, image_size=cfg.image_size, subtasks=tuple(bank.subtasks),
                       env_state_dim=env_dim)
    start_step = 0
    if cfg.resume and last.exists():
        model, _, meta = load_checkpoint(last, device)
        if tuple(model.cfg.subtasks) != mcfg.subtasks:
            raise ValueError(f"{last}: checkpoint subtasks {model.cfg.subtasks} differ from the data's {mcfg.subtasks}")
        start_step = int(meta["step"])
        model.train()
    else:
        model = GRM(mcfg).to(device)
        if env_dim:  # standardised targets: positions in metres and angles in radians weigh alike
            states = np.concatenate([e.env_state for e in bank.episodes])
            model.env_state_mean.copy_(torch.from_numpy(states.mean(0)))
            model.env_state_std.copy_(torch.from_numpy(np.maximum(states.std(0), 1e-3)))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    if start_step and (last / "optimizer.pt").exists():
        opt.load_state_dict(torch.load(last / "optimizer.pt", map_location=device))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: lr_scale(i + start_step, cfg.steps))
    net = model
    if ddp:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    sampler = PairSampler(bank, tasks.embeddings, SamplerConfig(batch_size=cfg.batch_size, hop_bins=mcfg.hop_bins,
                                                                      dataset_weights=weights),
                          seed=cfg.seed * 1000 + rank + start_step)
    batches = pair_batches(sampler, workers, pin_memory=device.type == "cuda")
    gen = torch.Generator().manual_seed(cfg.seed * 7919 + rank + start_step)
    writer = None
    if rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
        write_json(out / "run.json", run_record(cfg, parameters=count_parameters(model), subtasks=bank.subtasks,
                                                tasks=texts, episodes=len(bank.episodes), outcome_sources=bank.outcome_sources))
    extra = {"train": run_record(cfg)["config"], "outcome_sources": bank.outcome_sources}
    t0, samples, metrics = time.perf_counter(), 0, {}
    bar = tqdm(range(start_step, cfg.steps), desc="train-reward", disable=not progress or rank != 0,
               initial=start_step, total=cfg.steps)
    model.train()
    for step in bar:
        metrics = train_step(net, next(batches), opt, gen, cfg.stage_weight, AUGMENTATIONS[cfg.augment], device,
                             cfg.env_state_weight)
        sched.step()
        samples += cfg.batch_size
        if writer is not None and (step % 10 == 0 or step == cfg.steps - 1):
            for k, v in metrics.items():
                writer.add_scalar(f"train/{k}", v, step)
            bar.set_postfix(loss=f"{metrics['loss']:.3f}", hop_mae=f"{metrics['hop_mae']:.3f}")
        if rank == 0 and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps):
            save_checkpoint(last, model, tasks, {**extra, "step": step + 1}, opt)
    elapsed = time.perf_counter() - t0
    batches.close()
    summary = {"steps": cfg.steps, "final": metrics, "seconds": round(elapsed, 1),
               "samples_per_s": round(samples * (int(os.environ.get("WORLD_SIZE", "1"))) / max(elapsed, 1e-9), 1),
               "device": str(device), "sampler_workers": workers, "parameters": count_parameters(model)}
    if rank == 0:
        write_json(out / "summary.json", summary)
        if writer is not None:
            writer.close()
    if ddp:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return summary
