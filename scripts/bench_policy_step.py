"""Per-step cost of the SAC learner on each policy input: one RLPD update (batch 256, five frozen clones, a
0.05 residual: the recipe), one clone-training step (all five clones, and the encoder with them) and one action, for the vector inputs (robot state +
GRM per-view features) and for camera frames through the policy's own encoder at several sizes.

    .venv/bin/python scripts/bench_policy_step.py --out docs/results/policy_step_cpu.json [--device cuda]

Synthetic rows (random frames and vectors): the cost does not depend on the values. Threads: torch's default
(all cores) unless --threads."""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from robo_reward.rl.replay import ReplayBuffer, sample_mixed
from robo_reward.rl.sac import SAC, SACConfig

STATE_DIM, GRM_DIM, ACT_DIM, ROWS = 11, 3 * 128, 4, 2000


def timed(fn, repeats: int, device: torch.device) -> float:
    """Median milliseconds of `fn` over `repeats` calls after two warm-up calls."""
    times = []
    for i in range(repeats + 2):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= 2:
            times.append(1e3 * (time.perf_counter() - t))
    return float(np.median(times))


def measure(obs_dim: int, pixel_shape: tuple[int, ...] | None, batch: int, device: torch.device, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    sac = SAC(obs_dim, ACT_DIM, SACConfig(init_alpha=0.01, max_std=0.5, residual=0.05, bc_ensemble=5), device, 0, pixel_shape)
    buf = ReplayBuffer(ROWS, obs_dim, ACT_DIM, pixel_shape)
    for _ in range(ROWS):
        px = None if pixel_shape is None else rng.integers(0, 256, (2, *pixel_shape), dtype=np.uint8)
        buf.add(rng.normal(size=obs_dim), rng.uniform(-1, 1, ACT_DIM), 0.0, rng.normal(size=obs_dim), False,
                pixels=None if px is None else px[0], next_pixels=None if px is None else px[1])
    pixels = None if pixel_shape is None else buf.pixels[:ROWS]

    def clone(steps: int) -> None:  # also builds the clones and scores every row once: differenced out below
        sac.pretrain_bc(buf.obs[:ROWS], buf.action[:ROWS], steps, batch, pixels)

    bc_ms = (timed(lambda: clone(1 + repeats), 1, device) - timed(lambda: clone(1), 1, device)) / repeats
    sac.freeze_bc_actor()
    update_ms = timed(lambda: sac.update(sample_mixed(buf, None, batch, rng, device)), repeats, device)
    one = None if pixel_shape is None else buf.pixels[0]
    act_ms = timed(lambda: sac.act(buf.obs[0], pixels=one), 5 * repeats, device)
    return {"bc_step_ms": round(bc_ms, 1), "update_ms": round(update_ms, 1), "act_ms": round(act_ms, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    inputs = {"state+grm (views)": (STATE_DIM + GRM_DIM, None)}
    for views, size in ((2, 32), (3, 32), (3, 64)):
        inputs[f"state+images, {views} cameras at {size} px"] = (STATE_DIM, (views, size, size, 3))
    rows = {}
    for name, (dim, shape) in inputs.items():
        rows[name] = measure(dim, shape, args.batch, device, args.repeats)
        print(name, rows[name], flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"device": name, "threads": torch.get_num_threads(), "batch": args.batch,
                                    "torch": torch.__version__, "inputs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
