"""How well a GRM's environment-state head (`train-reward --env-state-weight`) reads where things are: the absolute
error of its estimate (`rl --grm-features estimate`) against each frame's recorded observation.environment_state, per
entry in the recorded units (metres; pick-place: cube x, y, z, bin x, y, z, grasped), mean and 90th percentile, over
every frame of a dataset the model never trained on, and per outcome.

    .venv/bin/python scripts/env_state_error.py --model runs/est/grm/last --data runs/pick/test_data --out err.json"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from robo_reward.config import git_revision, write_json
from robo_reward.data.lerobot_io import load_episode, read_info
from robo_reward.reward.checkpoint import load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    model, _, _ = load_checkpoint(args.model)
    if not model.cfg.env_state_dim:
        raise SystemExit(f"{args.model} has no environment-state head (train-reward --env-state-weight)")
    errors: dict[str, list[np.ndarray]] = {}
    for ann in tqdm(read_info(args.data).episodes, desc="estimate", unit="ep"):
        ep = load_episode(args.data, ann.episode_index)
        if ep.env_state is None:
            raise SystemExit(f"{args.data}: episode {ann.episode_index} records no observation.environment_state")
        frames = torch.from_numpy(np.stack([ep.images[c] for c in model.cfg.cameras], axis=1))
        with torch.no_grad():
            estimate = model.env_state(model.encode_views(frames)).numpy()
        errors.setdefault(ann.outcome, []).append(np.abs(estimate - ep.env_state))
    every = np.concatenate([e for v in errors.values() for e in v])
    result = {"git_revision": git_revision(), "model": str(args.model), "data": str(args.data), "frames": len(every),
              "mae": every.mean(0).round(4).tolist(), "p90": np.percentile(every, 90, axis=0).round(4).tolist(),
              "mae_by_outcome": {k: np.concatenate(v).mean(0).round(4).tolist() for k, v in errors.items()}}
    print(result)
    write_json(args.out, result)


if __name__ == "__main__":
    main()
