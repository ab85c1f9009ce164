"""Reward-model timing: streaming fused-step latency at batch 1 and training throughput, on random
weights (timing does not depend on them) or a given checkpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from robo_reward.reward.bank import EpisodeBank, PairSampler, SamplerConfig, pair_batches
from robo_reward.reward.checkpoint import TaskTable, load_checkpoint
from robo_reward.reward.infer import Scorer, StreamingScorer
from robo_reward.reward.labels import subtask_shares
from robo_reward.reward.model import GRM, ModelConfig, count_parameters
from robo_reward.reward.train import AUGMENTATIONS, augment, train_step
from robo_reward.types import Episode, SubtaskSpan

CAMS = ("front", "side", "wrist")


@dataclass(frozen=True)
class LatencyConfig:
    device: str = field(default="cpu", metadata={"help": "cpu | cuda"})
    model: Path | None = field(default=None, metadata={"help": "checkpoint to time (default: random-initialised default GRM)"})
    image_size: int = field(default=96, metadata={"help": "camera frame size fed to the scorer"})
    steps: int = field(default=200, metadata={"help": "timed steps (after 30 warm-up steps)"})
    bf16: bool = field(default=False, metadata={"help": "bf16 autocast"})
    compile: bool = field(default=False, metadata={"help": "torch.compile the image encoder (tens of seconds to compile)"})
    cuda_graph: bool = field(default=False, metadata={"help": "replay the step as one CUDA graph (CUDA only)"})


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a host clock measures it (no-op on a CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def streaming_latency(cfg: LatencyConfig) -> dict:
    device = torch.device(cfg.device)
    rng = np.random.default_rng(0)
    if cfg.model is not None:
        model, tasks, _ = load_checkpoint(cfg.model, device)
        weights = str(cfg.model)
    else:
        torch.manual_seed(0)
        model = GRM(ModelConfig(cameras=CAMS, image_size=cfg.image_size, subtasks=("reach", "grasp", "lift", "place"))).to(device)
        tasks = TaskTable(["task"], [("reach", "grasp", "lift", "place")], rng.normal(size=(1, 384)).astype(np.float32),
                          [rng.integers(0, 256, (4, 3, cfg.image_size, cfg.image_size, 3), dtype=np.uint8)])
        weights = "random init (timing only)"
    cams = model.cfg.cameras
    if cfg.compile:  # the encoder is where the time goes; the heads are a few small matmuls
        model.encode = torch.compile(model.encode)
    stream = StreamingScorer(Scorer(model.eval(), tasks, device), tasks.texts[0], cuda_graph=cfg.cuda_graph)
    frames = [{c: rng.integers(0, 256, (cfg.image_size, cfg.image_size, 3), dtype=np.uint8) for c in cams} for _ in range(16)]
    times = []
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        for i in range(cfg.steps + 30):
            sync(device)
            t0 = time.perf_counter()
            stream.step(frames[i % 16])
            sync(device)
            if i >= 30:
                times.append((time.perf_counter() - t0) * 1e3)
    return {"device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
            "weights": weights, "cameras": len(cams), "frame_size": cfg.image_size, "model_input": model.cfg.image_size,
            "bf16": cfg.bf16, "compiled": cfg.compile, "cuda_graph": cfg.cuda_graph, "batch": 1, "fused_step_ms_median": float(np.median(times)),
            "fused_step_ms_p90": float(np.percentile(times, 90)), "parameters": count_parameters(model)}


def training_throughput(device: torch.device, batch: int, image_size: int, bf16: bool, steps: int) -> dict:
    """GRM optimisation steps on synthetic device-resident batches (3 unique states per pair)."""
    torch.manual_seed(0)
    model = GRM(ModelConfig(cameras=CAMS, image_size=image_size, subtasks=("a", "b", "c", "d"))).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    u = 3 * batch
    frames = torch.randint(0, 256, (u, 3, image_size, image_size, 3), dtype=torch.uint8, device=device)
    text = torch.randn(batch, 384, device=device)
    mask = torch.ones(batch, 4, dtype=torch.bool, device=device)
    vmask = torch.ones(u, 3, dtype=torch.bool, device=device)
    target = torch.softmax(torch.randn(batch, 25, device=device), -1)
    stage = torch.randint(0, 4, (batch,), device=device)
    times = []
    for i in range(steps + 5):
        idx = [torch.randint(0, u, (batch,), device=device) for _ in range(4)]
        sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            hop, stage_logits, _ = model(frames, vmask, *idx, text, mask)
            loss = -(target * hop.logits.float().log_softmax(-1)).sum(-1).mean() + \
                torch.nn.functional.cross_entropy(stage_logits.float(), stage)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(device)
        if i >= 5:
            times.append(time.perf_counter() - t0)
    return {"batch": batch, "image_size": image_size, "bf16": bf16, "step_ms": float(np.median(times) * 1e3),
            "samples_per_s": float(batch / np.median(times))}


def synthetic_bank(episodes: int = 24, length: int = 100, image_size: int = 96) -> EpisodeBank:
    """An in-memory bank of random-pixel episodes with four equal subtasks (timing only: the cost of
    sampling, augmenting and training does not depend on what the pixels show)."""
    rng = np.random.default_rng(0)
    names = ("reach", "grasp", "lift", "place")
    bank = EpisodeBank([], CAMS)
    q = length // 4
    for i in range(episodes):
        images = {c: rng.integers(0, 256, (length, image_size, image_size, 3), dtype=np.uint8) for c in CAMS}
        spans = tuple(SubtaskSpan(n, k * q, (k + 1) * q - 1 if k < 3 else length - 1) for k, n in enumerate(names))
        ep = Episode("synthetic", "synthetic task", images, np.zeros((length, 4), np.float32),
                     np.zeros((length, 4), np.float32), spans, "success", "expert", i, 10.0)
        bank.add_episode(ep, "synthetic", i, names, subtask_shares(names, "equal"))
    return bank


def pipeline_throughput(device: torch.device, batch: int, augment_on: str, steps: int, bank: EpisodeBank | None = None,
                        workers: int = 0) -> dict:
    """What `train-reward` really does per step, timed: the CPU pair sampler (in this process, or in
    `workers` processes as `--sampler-workers` runs it), the host-to-device copy, the `basic`
    augmentation (on the device, as training does, or on the CPU before the copy, as it did before) and
    one optimiser step. `sample_ms` is the wait for the next batch (all of the sampling when in-process)."""
    if augment_on not in ("device", "cpu"):
        raise ValueError(f"augment_on must be 'device' or 'cpu', got {augment_on!r}")
    bank = bank or synthetic_bank()
    torch.manual_seed(0)
    model = GRM(ModelConfig(cameras=CAMS, image_size=64, subtasks=tuple(bank.subtasks))).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    text = np.random.default_rng(0).normal(size=(len(bank.tasks), 384)).astype(np.float32)
    sampler = PairSampler(bank, text, SamplerConfig(batch_size=batch, hop_bins=model.cfg.hop_bins), seed=0)
    batches = pair_batches(sampler, workers, pin_memory=device.type == "cuda")
    gen, aug = torch.Generator().manual_seed(0), AUGMENTATIONS["basic"]
    times, sample_times = [], []
    for i in range(steps + 5):
        sync(device)
        t0 = time.perf_counter()
        pairs = next(batches)
        t1 = time.perf_counter()
        if augment_on == "cpu":
            pairs.frames = augment(pairs.frames, gen, aug)
        train_step(model, pairs, opt, gen, 0.5, aug if augment_on == "device" else None, device)
        sync(device)
        if i >= 5:
            times.append(time.perf_counter() - t0)
            sample_times.append(t1 - t0)
    step = float(np.median(times))
    batches.close()  # stops the workers
    return {"batch": batch, "augment_on": augment_on, "workers": workers, "model_input": 64, "frame_size": int(bank.episodes[0].frames.shape[2]),
            "step_ms": step * 1e3, "sample_ms": float(np.median(sample_times) * 1e3), "samples_per_s": batch / step}
