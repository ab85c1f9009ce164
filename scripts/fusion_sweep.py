"""Fusion variants replayed offline: each dataset is scored once (the three perspectives per frame),
then every fusion rule is applied to the same curves and judged with the same metrics as
eval-reward (completion accuracy, AUROC), plus how many failed episodes the rule lets touch the
model's success line (Φ* >= 1 - δ at any frame, what the RL loop counts as reward hacking). Separates
what the fusion rule does from what the model reads, at the cost of one scoring pass per dataset.

  .venv/bin/python scripts/fusion_sweep.py --model runs/bench_grm_v2/grm_multiview/last \
      --data runs/bench_grm_v2/data/pick-place-test --data runs/bench_grm_v2/data/drawer-stow-shift --out runs/fusion_sweep.json

`--kalman-grid` adds the Kalman settings the default was chosen from (process noise × anchor floor × step gain).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.config import git_revision, write_json  # noqa: E402
from robo_reward.reward.evaluate import episode_row, score_dataset, summarize  # noqa: E402
from robo_reward.reward.infer import KalmanParams, Progress, fuse  # noqa: E402
from robo_reward.shaping import DEFAULT_DELTA  # noqa: E402


@dataclass(frozen=True)
class Variant:
    fusion: str
    eps: float = 0.1
    # also never let Φ* exceed the higher anchored estimate (a candidate against a fooled anchor holding Φ* high
    # while the other reads ~0; not a library option)
    capped: bool = False
    kalman: KalmanParams = KalmanParams()


VARIANTS = {"kalman": Variant("kalman"), "mean": Variant("mean"),
            **{f"consistency_eps{e:g}": Variant("consistency", e) for e in (1e-3, 0.05, 0.1, 0.2, 0.5)},
            "consistency_eps0.1_capped": Variant("consistency", 0.1, True)}
KALMAN_GRID = {f"kalman_q{q:g}_r{r:g}_g{g:g}": Variant("kalman", kalman=KalmanParams(q, r, g))
               for q, r, g in itertools.product((5e-5, 1e-4, 2e-4), (0.005, 0.01, 0.02), (0.85, 0.9, 0.95, 1.0))}


def fused_variant(v: Variant, pr: Progress) -> np.ndarray:
    fused = fuse(pr.incremental, pr.forward, pr.backward, v.fusion, v.eps, std_f=pr.spread[1], std_b=pr.spread[2],
                 kalman=v.kalman)
    return np.minimum(fused, np.maximum(np.clip(pr.forward, 0, 1), np.clip(pr.backward, 0, 1))) if v.capped else fused


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", type=Path, action="append", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--kalman-grid", action="store_true", help="also replay the grid of Kalman settings")
    args = ap.parse_args()
    variants = {**VARIANTS, **(KALMAN_GRID if args.kalman_grid else {})}
    result = {"git_revision": git_revision(), "command": " ".join(sys.argv), "model": str(args.model), "sets": {}}
    for data in args.data:
        rows: dict[str, list[dict]] = {name: [] for name in variants}
        touched = dict.fromkeys(variants, 0)
        for ep_idx, ep, pr, info in score_dataset(args.model, data, args.device, progress=False):
            names = list(info.subtasks)
            base = {"incremental": pr.incremental, "forward": pr.forward, "backward": pr.backward}
            for name, v in variants.items():
                fused = fused_variant(v, pr)
                rows[name].append(episode_row(ep_idx, ep, {**base, "fused": fused}, names))
                touched[name] += int(ep.outcome != "success" and fused.max() >= 1.0 - DEFAULT_DELTA)
        summary = {name: summarize(r) for name, r in rows.items()}
        persp = summary["mean"]  # the three perspectives are the same curves under every variant
        result["sets"][str(data)] = {
            "perspectives": {p: {"completion_accuracy": round(persp[p]["completion_accuracy"], 3),
                                 "auroc": persp[p]["auroc"] and round(persp[p]["auroc"], 3)}
                             for p in ("incremental", "forward", "backward")},
            "fused": {name: {"completion_accuracy": round(s["completion_accuracy"], 3), "auroc": s["auroc"] and round(s["auroc"], 3),
                             "imposter_scored_not_success": s.get("imposter_scored_not_success"),
                             "failed_episodes_touching_success": touched[name]}
                      for name, s in summary.items()},
        }
        print(data, json.dumps(result["sets"][str(data)]["fused"]["kalman"]), flush=True)
        write_json(args.out, result)


if __name__ == "__main__":
    main()
