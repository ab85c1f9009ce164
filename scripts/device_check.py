"""GPU check for the GRM (run through the device tool; `--device cpu` for a dry run here):
streaming fused-step latency at batch 1 (three 96 px cameras) in fp32 and bf16, and training
throughput (samples/s) on synthetic batches. Needs only torch + robo_reward.reward (no dataset).

  python scripts/device_check.py --device cuda --out $OUT/device_check.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robo_reward.reward.bench import LatencyConfig, streaming_latency, training_throughput  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    device = torch.device(args.device)
    res: dict = {"torch": torch.__version__, "latency": [], "throughput": []}
    for size in (64, 96):
        for bf16 in (False, True):
            res["latency"].append(streaming_latency(LatencyConfig(args.device, None, size, args.steps, bf16)))
            print(json.dumps(res["latency"][-1]), flush=True)
    for batch in (32, 256):
        for bf16 in (False, True):
            res["throughput"].append(training_throughput(device, batch, 64, bf16, max(10, args.steps // 10)))
            print(json.dumps(res["throughput"][-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
