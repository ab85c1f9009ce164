"""GPU check for the GRM (run through the device tool; `--device cpu --tiny` for a dry run here):
streaming fused-step latency at batch 1 (three 96 px cameras) in fp32/bf16, eager and as one CUDA
graph, and with a compiled encoder; training throughput (samples/s) on synthetic device-resident
batches and through train-reward's own pipeline (CPU pair sampler in-process or in worker processes,
copy, augmentation on the device, optimiser step); then the side-by-side peer benchmark (ours vs LeRobot SARM vs GRM-3B
architecture) in fp32 and bf16. Needs torch, transformers and lerobot (no dataset, no simulator).

  python scripts/device_check.py --device cuda --out $OUT [--skip latency,peers]
writes device_check.json, bench_peers_gpu_fp32.{json,png}, bench_peers_gpu_bf16.{json,png}
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robo_reward.config import write_json  # noqa: E402
from robo_reward.bench.reward import (  # noqa: E402
    LatencyConfig,
    pipeline_throughput,
    streaming_latency,
    synthetic_bank,
    training_throughput,
)
from robo_reward.bench.peers import PeersConfig, bench_peers  # noqa: E402

SECTIONS = ("latency", "throughput", "pipeline", "peers")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--tiny", action="store_true", help="tiny peers, few steps: a dry run of the script")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile row (tens of seconds)")
    ap.add_argument("--sampler-workers", default="0,2,4,8",
                    help="pipeline section: sampler worker processes to compare (comma-separated; 0 = in-process)")
    ap.add_argument("--skip", default="", help=f"comma-separated sections to leave out: {','.join(SECTIONS)}")
    args = ap.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    try:
        workers = [int(w) for w in args.sampler_workers.split(",")]
    except ValueError:
        ap.error(f"--sampler-workers must be comma-separated integers, got {args.sampler_workers!r}")
    if skip - set(SECTIONS):
        ap.error(f"--skip {args.skip}: sections are {','.join(SECTIONS)}")
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    args.out.mkdir(parents=True, exist_ok=True)
    res: dict = {"torch": torch.__version__, "device": torch.cuda.get_device_name() if cuda else "cpu",
                 "latency": [], "throughput": [], "pipeline": [], "peers": {}, "errors": []}

    def attempt(what: str, fn) -> None:
        """Run one section; a failure is recorded (and fails the script) without losing the others."""
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - recorded in the output and in the exit status
            traceback.print_exc()
            res["errors"].append(f"{what}: {type(exc).__name__}: {exc}")

    steps = 20 if args.tiny else args.steps
    variants = [dict(bf16=b, cuda_graph=g) for b in (False, True) for g in ((False, True) if cuda else (False,))]
    if "latency" in skip:
        variants = []
    elif not args.no_compile:
        variants.append(dict(bf16=False, compile=True))
    for v in variants:
        def latency(v=v):
            res["latency"].append(streaming_latency(LatencyConfig(device=args.device, steps=steps, **v)))
            print(json.dumps(res["latency"][-1]), flush=True)
        attempt(f"latency {v}", latency)
    for batch in () if "throughput" in skip else (8,) if args.tiny else (32, 256):
        for bf16 in (False, True):
            def throughput(batch=batch, bf16=bf16):
                res["throughput"].append(training_throughput(device, batch, 96, bf16, 5 if args.tiny else 30))
                print(json.dumps(res["throughput"][-1]), flush=True)
            attempt(f"throughput batch {batch} bf16 {bf16}", throughput)
    bank = None if "pipeline" in skip else synthetic_bank(episodes=4 if args.tiny else 24, length=40 if args.tiny else 100)
    for batch in () if bank is None else (8,) if args.tiny else (32, 128, 256):
        for n in workers:
            def pipeline(batch=batch, n=n):
                res["pipeline"].append(pipeline_throughput(device, batch, "device", 3 if args.tiny else 40, bank, n))
                print(json.dumps(res["pipeline"][-1]), flush=True)
            attempt(f"pipeline batch {batch} sampler workers {n}", pipeline)
    for bf16 in () if "peers" in skip else (False, True):
        name = f"bench_peers_gpu_{'bf16' if bf16 else 'fp32'}"
        cfg = PeersConfig(device=args.device, bf16=bf16, cuda_graph=cuda, tiny=args.tiny, out=args.out / name,
                          steps=3 if args.tiny else 30, batch=4 if args.tiny else 64)

        def peers(name=name, cfg=cfg):
            result = bench_peers(cfg)
            res["peers"][name] = result
            for e in result["entries"]:
                print(name, e["name"], e.get("step", e.get("skipped")), flush=True)
        attempt(name, peers)
    write_json(args.out / "device_check.json", res)
    print("\n".join(["errors:"] + res["errors"]) if res["errors"] else "all sections ran")
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
