"""Fusion variants replayed offline: each dataset is scored once (the three perspectives per frame),
then every fusion rule is applied to the same curves and judged with the same metrics as
eval-reward (completion accuracy, AUROC). Separates what the fusion rule does from what the model
reads, at the cost of one scoring pass per dataset.

  .venv/bin/python scripts/fusion_sweep.py --model runs/bench_grm_v2/grm_multiview/last \
      --data runs/bench_grm_v2/data/pick-place-test --data runs/bench_grm_v2/data/drawer-stow-shift --out runs/fusion_sweep.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.config import git_revision, write_json  # noqa: E402
from robo_reward.reward.evaluate import episode_row, score_dataset, summarize  # noqa: E402
from robo_reward.reward.infer import fuse  # noqa: E402

# name -> (fusion, eps, capped); `capped` also never lets Φ* exceed the higher anchored estimate (a candidate
# against a fooled anchor holding Φ* high while the other reads ~0; not a library option)
VARIANTS = {"mean": ("mean", 0.0, False),
            **{f"consistency_eps{e:g}": ("consistency", e, False) for e in (1e-3, 0.05, 0.1, 0.2, 0.5)},
            "consistency_eps0.1_capped": ("consistency", 0.1, True)}


def fused_variant(name: str, phi_i: np.ndarray, phi_f: np.ndarray, phi_b: np.ndarray) -> np.ndarray:
    fusion, eps, capped = VARIANTS[name]
    fused = fuse(phi_i, phi_f, phi_b, fusion, eps)
    return np.minimum(fused, np.maximum(np.clip(phi_f, 0, 1), np.clip(phi_b, 0, 1))) if capped else fused


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", type=Path, action="append", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    result = {"git_revision": git_revision(), "command": " ".join(sys.argv), "model": str(args.model), "sets": {}}
    for data in args.data:
        rows: dict[str, list[dict]] = {name: [] for name in VARIANTS}
        for ep_idx, ep, pr, info in score_dataset(args.model, data, args.device, progress=False):
            names = list(info.subtasks)
            base = {"incremental": pr.incremental, "forward": pr.forward, "backward": pr.backward}
            for name in VARIANTS:
                rows[name].append(episode_row(ep_idx, ep, {**base, "fused": fused_variant(name, pr.incremental, pr.forward, pr.backward)}, names))
        summary = {name: summarize(r) for name, r in rows.items()}
        result["sets"][str(data)] = {
            # the three perspectives are the same curves under every variant: read them from any one
            "perspectives": {p: round(summary["mean"][p]["completion_accuracy"], 3) for p in ("incremental", "forward", "backward")},
            "fused": {name: {"completion_accuracy": round(s["completion_accuracy"], 3), "auroc": s["auroc"] and round(s["auroc"], 3)}
                      for name, s in summary.items()},
        }
        print(data, json.dumps(result["sets"][str(data)]), flush=True)
        write_json(args.out, result)


if __name__ == "__main__":
    main()
