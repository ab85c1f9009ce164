"""GPU check for the GRM (run through the device tool; also runs on CPU for a dry run):
streaming fused-step latency at batch 1 (three 96 px cameras) in fp32 and bf16, and training
throughput (samples/s) on synthetic batches. Needs only torch + robo_reward.reward (no dataset).

  python scripts/device_check.py --device cuda --out $OUT/device_check.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robo_reward.reward.checkpoint import TaskTable  # noqa: E402
from robo_reward.reward.infer import Scorer, StreamingScorer  # noqa: E402
from robo_reward.reward.model import GRM, ModelConfig, count_parameters  # noqa: E402

CAMS = ("front", "side", "wrist")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def latency(device: torch.device, image_size: int, bf16: bool, steps: int) -> dict:
    torch.manual_seed(0)
    model = GRM(ModelConfig(cameras=CAMS, image_size=image_size, subtasks=("reach", "grasp", "lift", "place"))).to(device)
    rng = np.random.default_rng(0)
    tasks = TaskTable(["task"], [("reach", "grasp", "lift", "place")], rng.normal(size=(1, 384)).astype(np.float32),
                      [rng.integers(0, 256, (4, 3, 96, 96, 3), dtype=np.uint8)])
    stream = StreamingScorer(Scorer(model, tasks, device), "task")
    frames = [{c: rng.integers(0, 256, (96, 96, 3), dtype=np.uint8) for c in CAMS} for _ in range(16)]
    times = []
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(steps + 30):
            sync(device)
            t0 = time.perf_counter()
            stream.step(frames[i % 16])
            sync(device)
            if i >= 30:
                times.append((time.perf_counter() - t0) * 1e3)
    return {"image_size": image_size, "bf16": bf16, "fused_step_ms_median": float(np.median(times)),
            "fused_step_ms_p90": float(np.percentile(times, 90)), "parameters": count_parameters(model)}


def throughput(device: torch.device, batch: int, image_size: int, bf16: bool, steps: int) -> dict:
    torch.manual_seed(0)
    model = GRM(ModelConfig(cameras=CAMS, image_size=image_size, subtasks=("a", "b", "c", "d"))).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    u = 3 * batch  # unique states per batch, as the sampler produces (p, q, shared references)
    frames = torch.randint(0, 256, (u, 3, image_size, image_size, 3), dtype=torch.uint8, device=device)
    idx = lambda: torch.randint(0, u, (batch,), device=device)  # noqa: E731
    text = torch.randn(batch, 384, device=device)
    mask = torch.ones(batch, 4, dtype=torch.bool, device=device)
    vmask = torch.ones(u, 3, dtype=torch.bool, device=device)
    target = torch.softmax(torch.randn(batch, 25, device=device), -1)
    stage = torch.randint(0, 4, (batch,), device=device)
    times = []
    for i in range(steps + 5):
        sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            hop, stage_logits = model(frames, vmask, idx(), idx(), idx(), idx(), text, mask)
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    device = torch.device(args.device)
    res: dict = {"torch": torch.__version__, "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
                 "latency": [], "throughput": []}
    for size in (64, 96):
        for bf16 in (False, True):
            res["latency"].append(latency(device, size, bf16, args.steps))
            print(json.dumps(res["latency"][-1]), flush=True)
    for batch in (32, 256):
        for bf16 in (False, True):
            res["throughput"].append(throughput(device, batch, 64, bf16, max(10, args.steps // 10)))
            print(json.dumps(res["throughput"][-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
